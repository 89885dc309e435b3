"""librdkafka's log lines go through Python logging, to a logger named for the table, at most MAX_LINES per
WINDOW_S per table; the next window says how many were dropped.

The routing tests use a real librdkafka client pointed at a closed loopback port (connection refused is
what an outage looks like to it); no broker is needed for that, so these stay unit tests."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, TopicPartition

from ingestd.config import parse_schema, parse_table_config
from ingestd.devtools.local_broker import free_port
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs
from ingestd.ingest.table_spec import TableSpec
from ingestd.stream.kafka import _client_config
from ingestd.stream.kafka_logging import LOGGER_PREFIX, MAX_LINES, RateLimitFilter, client_logger
from ingestd.stream.spi import StartPosition


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@pytest.fixture
def limited() -> Iterator[tuple[logging.Logger, Collect, Clock]]:
    logger = logging.getLogger("test.kafka_logging.limited")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    clock = Clock()
    logger.addFilter(RateLimitFilter(logger, max_lines=3, window_s=10.0, clock=clock))
    collect = Collect()
    logger.addHandler(collect)
    yield logger, collect, clock
    logger.filters.clear()
    logger.removeHandler(collect)


def test_at_most_n_lines_per_window_then_one_line_says_how_many_were_dropped(
    limited: tuple[logging.Logger, Collect, Clock],
) -> None:
    logger, collect, clock = limited
    for i in range(10):
        logger.error("connect failed %d", i)
    assert collect.messages()[:2] == ["connect failed 0", "connect failed 1"]
    assert collect.messages()[2].startswith(
        "connect failed 2 [more librdkafka lines of this table are suppressed")
    assert len(collect.records) == 3
    clock.now += 10.0
    logger.error("connect failed again")
    assert collect.messages()[3] == (
        "suppressed 7 librdkafka log line(s) in the last 10 s (at most 3 per 10 s are logged)")
    assert collect.records[3].levelno == logging.WARNING
    assert collect.messages()[4] == "connect failed again"


def test_a_quiet_window_says_nothing_about_suppression(
    limited: tuple[logging.Logger, Collect, Clock],
) -> None:
    logger, collect, clock = limited
    logger.info("one")
    clock.now += 60
    logger.info("two")
    assert collect.messages() == ["one", "two"]


def test_each_table_has_its_own_logger_and_budget() -> None:
    first, second = client_logger("ingestd-orders"), client_logger("ingestd-clicks")
    assert first.name == f"{LOGGER_PREFIX}.orders" and second.name == f"{LOGGER_PREFIX}.clicks"
    assert client_logger("ingestd-orders") is first
    assert sum(isinstance(f, RateLimitFilter) for f in first.filters) == 1  # asked twice, filtered once
    assert first.filters[0] is not second.filters[0]


def test_a_tables_clients_get_its_logger_after_the_property_policy() -> None:
    schema, table = seed_configs("routed", **{"stream.kafka.broker.list": f"127.0.0.1:{free_port()}"})
    config = parse_table_config(table, {"routed": parse_schema(schema)})
    factory = TableSpec(config, parse_schema(schema), "uid").consumer_factory()
    consumer = factory.partition_consumer(0, StartPosition(None, config.stream.offset_reset))
    consumer.close()
    factory.metadata_provider().close()
    assert _client_config(config.stream, "ingestd-routed")["logger"].name == f"{LOGGER_PREFIX}.routed"


def test_librdkafka_lines_of_an_unreachable_broker_arrive_through_the_tables_logger_limited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=f"{LOGGER_PREFIX}.outage")
    consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{free_port()}", "group.id": "g",
                         "reconnect.backoff.ms": 1, "reconnect.backoff.max.ms": 10,
                         "logger": client_logger("ingestd-outage")})
    consumer.assign([TopicPartition("t", 0, 0)])
    started = time.monotonic()

    def limited_after_the_budget() -> bool:
        consumer.consume(100, 0.1)  # log lines are handed over while the client is polled
        return any("more librdkafka lines of this table are suppressed" in record.getMessage()
                   for record in caplog.records)

    try:
        wait_until(limited_after_the_budget, timeout_s=8, what="the rate limit to cut in")
        for _ in range(20):
            consumer.consume(100, 0.05)
    finally:
        consumer.close()
    lines = [r for r in caplog.records if r.name == f"{LOGGER_PREFIX}.outage"]
    assert "Connection refused" in lines[0].getMessage()
    if time.monotonic() - started < 10:  # all in one window
        assert len(lines) == MAX_LINES
