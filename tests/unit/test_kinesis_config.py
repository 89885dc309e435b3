"""Kinesis stream configs: Pinot's keys parsed and checked (errors name the key path), shard ids as
partition ids, Pinot's example config known key for key, its secret masked."""

from __future__ import annotations

from typing import Any

import pytest

from ingestd.config.table import OffsetReset, StreamConfig, parse_table_config
from ingestd.config.unrecognized import _TYPE_PLAIN_KEYS, unrecognized_table_properties
from ingestd.errors import ConfigError, NotSupportedYet, StreamError
from ingestd.redact import MASK, mask_secrets
from ingestd.stream.kinesis_config import KINESIS_KEYS, kinesis_settings
from ingestd.stream.kinesis_shards import ShardInfo, partition_of, shard_id_of
from ingestd.stream.spi import connection_settings

PATH = "tableIndexConfig.streamConfigs"
SEQUENCE = 49590338271490256608559692538361571095921575989136588898  # a real Kinesis sequence number


def table(**stream: Any) -> dict[str, Any]:
    configs = {
        "streamType": "kinesis",
        "stream.kinesis.topic.name": "events",
        "stream.kinesis.decoder.class.name": "org.apache.pinot.plugin.inputformat.json.JSONMessageDecoder",
        "region": "eu-west-1",
    } | stream
    return {"tableName": "t", "tableType": "REALTIME", "segmentsConfig": {"timeColumnName": "ts"},
            "tableIndexConfig": {"streamConfigs": {k: v for k, v in configs.items() if v is not None}}}


def stream(**keys: Any) -> StreamConfig:
    return parse_table_config(table(**keys)).stream


def test_pinots_keys_are_read_with_pinots_defaults() -> None:
    settings = kinesis_settings(stream())
    assert (settings.stream_name, settings.region, settings.endpoint) == ("events", "eu-west-1", None)
    assert (settings.max_records, settings.requests_per_second) == (10_000, 1.0)
    assert settings.start is OffsetReset.LARGEST  # shardIteratorType LATEST, Pinot's default
    assert (settings.access_key, settings.secret_key) == (None, None)
    custom = kinesis_settings(stream(endpoint="http://127.0.0.1:4566", accessKey="AKIA", secretKey="s3cr3t",
                                     maxRecordsToFetch="500", requests_per_second_limit="4.5",
                                     shardIteratorType="TRIM_HORIZON"))
    assert (custom.endpoint, custom.access_key) == ("http://127.0.0.1:4566", "AKIA")
    assert custom.secret_key == "s3cr3t"
    assert (custom.max_records, custom.requests_per_second, custom.start) == (500, 4.5, OffsetReset.SMALLEST)


def test_auto_offset_reset_wins_over_shard_iterator_type_and_other_iterator_types_follow_it() -> None:
    both = stream(shardIteratorType="TRIM_HORIZON",
                  **{"stream.kinesis.consumer.prop.auto.offset.reset": "largest"})
    assert kinesis_settings(both).start is OffsetReset.LARGEST
    at_sequence = stream(shardIteratorType="AT_SEQUENCE_NUMBER",
                         **{"stream.kinesis.consumer.prop.auto.offset.reset": "smallest"})
    assert kinesis_settings(at_sequence).start is OffsetReset.SMALLEST


