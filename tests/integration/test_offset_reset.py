"""A checkpoint the stream no longer has, through real Kafka clients: the reset is applied, reported
(status, one ERROR line) and committed, so a restart resumes after it.

* librdkafka's built-in mock cluster answers a fetch outside the log with OFFSET_OUT_OF_RANGE, as Kafka
  does: the consumer follows auto.offset.reset on its own and the ingestor sees the jump in the batch.
  It supports neither DeleteRecords nor topic re-creation, so the checkpoint (offset 300) is written by
  a first run over an in-memory stream; the Kafka topic then holds only 50 messages, as after the topic
  was re-created.
* Tansu (the suite's broker) never answers OFFSET_OUT_OF_RANGE and keeps nothing across a restart: a
  consumer past the end of its re-created topic just gets nothing. Only the ingestor's idle probe finds
  that, and Tansu's ListOffsets under-reports the end (base offset of the last record batch + 1), so
  the probe must confirm by reading before it resets anything (shared/testing.md)."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from ingestd.config import parse_schema, parse_table_config
from ingestd.config.table import OffsetReset
from ingestd.decode.json_decoder import JsonDecoder
from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.devtools.server_process import IngestdServer
from ingestd.ingest import continuity
from ingestd.ingest.partition import PartitionIngestor
from ingestd.ingest.table_spec import TableSpec
from ingestd.paths import PartitionPaths
from ingestd.stream.kafka import KafkaPartitionConsumer
from ingestd.stream.spi import PartitionBounds, StartPosition
from tests.support.memory_stream import MemoryConsumerFactory, MemoryTopic
from tests.support.tables import create_table


class _BootstrapGrabber(logging.Handler):
    address: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        found = re.search(r"replaced with (\S+)", record.getMessage())
        if found:
            self.address = found.group(1).rstrip(",")


def mock_cluster() -> tuple[Producer, str]:
    grabber = _BootstrapGrabber()
    logger = logging.getLogger("librdkafka-mock")
    logger.addHandler(grabber)
    logger.setLevel(logging.DEBUG)
    producer = Producer({"test.mock.num.brokers": 1, "logger": logger})
    wait_until(lambda: producer.poll(0.05) is not None and grabber.address, what="the mock cluster")
    return producer, str(grabber.address)


def table_spec(topic: str, bootstrap: str, reset: str = "smallest") -> TableSpec:
    schema_doc, table_doc = seed_configs("t", **{
        "stream.kafka.topic.name": topic, "stream.kafka.broker.list": bootstrap,
        "realtime.segment.flush.threshold.rows": "100",
        "stream.kafka.consumer.prop.auto.offset.reset": reset})
    schema = parse_schema(schema_doc)
    return TableSpec(parse_table_config(table_doc, {"t": schema}), schema, "uid")


def test_resuming_below_a_recreated_topic_resets_to_smallest_and_a_restart_resumes_after_it(
    tmp_path: Path
) -> None:
    producer, bootstrap = mock_cluster()
    for i in range(300, 350):
        producer.produce("reset-topic", value=student_record(i), partition=0)
    assert producer.flush(10) == 0
    spec = table_spec("reset-topic", bootstrap)
    paths = PartitionPaths(tmp_path)
    earlier = MemoryTopic()
    earlier.publish(0, [student_record(i) for i in range(300)])
    decoder = JsonDecoder(spec.schema, spec.config)
    first_run = PartitionIngestor(spec, 0, paths, MemoryConsumerFactory(earlier), decoder)
    while first_run.poll(1000):
        pass
    assert first_run.sealed[-1][0].end_offset == 300

    resumed = PartitionIngestor(spec, 0, paths, spec.consumer_factory(), decoder)
    try:
        wait_until(lambda: (resumed.poll(1000), resumed.segment.rows)[1] == 50, timeout_s=20,
                   what="the 50 messages after the reset")
        assert resumed.counters.offset_resets == 1 and resumed.counters.messages_lost == 0
        error = resumed.counters.last_error or ""
        assert "offset 300 out of range; auto.offset.reset=smallest: resuming at 0" in error
        assert resumed.segment.start_offset == 0
        assert sum(meta.rows for meta, _ in resumed.sealed) == 300
    finally:
        resumed.close()

    again = PartitionIngestor(spec, 0, paths, spec.consumer_factory(), decoder)  # the 50 rows were unsealed
    try:
        wait_until(lambda: (again.poll(1000), again.segment.rows)[1] == 50, timeout_s=20,
                   what="the 50 messages read again from the reset point")
        assert again.segment.start_offset == 0 and again.counters.offset_resets == 0
    finally:
        again.close()


def test_kafka_bounds_confirm_an_end_the_broker_under_reports_by_reading(kafka: KafkaBroker, unique_name: str
                                                                         ) -> None:
    kafka.create_topic(unique_name, 1)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 500})
    for i in range(1_000):
        producer.produce(unique_name, value=student_record(i), partition=0)
    assert producer.flush(10) == 0  # one record batch
    lister = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": unique_name})
    try:
        _, reported = lister.get_watermark_offsets(TopicPartition(unique_name, 0), timeout=5, cached=False)
    finally:
        lister.close()
    assert reported < 1_000, "Tansu's ListOffsets no longer under-reports: this test lost its point"
    config = table_spec(unique_name, kafka.bootstrap).config.stream
    consumer = KafkaPartitionConsumer(config, unique_name, 0, StartPosition(1_000, OffsetReset.SMALLEST))
    try:
        assert consumer.bounds(1_000, 5.0) == PartitionBounds(0, 1_000)  # the checkpoint at the end holds
        assert consumer.bounds(1_500, 5.0) == PartitionBounds(0, 1_000)  # past it: the end read, not reported
    finally:
        consumer.close()


def test_an_idle_partition_past_the_reported_end_is_never_reset(
    kafka: KafkaBroker, unique_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(continuity, "IDLE_BEFORE_PROBE_S", 0.1)
    monkeypatch.setattr(continuity, "PROBE_INTERVAL_S", 0.2)
    kafka.create_topic(unique_name, 1)
    kafka.publish(unique_name, (student_record(i) for i in range(1_000)))
    spec = table_spec(unique_name, kafka.bootstrap)
    worker = PartitionIngestor(spec, 0, PartitionPaths(tmp_path), spec.consumer_factory(),
                               JsonDecoder(spec.schema, spec.config))
    try:
        wait_until(lambda: (worker.poll(1_000), worker.counters.messages)[1] == 1_000, what="1,000 messages")
        probes = worker._guard.probes
        wait_until(lambda: (worker.poll(1_000), worker._guard.probes)[1] >= probes + 5, timeout_s=20,
                   interval_s=0.02, what="five idle probes")
        assert worker.counters.offset_resets == 0 and worker.status()["state"] == "CONSUMING"
        kafka.publish(unique_name, (student_record(i) for i in range(1_000, 1_010)))
        wait_until(lambda: (worker.poll(1_000), worker.segment.end_offset)[1] == 1_010, what="10 more")
        assert worker.counters.offset_resets == 0
    finally:
        worker.close()


def partition_zero(server: IngestdServer, table: str) -> dict[str, Any]:
    """Partition 0's status as its worker last reported it (waits for a report)."""

    def reported() -> dict[str, Any] | None:
        partitions = server.get(f"/tables/{table}/status")["partitions"]
        found = next((p for p in partitions if p["partition"] == 0), {})
        return found if "offsetResets" in found else None

    return wait_until(reported, what=f"a status report of {table}[0]")  # type: ignore[no-any-return]


