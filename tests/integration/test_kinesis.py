"""Kinesis through moto's server over HTTP (tests/support/moto_server.py: moto, corrected to AWS's
behaviour where it differs, with 56-digit sequence numbers): Pinot's own example table config, restart
after kill -9, splits and merges followed with each parent read to its end before its children."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from ingestd.config.table import OffsetReset, parse_table_config
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import student_record
from ingestd.devtools.server_process import IngestdServer
from ingestd.redact import MASK
from ingestd.stream.kinesis import KinesisConsumerFactory
from ingestd.stream.kinesis_shards import shard_id_of
from ingestd.stream.spi import JSON_SAFE_INTEGER, StartPosition
from tests.support.kinesis_tables import (
    create_stream,
    kinesis_seed_configs,
    kinesis_stream_configs,
    put_records,
)
from tests.support.moto_server import MotoServer, moto_kinesis

# Pinot's pullRequestMergedEvents example (pinot-tools/src/main/resources/examples/stream/
# pullRequestMergedEvents/): the Kinesis table config as Pinot ships it, and its schema (abridged to the
# columns the records below fill; the others are Pinot's too).
PINOT_KINESIS_TABLE: dict[str, Any] = {
    "tableName": "pullRequestMergedEvents",
    "tableType": "REALTIME",
    "tenants": {},
    "segmentsConfig": {"timeColumnName": "mergedTimeMillis", "retentionTimeUnit": "DAYS",
                       "retentionTimeValue": "60", "replication": "1"},
    "tableIndexConfig": {"invertedIndexColumns": ["organization", "repo"]},
    "ingestionConfig": {"streamIngestionConfig": {"streamConfigMaps": [{
        "streamType": "kinesis",
        "stream.kinesis.topic.name": "pullRequestMergedEvents",
        "stream.kinesis.decoder.class.name": "org.apache.pinot.plugin.inputformat.json.JSONMessageDecoder",
        "stream.kinesis.consumer.factory.class.name":
            "org.apache.pinot.plugin.stream.kinesis.KinesisConsumerFactory",
        "stream.kinesis.consumer.prop.auto.offset.reset": "smallest",
        "region": "us-east-1",
        "shardIteratorType": "TRIM_HORIZON",
        "endpoint": "http://localhost:4566",
        "accessKey": "access",
        "secretKey": "secret",
        "realtime.segment.flush.threshold.time": "12h",
        "realtime.segment.flush.threshold.size": "100000",
    }]}},
    "metadata": {"customConfigs": {}},
}
PINOT_SCHEMA: dict[str, Any] = {
    "schemaName": "pullRequestMergedEvents",
    "dimensionFieldSpecs": [
        {"name": "title", "dataType": "STRING", "defaultNullValue": ""},
        {"name": "labels", "dataType": "STRING", "singleValueField": False, "defaultNullValue": ""},
        {"name": "userId", "dataType": "STRING", "defaultNullValue": ""},
        {"name": "mergedBy", "dataType": "STRING", "defaultNullValue": ""},
        {"name": "repo", "dataType": "STRING", "defaultNullValue": ""},
        {"name": "organization", "dataType": "STRING", "defaultNullValue": ""},
    ],
    "metricFieldSpecs": [
        {"name": "count", "dataType": "LONG", "defaultNullValue": 1},
        {"name": "numComments", "dataType": "LONG"},
        {"name": "numLinesAdded", "dataType": "LONG"},
    ],
    "dateTimeFieldSpecs": [{"name": "mergedTimeMillis", "dataType": "TIMESTAMP",
                            "format": "1:MILLISECONDS:TIMESTAMP", "granularity": "1:MILLISECONDS"}],
}


def _pull_request(i: int, now_ms: int) -> bytes:
    return orjson.dumps({"title": f"PR {i}", "labels": ["bug", f"area-{i % 3}"], "userId": f"u{i % 7}",
                         "mergedBy": "octocat", "repo": f"repo{i % 4}", "organization": "apache",
                         "numComments": i % 5, "numLinesAdded": i, "mergedTimeMillis": now_ms - i})


def _ids(server: IngestdServer, table: str) -> list[int]:
    """Every row's sequence (firstName is `s<sequence>`), as many times as it is stored."""
    answer = server.query(f"SELECT firstName FROM {table} LIMIT 100000")
    assert not answer.get("exceptions"), answer["exceptions"]
    return sorted(int(row[0][1:]) for row in answer["resultTable"]["rows"])