@pytest.mark.parametrize(("keys", "path", "words"), [
    ({"region": None}, "region", "is missing"),
    ({"region": "  "}, "region", "is missing"),
    ({"endpoint": "localhost:4566"}, "endpoint", "http:// or https:// URL"),
    ({"accessKey": "AKIA"}, "secretKey", "go together"),
    ({"secretKey": "s3cr3t"}, "accessKey", "go together"),
    ({"shardIteratorType": "OLDEST"}, "shardIteratorType", "TRIM_HORIZON, LATEST"),
    ({"maxRecordsToFetch": "0"}, "maxRecordsToFetch", "between 1 and 10000"),
    ({"maxRecordsToFetch": "10001"}, "maxRecordsToFetch", "between 1 and 10000"),
    ({"maxRecordsToFetch": "many"}, "maxRecordsToFetch", "whole number"),
    ({"requests_per_second_limit": "0"}, "requests_per_second_limit", "more than 0"),
    ({"requests_per_second_limit": "fast"}, "requests_per_second_limit", "requests per second"),
])
def test_a_bad_kinesis_key_is_a_config_error_naming_it(keys: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_table_config(table(**keys))
    assert caught.value.path == f"{PATH}.{path}"
    assert words in str(caught.value)


def test_iam_role_access_is_refused_as_not_supported_yet() -> None:
    with pytest.raises(NotSupportedYet) as caught:
        parse_table_config(table(iamRoleBasedAccessEnabled="true", roleArn="arn:aws:iam::1:role/r"))
    assert caught.value.path == f"{PATH}.iamRoleBasedAccessEnabled"
    kinesis_settings(stream(iamRoleBasedAccessEnabled="false", roleArn="arn:aws:iam::1:role/r"))


def test_every_key_of_pinots_kinesis_config_is_known_and_the_secret_key_is_masked() -> None:
    assert frozenset(_TYPE_PLAIN_KEYS["kinesis"]) == KINESIS_KEYS
    doc = table(endpoint="http://localhost:4566", accessKey="access", secretKey="secret",
                shardIteratorType="TRIM_HORIZON", maxRecordsToFetch="100", requests_per_second_limit="2",
                **{"stream.kinesis.consumer.factory.class.name":
                   "org.apache.pinot.plugin.stream.kinesis.KinesisConsumerFactory",
                   "stream.kinesis.consumer.prop.auto.offset.reset": "smallest",
                   "realtime.segment.flush.threshold.size": "100000"})
    assert unrecognized_table_properties(doc) == {}
    assert unrecognized_table_properties(table(regoin="x")) == {f"/{PATH.replace('.', '/')}/regoin": "x"}
    masked = mask_secrets(doc)["tableIndexConfig"]["streamConfigs"]
    assert masked["secretKey"] == MASK and masked["region"] == "eu-west-1"


def test_a_kafka_only_key_is_not_required_for_kinesis() -> None:
    config = stream()
    assert config.stream_type == "kinesis" and config.bootstrap_servers == ""
    assert config.consumer_factory.target == "ingestd.stream.kinesis:KinesisConsumerFactory"


def test_shard_ids_are_partition_ids_by_their_number() -> None:
    assert partition_of("shardId-000000000003") == 3
    assert partition_of("shardId-000000000000") == 0
    assert shard_id_of(12) == "shardId-000000000012"
    assert all(partition_of(shard_id_of(p)) == p for p in (0, 1, 99, 10**11))
    with pytest.raises(StreamError, match="does not end in a number"):
        partition_of("shard-a")


def test_shard_descriptions_carry_lineage_and_closing() -> None:
    merged = ShardInfo.from_api({
        "ShardId": "shardId-000000000004", "ParentShardId": "shardId-000000000003",
        "AdjacentParentShardId": "shardId-000000000001",
        "SequenceNumberRange": {"StartingSequenceNumber": str(SEQUENCE)},
    })
    assert merged.parents == ("shardId-000000000003", "shardId-000000000001") and not merged.closed
    assert merged.starting == SEQUENCE
    numbers = {"StartingSequenceNumber": "1", "EndingSequenceNumber": "9"}
    closed = ShardInfo.from_api({"ShardId": "shardId-000000000000", "SequenceNumberRange": numbers})
    assert closed.closed and closed.ending == 9 and closed.parents == () and closed.partition == 0


def test_a_change_of_endpoint_region_or_credentials_is_a_connection_change_flush_thresholds_are_not() -> None:
    base = connection_settings(stream())
    for changed in ({"endpoint": "http://127.0.0.1:4566"}, {"region": "us-west-2"},
                    {"accessKey": "AKIA", "secretKey": "s3cr3t"}):
        assert connection_settings(stream(**changed)) != base
    assert connection_settings(stream(**{"realtime.segment.flush.threshold.rows": "10"})) == base
    assert connection_settings(stream(**{"stream.kinesis.decoder.prop.x": "y"})) == base