def test_a_broker_that_restarts_empty_is_detected_reset_reported_and_committed(
    server: IngestdServer, unique_name: str
) -> None:
    kafka = KafkaBroker.start()  # its own broker: this test restarts it
    try:
        create_table(server, kafka, unique_name, 1, **{
            "realtime.segment.flush.threshold.rows": "100",
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
        kafka.publish(unique_name, (student_record(i) for i in range(250)))
        wait_until(lambda: server.count(unique_name) == 250, what="250 rows")  # 200 sealed, 50 consuming
        assert partition_zero(server, unique_name)["offsetResets"] == 0

        kafka.stop()
        kafka = KafkaBroker.start(port=kafka.port)  # Tansu keeps nothing: the topic is gone
        try:
            kafka.create_topic(unique_name, 1)
        except KafkaException as exc:  # Tansu re-creates a topic itself when a client asks for it
            assert "TOPIC_ALREADY_EXISTS" in str(exc)
        status = wait_until(lambda: (p := partition_zero(server, unique_name))["offsetResets"] == 1 and p,
                            timeout_s=30, what="the reset to be found")
        assert status["state"] == "OFFSET_RESET" and status["messagesLost"] == 0
        assert "offset 250 out of range; auto.offset.reset=smallest: resuming at 0" in status["lastError"]
        assert "the stream ends at 0" in status["lastError"]
        assert status["lastOffsetReset"]["fromOffset"] == 250
        assert status["sealedRows"] == 250  # the unsealed rows were sealed before the reset: still here
        assert server.count(unique_name) == 250
        loss_lines = [line for line in server.log.read_text().splitlines() if "MESSAGE LOSS" in line]
        assert len(loss_lines) == 1 and " ERROR " in loss_lines[0]

        kafka.publish(unique_name, (student_record(i) for i in range(1_000, 1_030)))
        wait_until(lambda: server.count(unique_name) == 280, what="the new log's 30 rows")
        wait_until(lambda: partition_zero(server, unique_name)["state"] == "CONSUMING",
                   what="the partition to leave OFFSET_RESET once data arrived")

        server.kill9()  # the 30 rows are not sealed: a restart must read them again from the reset point
        server.start()
        wait_until(lambda: server.count(unique_name) == 280, timeout_s=30, what="280 rows after the restart")
        assert "resuming at offset 0 with 3 sealed segment(s)" in server.log.read_text()
        kafka.publish(unique_name, (student_record(i) for i in range(1_030, 1_040)))
        wait_until(lambda: server.count(unique_name) == 290, what="290 rows")
        assert partition_zero(server, unique_name)["offsetResets"] == 0
        assert sum("MESSAGE LOSS" in line for line in server.log.read_text().splitlines()) == 1
    finally:
        kafka.stop()