def test_pinots_example_kinesis_table_config_works_with_only_stream_name_and_endpoint_changed(
    moto: MotoServer, server: IngestdServer, unique_name: str
) -> None:
    client = moto.kinesis()
    create_stream(client, unique_name, 3)
    now = int(time.time() * 1000)
    put_records(client, unique_name, [_pull_request(i, now) for i in range(600)])
    table = orjson.loads(orjson.dumps(PINOT_KINESIS_TABLE))
    stream = table["ingestionConfig"]["streamIngestionConfig"]["streamConfigMaps"][0]
    stream["stream.kinesis.topic.name"] = unique_name
    stream["endpoint"] = moto.endpoint

    assert server.post("/schemas", PINOT_SCHEMA).status_code == 200
    response = server.post("/tables", table)
    assert response.status_code == 200, response.text
    assert response.json()["unrecognizedProperties"] == {}
    wait_until(lambda: server.count("pullRequestMergedEvents") == 600, timeout_s=30, what="600 rows")

    answer = server.query("SELECT repo, COUNT(*), SUM(numLinesAdded) FROM pullRequestMergedEvents "
                          "GROUP BY repo ORDER BY repo")
    assert answer["resultTable"]["rows"] == [
        [f"repo{r}", 150, float(sum(i for i in range(600) if i % 4 == r))] for r in range(4)]
    labels = server.query("SELECT labels FROM pullRequestMergedEvents WHERE title = 'PR 5'")
    assert labels["resultTable"]["rows"] == [[["bug", "area-2"]]]

    stored = server.get("/tables/pullRequestMergedEvents")["REALTIME"]
    stored_stream = stored["ingestionConfig"]["streamIngestionConfig"]["streamConfigMaps"][0]
    assert stored_stream["secretKey"] == MASK and stored_stream["region"] == "us-east-1"

    def status() -> dict[str, Any]:
        return server.get("/tables/pullRequestMergedEvents/status")  # type: ignore[no-any-return]

    wait_until(lambda: all(p.get("currentOffset") for p in status()["partitions"]), timeout_s=10,
               what="every shard's position reported")
    assert sorted(p["partition"] for p in status()["partitions"]) == [0, 1, 2]
    for partition in status()["partitions"]:  # sequence numbers reach JSON clients as exact strings
        assert isinstance(partition["currentOffset"], str)
        assert int(partition["currentOffset"]) > JSON_SAFE_INTEGER
        assert partition["offsetResets"] == 0 and partition["messagesLost"] == 0

    metrics = server.http.get(server.url + "/metrics").text.splitlines()
    offsets = [line for line in metrics if line.startswith("ingestd_partition_current_offset{")]
    assert len(offsets) == 3 and all(float(line.split()[-1]) > 4.9e55 for line in offsets), offsets

    # sealed: the ledger takes 56-digit offsets, the segment metadata gives them back exactly
    force = server.http.post(server.url + "/tables/pullRequestMergedEvents/forceCommit")
    assert force.status_code == 200
    shard0 = client.get_records(ShardIterator=client.get_shard_iterator(
        StreamName=unique_name, ShardId=shard_id_of(0), ShardIteratorType="TRIM_HORIZON")["ShardIterator"])
    first, last = shard0["Records"][0]["SequenceNumber"], shard0["Records"][-1]["SequenceNumber"]

    def sealed_partition_0() -> dict[str, Any] | None:
        for name in server.get("/segments/pullRequestMergedEvents")[0]["REALTIME"]:
            meta = server.get(f"/segments/pullRequestMergedEvents/{name}/metadata")
            if meta["status"] == "DONE" and meta["partition"] == 0:
                return meta
        return None

    wait_until(lambda: sealed_partition_0() is not None, timeout_s=15, what="partition 0 sealed")
    meta = sealed_partition_0()
    assert meta is not None
    assert (meta["startOffset"], meta["endOffset"]) == (first, str(int(last) + 1))


