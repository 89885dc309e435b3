"""A checkpoint the stream no longer has: the real Kafka consumer follows auto.offset.reset and the
ingestor reports the jump.

Run against librdkafka's built-in mock cluster, not Tansu: Tansu answers a fetch past the end of its log
with an empty result instead of OFFSET_OUT_OF_RANGE, so a reset can never be observed there (a Tansu quirk,
see shared/testing.md). The mock cluster answers like Kafka. It supports neither DeleteRecords nor topic
re-creation here, so the checkpoint (offset 300) is written by a first run over an in-memory stream; the
Kafka topic then holds only 50 messages, as after the topic was re-created."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from confluent_kafka import Producer

from ingestd.config import parse_schema, parse_table_config
from ingestd.decode.json_decoder import JsonDecoder
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.ingest.partition import PartitionIngestor
from ingestd.ingest.table_spec import TableSpec
from ingestd.paths import PartitionPaths
from tests.support.memory_stream import MemoryConsumerFactory, MemoryTopic


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


def test_resuming_below_a_recreated_topic_resets_to_smallest_and_reports_it(tmp_path: Path) -> None:
    producer, bootstrap = mock_cluster()
    for i in range(300, 350):
        producer.produce("reset-topic", value=student_record(i), partition=0)
    assert producer.flush(10) == 0
    schema_doc, table_doc = seed_configs("t", **{
        "stream.kafka.topic.name": "reset-topic", "stream.kafka.broker.list": bootstrap,
        "realtime.segment.flush.threshold.rows": "100",
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
    schema = parse_schema(schema_doc)
    spec = TableSpec(parse_table_config(table_doc, {"t": schema}), schema, "uid")
    paths = PartitionPaths(tmp_path)
    earlier = MemoryTopic()
    earlier.publish(0, [student_record(i) for i in range(300)])
    decoder = JsonDecoder(schema, spec.config)
    first_run = PartitionIngestor(spec, 0, paths, MemoryConsumerFactory(earlier), decoder)
    while first_run.poll(1000):
        pass
    assert first_run.sealed[-1][0].end_offset == 300

    resumed = PartitionIngestor(spec, 0, paths, spec.consumer_factory(), decoder)
    try:
        wait_until(lambda: (resumed.poll(1000), resumed.segment.rows)[1] == 50, timeout_s=20,
                   what="the 50 messages after the reset")
        assert resumed.counters.offset_resets == 1
        assert "offset 300 out of range; auto.offset.reset=smallest" in (resumed.counters.last_error or "")
        assert resumed.segment.start_offset == 0
        assert sum(meta.rows for meta, _ in resumed.sealed) == 300
    finally:
        resumed.close()
