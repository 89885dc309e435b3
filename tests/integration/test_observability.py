"""Seeing what a real server does, against the real test broker: lag and freshness in the table status,
Pinot's consumingSegmentsInfo, `/metrics` (behind authentication, parsed as Prometheus text and checked
against what was published and queried), the sealed checkpoints committed to the consumer group for
Kafka's own lag tools, and a backlog's lag seen above 0 and then back at 0.

Tansu reports a partition's end as the base offset of its last record batch + 1 (shared/testing.md):
each partition's last message is sent alone (linger.ms=0, then a flush), so that end is the true one and
a caught-up partition's lag is exactly 0."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from ingestd.columns import now_ms
from ingestd.config.table import OffsetReset
from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.server_process import IngestdServer
from ingestd.stream.kafka import KafkaPartitionConsumer
from ingestd.stream.spi import StartPosition
from tests.integration.test_offset_reset import table_spec
from tests.support.tables import create_table, segments_by_partition

TOKEN = "observability-token-0123456789"
JUNK = b"{not json"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[IngestdServer]:
    instance = IngestdServer(tmp_path, toml={"auth": {"tokens": [TOKEN]}}, token=TOKEN)
    instance.start()
    yield instance
    try:
        instance.stop()
    finally:
        instance.kill9()


def record(sequence: int, event_ms: int) -> bytes:
    return orjson.dumps({"studentID": sequence, "firstName": f"s{sequence}", "lastName": "L",
                         "gender": "Female", "subject": "Maths", "score": 1.5, "timestamp": event_ms})


def publish(kafka: KafkaBroker, topic: str, partition: int, values: list[bytes]) -> None:
    """All but the last value batched; the last alone, so Tansu reports the partition's end exactly."""
    batched = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 5})
    for value in values[:-1]:
        batched.produce(topic, value=value, partition=partition)
    assert batched.flush(30) == 0
    single = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 0})
    single.produce(topic, value=values[-1], partition=partition)
    assert single.flush(30) == 0