def test_a_missing_stream_or_region_is_a_400_naming_the_key(
    moto: MotoServer, server: IngestdServer, unique_name: str
) -> None:
    schema, table = kinesis_seed_configs(unique_name, moto.endpoint)
    assert server.post("/schemas", schema).status_code == 200
    response = server.post("/tables", table)
    assert response.status_code == 400
    assert "streamConfigs.stream.kinesis.topic.name" in response.json()["error"]
    assert "does not exist" in response.json()["error"]
    del table["tableIndexConfig"]["streamConfigs"]["region"]
    response = server.post("/tables", table)
    assert response.status_code == 400 and "streamConfigs.region is missing" in response.json()["error"]
    table["tableIndexConfig"]["streamConfigs"] |= {"region": "us-east-1", "endpoint": "http://127.0.0.1:9"}
    response = server.post("/tables", table)
    assert response.status_code == 400
    assert response.json()["error"].startswith("tableIndexConfig.streamConfigs.endpoint Kinesis at http://127.0.0.1:9")


def test_kill9_and_restart_neither_loses_nor_duplicates_a_row(
    moto: MotoServer, server: IngestdServer, unique_name: str
) -> None:
    client = moto.kinesis()
    create_stream(client, unique_name, 2)
    schema, table = kinesis_seed_configs(unique_name, moto.endpoint, **{
        "realtime.segment.flush.threshold.segment.rows": "70"})
    put_records(client, unique_name, [student_record(i) for i in range(300)])
    for path, document in (("/schemas", schema), ("/tables", table)):
        assert server.post(path, document).status_code == 200
    wait_until(lambda: server.count(unique_name) == 300, timeout_s=30, what="300 rows")
    server.kill9()  # sealed segments of 70 rows each, and unsealed tails, in both shards
    put_records(client, unique_name, [student_record(i) for i in range(300, 500)], key_prefix="later")
    server.start()
    wait_until(lambda: server.count(unique_name) >= 500, timeout_s=30, what="500 rows")
    time.sleep(1.5)  # a few more polls: a duplicate would show up as a 501st row
    assert _ids(server, unique_name) == list(range(500))
    status = server.get(f"/tables/{unique_name}/status")
    assert all(p["offsetResets"] == 0 for p in status["partitions"])


def test_splits_and_merges_are_followed_and_every_row_arrives_once(
    moto: MotoServer, tmp_path: Path, unique_name: str
) -> None:
    """Shards 0 and 1; shard 0 splits into 2 and 3; then 3 and 1 merge into 4. Rows written before,
    between and after arrive exactly once; the new shards are found by the coordinator's re-listing
    (every 2 s here, `[workers] rediscover_interval_s`)."""
    server = IngestdServer(tmp_path, toml={"workers": {"rediscover_interval_s": 2}})
    server.start()
    try:
        _split_and_merge(moto, server, unique_name)
    finally:
        server.stop()


