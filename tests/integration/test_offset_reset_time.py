"""auto.offset.reset as a point in time, and stream.kafka.partition.ids, through the real broker.

Kafka finds "the first offset at or after time T" in its time index (offsets_for_times). Neither broker
available here answers that truthfully — Tansu says 0 for every time, librdkafka's mock cluster says -1 (its
handler is a FIXME) — so these tests exercise ingestd's check of the broker's answer against the messages'
own timestamps and its binary search over them (ingestd/stream/kafka_time_lookup.py). A time before every
message is the one case where Tansu's answer (0) is right and is accepted as is.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from confluent_kafka import Producer

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.devtools.server_process import IngestdServer
from tests.support.tables import create_table, segments_by_partition

HOUR_MS = 3_600_000


def publish_at(kafka: KafkaBroker, topic: str, stamps: list[int], partitions: int, first: int = 0) -> None:
    """Message i gets student id first + i and CreateTime stamps[i], partitions round-robin; one message
    per request so that each has its own record batch."""
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 0})
    for i, stamp in enumerate(stamps):
        producer.produce(topic, value=student_record(i, student=first + i), partition=i % partitions,
                         timestamp=stamp)
        producer.flush(10)


def students(server: IngestdServer, table: str) -> set[int]:
    rows = server.query(f"SELECT studentID FROM {table} LIMIT 100000")["resultTable"]["rows"]
    return {row[0] for row in rows}


def test_a_point_in_time_starts_each_partition_at_its_first_message_that_late(
    kafka: KafkaBroker, server: IngestdServer, unique_name: str
) -> None:
    now = int(time.time() * 1000)
    topic = unique_name
    kafka.create_topic(topic, 2)
    # 30 messages three days old, then 40 an hour old, interleaved over both partitions
    publish_at(kafka, topic, [now - 72 * HOUR_MS + i for i in range(30)], 2)
    publish_at(kafka, topic, [now - HOUR_MS + i for i in range(40)], 2, first=1000)
    two_days_ago = now - 48 * HOUR_MS
    iso = datetime.fromtimestamp(two_days_ago / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
    resets = {"period": "2d", "iso": iso, "millis": str(two_days_ago), "before_all": str(now - 100 * HOUR_MS)}
    for suffix, reset in resets.items():
        schema, table = seed_configs(f"{topic}_{suffix}", **{
            "stream.kafka.topic.name": topic, "stream.kafka.broker.list": kafka.bootstrap,
            "stream.kafka.consumer.prop.auto.offset.reset": reset})
        for path, document in (("/schemas", schema), ("/tables", table)):
            response = server.post(path, document)
            assert response.status_code == 200, response.text
    recent = set(range(1000, 1040))
    for suffix in ("period", "iso", "millis"):
        table = f"{topic}_{suffix}"
        wait_until(lambda table=table: server.count(table) >= 40, timeout_s=60, what=f"{table}'s rows")
        assert students(server, table) == recent, suffix
        assert server.count(table) == 40
    table = f"{topic}_before_all"
    wait_until(lambda: server.count(table) >= 70, timeout_s=60, what="every row")
    assert students(server, table) == set(range(30)) | recent
    # past the start, new messages arrive as always
    publish_at(kafka, topic, [now + i for i in range(10)], 2, first=5000)
    wait_until(lambda: server.count(f"{topic}_period") == 50, timeout_s=60, what="the new rows")


def test_partition_ids_limit_a_table_to_some_partitions(
    kafka: KafkaBroker, server: IngestdServer, unique_name: str
) -> None:
    create_table(server, kafka, unique_name, 4, **{
        "stream.kafka.partition.ids": "1,3", "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
        "realtime.segment.flush.threshold.rows": "10"})
    kafka.publish(unique_name, (student_record(i, student=i) for i in range(80)), partitions=4)
    wait_until(lambda: server.count(unique_name) >= 40, timeout_s=60, what="partitions 1 and 3")
    time.sleep(1.0)
    assert students(server, unique_name) == {i for i in range(80) if i % 4 in (1, 3)}
    wait_until(lambda: set(segments_by_partition(server, unique_name)) == {1, 3}, timeout_s=30,
               what="sealed segments of partitions 1 and 3")


def test_partition_ids_the_topic_does_not_have_are_refused_at_creation(
    kafka: KafkaBroker, server: IngestdServer, unique_name: str
) -> None:
    kafka.create_topic(unique_name, 2)
    schema, table = seed_configs(unique_name, **{
        "stream.kafka.topic.name": unique_name, "stream.kafka.broker.list": kafka.bootstrap,
        "stream.kafka.partition.ids": "0-3"})
    assert server.post("/schemas", schema).status_code == 200
    response = server.post("/tables", table)
    assert response.status_code == 400, response.text
    assert "stream.kafka.partition.ids" in response.text and "[2, 3]" in response.text
