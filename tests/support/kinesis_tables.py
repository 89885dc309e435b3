"""Kinesis streams on moto for tests and perf: create one, put records, and a seed-shaped table on it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ingestd.devtools.seed import seed_configs

PUT_BATCH = 500  # PutRecords' limit


def create_stream(client: Any, name: str, shards: int) -> None:
    client.create_stream(StreamName=name, ShardCount=shards)
    deadline = time.monotonic() + 10
    while client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] \
            != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"stream {name} never became ACTIVE")
        time.sleep(0.05)


def put_records(client: Any, stream: str, values: Sequence[bytes], key_prefix: str = "k") -> None:
    """Each value under its own partition key (so they spread over the shards), in PutRecords batches."""
    for start in range(0, len(values), PUT_BATCH):
        entries = [{"Data": value, "PartitionKey": f"{key_prefix}{start + i}"}
                   for i, value in enumerate(values[start:start + PUT_BATCH])]
        answer = client.put_records(StreamName=stream, Records=entries)
        if answer.get("FailedRecordCount"):
            raise AssertionError(f"PutRecords failed for {answer['FailedRecordCount']} record(s)")


def kinesis_stream_configs(stream: str, endpoint: str, **overrides: str) -> dict[str, str]:
    return {
        "streamType": "kinesis",
        "stream.kinesis.topic.name": stream,
        "stream.kinesis.decoder.class.name": "org.apache.pinot.plugin.inputformat.json.JSONMessageDecoder",
        "stream.kinesis.consumer.factory.class.name":
            "org.apache.pinot.plugin.stream.kinesis.KinesisConsumerFactory",
        "region": "us-east-1",
        "endpoint": endpoint,
        "shardIteratorType": "TRIM_HORIZON",
        "requests_per_second_limit": "5",
        "realtime.segment.flush.threshold.time": "1h",
        **overrides,
    }


def kinesis_seed_configs(name: str, endpoint: str, **overrides: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The seed's schema and table config renamed to `name`, reading Kinesis stream `name`."""
    schema, table = seed_configs(name)
    table["tableIndexConfig"]["streamConfigs"] = kinesis_stream_configs(name, endpoint, **overrides)
    return schema, table