def _split_and_merge(moto: MotoServer, server: IngestdServer, unique_name: str) -> None:
    client = moto.kinesis()
    create_stream(client, unique_name, 2)
    schema, table = kinesis_seed_configs(unique_name, moto.endpoint)
    for path, document in (("/schemas", schema), ("/tables", table)):
        assert server.post(path, document).status_code == 200
    put_records(client, unique_name, [student_record(i) for i in range(200)], key_prefix="a")
    wait_until(lambda: server.count(unique_name) == 200, timeout_s=30, what="200 rows")

    shards = {s["ShardId"]: s for s in client.list_shards(StreamName=unique_name)["Shards"]}
    low, high = (int(shards[shard_id_of(0)]["HashKeyRange"][k]) for k in ("StartingHashKey", "EndingHashKey"))
    client.split_shard(StreamName=unique_name, ShardToSplit=shard_id_of(0),
                       NewStartingHashKey=str((low + high) // 2))
    put_records(client, unique_name, [student_record(i) for i in range(200, 400)], key_prefix="b")
    client.merge_shards(StreamName=unique_name, ShardToMerge=shard_id_of(3),
                        AdjacentShardToMerge=shard_id_of(1))
    put_records(client, unique_name, [student_record(i) for i in range(400, 600)], key_prefix="c")
    listed = client.list_shards(StreamName=unique_name)["Shards"]
    assert sorted(s["ShardId"] for s in listed) == [shard_id_of(p) for p in range(5)]

    wait_until(lambda: server.count(unique_name) >= 600, timeout_s=60, what="600 rows")
    time.sleep(1.5)
    assert _ids(server, unique_name) == list(range(600))
    status = server.get(f"/tables/{unique_name}/status")
    assert sorted(p["partition"] for p in status["partitions"]) == [0, 1, 2, 3, 4]
    assert all(p["offsetResets"] == 0 for p in status["partitions"])


def _consumer(factory: KinesisConsumerFactory, root: Path, partition: int) -> Any:
    start = StartPosition(None, OffsetReset.SMALLEST, root / str(partition))
    return factory.partition_consumer(partition, start)


def _drain(consumer: Any, seconds: float = 1.2) -> list[bytes | None]:
    """What the consumer hands over within `seconds` (a child looks for its parents' markers every 0.5 s)."""
    values: list[bytes | None] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        batch = consumer.fetch(10_000, 0)
        values += batch.values if batch is not None else []
        time.sleep(0.02)
    return values


def test_a_child_shard_is_not_read_before_its_parents_last_records(
    moto: MotoServer, unique_name: str, tmp_path: Path
) -> None:
    """At the consumer (the ordering is not visible in SQL): children of a split wait for the parent's end
    marker, a merged shard for both parents'; each starts once its parents' last batch was handed over."""
    client = moto.kinesis()
    create_stream(client, unique_name, 1)
    put_records(client, unique_name, [b"p%d" % i for i in range(50)], key_prefix="a")
    client.split_shard(StreamName=unique_name, ShardToSplit=shard_id_of(0), NewStartingHashKey=str(2**127))
    put_records(client, unique_name, [b"c%d" % i for i in range(50)], key_prefix="b")
    client.merge_shards(StreamName=unique_name, ShardToMerge=shard_id_of(1),
                        AdjacentShardToMerge=shard_id_of(2))
    put_records(client, unique_name, [b"m%d" % i for i in range(20)], key_prefix="c")
    configs = kinesis_stream_configs(unique_name, moto.endpoint, **{"requests_per_second_limit": "100"})
    stream = parse_table_config({"tableName": "t", "tableType": "REALTIME",
                                 "segmentsConfig": {"timeColumnName": "timestamp"},
                                 "tableIndexConfig": {"streamConfigs": configs}}).stream
    factory = KinesisConsumerFactory(stream, "test")
    parent, left, right, merged = (_consumer(factory, tmp_path, p) for p in (0, 1, 2, 3))

    assert _drain(left) == [] and _drain(right) == [] and _drain(merged) == []
    parent_batch = parent.fetch(10_000, 0)
    assert parent_batch is not None and len(parent_batch.values) == 50  # its last records, not yet processed
    assert _drain(left) == []  # the parent's last batch was not handed back yet
    time.sleep(0.02)
    assert parent.fetch(10_000, 0) is None  # the next fetch: the last batch was taken, the end is marked
    from_children = _drain(left) + _drain(right)
    assert sorted(from_children) == sorted(b"c%d" % i for i in range(50))
    assert _drain(merged, seconds=2.5) == [b"m%d" % i for i in range(20)]


def test_perf_kinesis_quick_completes_and_writes_a_result(tmp_path: Path) -> None:
    """The perf script's harness (python -m perf.kinesis --quick): it asserts nothing about speed."""
    done = subprocess.run([sys.executable, "-m", "perf.kinesis", "--quick", "--output", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    [written] = tmp_path.glob("*-kinesis-quick.json")
    result = orjson.loads(written.read_bytes())
    assert result["runs"][0]["raw_get_records_per_s"] > 0 and result["runs"][0]["rows_per_s_from_create"] > 0


def test_bounds_and_seek_serve_resuming_from_the_smallest_or_largest_offset(
    moto: MotoServer, unique_name: str, tmp_path: Path
) -> None:
    """What resumeConsumption?consumeFrom=smallest|largest asks of a shard: where it begins (its first
    sequence number: everything is read again) and where it ends (read to the end: only new records)."""
    client = moto.kinesis()
    create_stream(client, unique_name, 1)
    put_records(client, unique_name, [b"a%d" % i for i in range(30)])
    configs = kinesis_stream_configs(unique_name, moto.endpoint, **{"requests_per_second_limit": "100"})
    stream = parse_table_config({"tableName": "t", "tableType": "REALTIME",
                                 "segmentsConfig": {"timeColumnName": "timestamp"},
                                 "tableIndexConfig": {"streamConfigs": configs}}).stream
    consumer = _consumer(KinesisConsumerFactory(stream, "test"), tmp_path, 0)
    first = consumer.fetch(10, 0)
    assert first is not None and first.values == [b"a%d" % i for i in range(10)]
    position = first.next_offset
    bounds = consumer.bounds(position, 2.0)
    assert bounds is not None and bounds.holds(position) and bounds.earliest == first.offset_at(0)
    assert consumer.bounds(2**62, 2.0) is not None  # below the first sequence number: read to the end
    end = consumer.bounds(2**62, 2.0).end  # type: ignore[union-attr]
    consumer.seek(bounds.earliest)  # smallest: read again from the start
    assert _drain(consumer, seconds=0.5) == [b"a%d" % i for i in range(30)]
    assert consumer.bounds(end, 2.0).holds(end)  # type: ignore[union-attr]
    consumer.seek(end)  # largest: only what comes next
    assert _drain(consumer, seconds=0.3) == []
    put_records(client, unique_name, [b"b0"], key_prefix="later")
    assert _drain(consumer, seconds=0.5) == [b"b0"]


def test_a_live_endpoint_change_is_checked_and_rebuilds_the_consumers_without_losing_a_row(
    moto: MotoServer, server: IngestdServer, unique_name: str
) -> None:
    client = moto.kinesis()
    create_stream(client, unique_name, 2)
    schema, table = kinesis_seed_configs(unique_name, moto.endpoint)
    for path, document in (("/schemas", schema), ("/tables", table)):
        assert server.post(path, document).status_code == 200
    put_records(client, unique_name, [student_record(i) for i in range(100)])
    wait_until(lambda: server.count(unique_name) == 100, timeout_s=30, what="100 rows")

    stream = table["tableIndexConfig"]["streamConfigs"]
    stream["endpoint"] = "http://127.0.0.1:9"
    refused = server.http.put(f"{server.url}/tables/{unique_name}", json=table)
    assert refused.status_code == 400 and "streamConfigs.endpoint" in refused.json()["error"]

    with moto_kinesis() as other:  # a second endpoint onto the same streams (moto's state is per process)
        stream["endpoint"] = other.endpoint
        changed = server.http.put(f"{server.url}/tables/{unique_name}", json=table)
        assert changed.status_code == 200, changed.text
        wait_until(lambda: server.log.read_text().count("consumer rebuilt") >= 2, timeout_s=10,
                   what="both shards' consumers rebuilt")
        later = [student_record(i) for i in range(100, 200)]
        put_records(other.kinesis(), unique_name, later, key_prefix="x")
        wait_until(lambda: server.count(unique_name) >= 200, timeout_s=30, what="200 rows")
        time.sleep(1.5)
        assert _ids(server, unique_name) == list(range(200))