def metric_samples(server: IngestdServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = server.http.get(server.url + "/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def partitions(server: IngestdServer, table: str) -> list[dict[str, Any]]:
    return list(server.get(f"/tables/{table}/status")["partitions"])


def committed_offsets(kafka: KafkaBroker, group: str, topic: str, count: int) -> list[int]:
    reader = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": group})
    try:
        found = reader.committed([TopicPartition(topic, p) for p in range(count)], timeout=10)
        return [tp.offset for tp in sorted(found, key=lambda tp: tp.partition)]
    finally:
        reader.close()


def test_the_kafka_consumer_hears_the_latest_offset_in_its_fetches_and_commits_only_for_show(
    kafka: KafkaBroker, unique_name: str
) -> None:
    """No statistics and no round trip: the high watermark comes with every fetch response. A committed
    offset is published to the group, and a consumer started from the reset policy still ignores it."""
    topic, group = unique_name, f"ingestd-{unique_name}"
    kafka.create_topic(topic, 1)
    publish(kafka, topic, 0, [record(i, 0) for i in range(500)])
    config = table_spec(topic, kafka.bootstrap).config.stream
    consumer = KafkaPartitionConsumer(config, group, 0, StartPosition(0, OffsetReset.SMALLEST))
    try:
        assert consumer.latest_offset() is None  # nothing heard yet: unknown, not a guess
        wait_until(lambda: consumer.fetch(100, 0.1) is not None and consumer.latest_offset() == 500,
                   what="the latest offset from a fetch response")
        publish(kafka, topic, 0, [record(500, 0)])
        wait_until(lambda: (consumer.fetch(1000, 0.1), consumer.latest_offset())[1] == 501,
                   what="the latest offset following the partition")
        consumer.commit(250)
        wait_until(lambda: (consumer.fetch(1, 0.1), committed_offsets(kafka, group, topic, 1))[1] == [250],
                   what="the offset committed to the group")
    finally:
        consumer.close()
    restarted = KafkaPartitionConsumer(config, group, 0, StartPosition(None, OffsetReset.SMALLEST))
    try:
        batch = wait_until(lambda: restarted.fetch(10, 0.2), what="a first batch")
        assert batch.offset_at(0) == 0  # the reset policy, not the group's 250: only the ledger counts
    finally:
        restarted.close()


def test_metrics_status_and_group_commits_match_what_was_published_and_queried(
    kafka: KafkaBroker, secured: IngestdServer, unique_name: str
) -> None:
    table, server = unique_name, secured
    create_table(server, kafka, table, 2, **{"realtime.segment.flush.threshold.rows": "200",  # 100 each
                                             "stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
    published_at = now_ms()
    values = {0: [record(i, published_at - 1_000 + i) for i in range(120)] + [JUNK] * 3
              + [record(i, published_at) for i in range(120, 251)],
              1: [record(i, published_at - 5_000 + i) for i in range(1000, 1230)]}
    for partition, sent in values.items():
        publish(kafka, table, partition, sent)
    good = {p: sum(1 for v in sent if v != JUNK) for p, sent in values.items()}

    def caught_up() -> list[dict[str, Any]] | None:
        found = partitions(server, table)
        done = len(found) == 2 and all(p.get("currentOffset") == len(values[p["partition"]])
                                       and p.get("lag") == 0 for p in found)
        return found if done else None

    status = wait_until(caught_up, timeout_s=60, what="both partitions caught up with lag 0")
    for entry in status:
        sent = values[entry["partition"]]
        assert entry["latestOffset"] == len(sent) and entry["backlog"] is None
        assert entry["bytesConsumed"] == sum(map(len, sent))
        assert 0 <= entry["ingestFreshnessMs"] < 600_000 and 0 <= entry["eventFreshnessMs"] < 600_000
    assert status[0]["newestEventTimeMs"] == published_at
    assert status[1]["newestEventTimeMs"] == published_at - 5_000 + 1229
    assert server.get(f"/tables/{table}/status")["lag"] == 0

    # the sealed checkpoints, and only those, reach the consumer group Kafka's lag tools read
    sealed = wait_until(lambda: (found := segments_by_partition(server, table)) and len(found) == 2 and found,
                        what="sealed segments")
    sealed_ends = {p: max(int(meta["endOffset"]) for meta in metas) for p, metas in sealed.items()}
    assert sealed_ends == {0: 203, 1: 200}  # 100 rows each; partition 0's junk sits in its 2nd segment
    wait_until(lambda: committed_offsets(kafka, f"ingestd-{table}", table, 2) == [203, 200],
               timeout_s=30, what="the sealed end offsets committed to the consumer group")

    info = server.get(f"/tables/{table}/consumingSegmentsInfo")
    assert set(info) == {"_segmentToConsumingInfoMap", "serversFailingToRespond", "serversUnparsableRespond"}
    consumers = {entry["consumingSegment"]: entry for entry in status}
    assert set(info["_segmentToConsumingInfoMap"]) == set(consumers)
    for segment, infos in info["_segmentToConsumingInfoMap"].items():
        key, entry = str(consumers[segment]["partition"]), consumers[segment]
        [consumer] = infos
        current = {key: str(entry["currentOffset"])}
        assert consumer["serverName"] == f"worker-{entry['worker']}"
        assert consumer["consumerState"] == "CONSUMING"
        assert consumer["partitionToOffsetMap"] == current
        offsets = consumer["partitionOffsetInfo"]
        assert offsets["currentOffsetsMap"] == offsets["latestUpstreamOffsetMap"] == current
        assert offsets["recordsLagMap"] == {key: "0"} and int(offsets["availabilityLagMsMap"][key]) >= 0

    with httpx.Client(timeout=30) as anonymous:
        assert anonymous.get(server.url + "/metrics").status_code == 401
    before = metric_samples(server)
    for _ in range(3):
        assert not server.query(f"SELECT COUNT(*) FROM {table}")["exceptions"]
    assert server.query(f"SELECT nosuchcolumn FROM {table}")["exceptions"]
    samples = metric_samples(server)
    for partition, sent in values.items():
        labels = (("partition", str(partition)), ("table", table))
        assert samples[("ingestd_messages_consumed_total", labels)] == len(sent)
        assert samples[("ingestd_rows_indexed_total", labels)] == good[partition]
        assert samples[("ingestd_malformed_messages_total", labels)] == len(sent) - good[partition]
        assert samples[("ingestd_consumed_bytes_total", labels)] == sum(map(len, sent))
        assert samples[("ingestd_partition_current_offset", labels)] == len(sent)
        assert samples[("ingestd_partition_latest_offset", labels)] == len(sent)
        assert samples[("ingestd_partition_lag_messages", labels)] == 0
        assert samples[("ingestd_segments_sealed_total", labels)] == 2
        assert samples[("ingestd_seal_duration_seconds_count", labels)] == 2
        assert samples[("ingestd_seal_duration_seconds_bucket", (("le", "+Inf"), *labels))] == 2
        assert 0 <= samples[("ingestd_partition_event_freshness_seconds", labels)] < 600
        assert 0 <= samples[("ingestd_partition_ingest_freshness_seconds", labels)] < 600
        assert samples[("ingestd_partition_state", (*labels[:1], ("state", "CONSUMING"), *labels[1:]))] == 1
    assert samples[("ingestd_table_lag_messages", (("table", table),))] == 0
    for worker in ("0", "1"):
        assert samples[("ingestd_worker_resident_memory_bytes", (("worker", worker),))] > 10 << 20
        assert samples[("ingestd_worker_cpu_seconds_total", (("worker", worker),))] > 0

    def delta(name: str, labels: tuple[tuple[str, str], ...] = ()) -> float:
        return samples[(name, labels)] - before.get((name, labels), 0)

    assert delta("ingestd_queries_total", (("outcome", "ok"),)) == 3
    assert delta("ingestd_queries_total", (("outcome", "error"),)) == 1
    assert delta("ingestd_query_duration_seconds_count") == 4
    assert delta("ingestd_query_duration_seconds_bucket", (("le", "+Inf"),)) == 4
    assert samples[("process_resident_memory_bytes", ())] > 0  # the server process itself


def test_a_backlog_shows_lag_and_progress_until_it_is_caught_up(
    kafka: KafkaBroker, server: IngestdServer, unique_name: str
) -> None:
    """A backlog read slowly on purpose, so that it lasts: a fetch takes one record batch (the broker's
    minimum), and once it fills the 1 KiB prefetch queue librdkafka waits fetch.queue.backoff.ms (1 s)
    before fetching again. The messages are published in one go right after the table is created."""
    table = unique_name
    create_table(server, kafka, table, 1, **{
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
        "stream.kafka.consumer.prop.max.partition.fetch.bytes": "1024",
        "stream.kafka.consumer.prop.queued.max.messages.kbytes": "1",
        "stream.kafka.consumer.prop.fetch.queue.backoff.ms": "1000",
    })
    published_at = now_ms()
    count = 100_000
    publish(kafka, table, 0, [record(i, published_at + i // 1_000) for i in range(count)])

    def behind() -> dict[str, Any] | None:  # once a fetch response told the consumer where the end is
        found = partitions(server, table)
        return found[0] if found and found[0].get("latestOffset") == count and found[0]["lag"] > 0 else None

    entry = wait_until(behind, timeout_s=60, what="a lag above 0 while the backlog is read")
    assert entry["lag"] == count - entry["currentOffset"] > 0
    moving = wait_until(lambda: (p := behind()) and p["backlog"] and p["rowsPerSecond"] > 0 and p,
                        timeout_s=60, what="a backlog with a rate while catching up")
    assert moving["backlog"]["rowsBehind"] == moving["lag"] and moving["backlog"]["etaSeconds"] >= 0

    done = wait_until(lambda: (p := partitions(server, table)) and p[0].get("lag") == 0 and p[0],
                      timeout_s=120, what="the backlog caught up (lag 0)")
    assert done["currentOffset"] == done["latestOffset"] == count and done["backlog"] is None
    assert done["newestEventTimeMs"] == published_at + (count - 1) // 1_000
    assert 0 <= done["ingestFreshnessMs"] < 600_000 and 0 <= done["eventFreshnessMs"] < 600_000
    log = (server.workdir / "server.log").read_text()
    assert f"{table}[0]: catching up: " in log and f"{table}[0]: caught up at offset" in log
