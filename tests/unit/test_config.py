"""Config models: the seed's configs parse unchanged, bad ones name the field."""

from __future__ import annotations

import pytest

from ingestd.config import LoadMode, OffsetReset, parse_schema, parse_table_config
from ingestd.config.schema import DataType, FieldRole
from ingestd.config.units import parse_duration_ms, parse_size_bytes
from ingestd.devtools.seed import seed_schema, seed_table
from ingestd.errors import ConfigError, NotSupportedYet


def test_seed_schema_and_table_parse_unchanged() -> None:
    schema = parse_schema(seed_schema())
    assert schema.column_names == ["studentID", "firstName", "lastName", "gender", "subject", "score",
                                   "timestamp"]
    assert schema.field("score").role is FieldRole.METRIC
    assert schema.field("timestamp").format == "1:MILLISECONDS:EPOCH"
    table = parse_table_config(seed_table(), {"transcript": schema})
    assert table.name == "transcript" and table.time_column == "timestamp"
    assert table.load_mode is LoadMode.MMAP
    assert table.stream.topic == "transcript-topic"
    assert table.stream.bootstrap_servers == "localhost:9876"
    assert table.stream.offset_reset is OffsetReset.SMALLEST
    assert table.stream.flush.rows == 50_000 and table.stream.flush.time_ms == 3_600_000
    assert table.stream.consumer_factory.target == "ingestd.stream.kafka:KafkaConsumerFactory"
    assert table.stream.decoder.target == "ingestd.decode.json_decoder:JsonDecoder"


def test_newer_stream_config_maps_and_old_key_names_are_accepted() -> None:
    doc = seed_table()
    streams = doc["tableIndexConfig"].pop("streamConfigs")
    streams.pop("stream.kafka.consumer.type")
    streams["realtime.segment.flush.threshold.size"] = streams.pop("realtime.segment.flush.threshold.rows")
    streams["realtime.segment.flush.threshold.time"] = "30m"
    streams["stream.kafka.consumer.prop.auto.offset.reset"] = "LARGEST"
    streams["stream.kafka.consumer.prop.fetch.min.bytes"] = "1"
    streams["security.protocol"] = "PLAINTEXT"
    streams["stream.kafka.zk.broker.url"] = "ignored:2181"
    doc["ingestionConfig"] = {"streamIngestionConfig": {"streamConfigMaps": [streams]}}
    table = parse_table_config(doc)
    assert table.stream.flush.rows == 50_000 and table.stream.flush.time_ms == 1_800_000
    assert table.stream.offset_reset is OffsetReset.LARGEST
    assert dict(table.stream.client_properties) == {"fetch.min.bytes": "1", "security.protocol": "PLAINTEXT"}


def test_both_stream_config_locations_is_an_error_naming_both() -> None:
    doc = seed_table()
    doc["ingestionConfig"] = {"streamIngestionConfig": {"streamConfigMaps": [{"streamType": "kafka"}]}}
    with pytest.raises(ConfigError, match="tableIndexConfig.streamConfigs and ingestionConfig"):
        parse_table_config(doc)


def test_transforms_are_rejected_as_not_supported_yet_rather_than_ignored() -> None:
    doc = seed_table()
    transform = {"columnName": "d", "transformFunction": "toEpochDays(t)"}
    doc["ingestionConfig"] = {"transformConfigs": [transform]}
    with pytest.raises(NotSupportedYet, match="ingestionConfig.transformConfigs"):
        parse_table_config(doc)


def test_schema_types_multi_value_and_defaults() -> None:
    schema = parse_schema({
        "schemaName": "all",
        "dimensionFieldSpecs": [{"name": t.value.lower(), "dataType": t.value} for t in DataType]
        + [{"name": "tags", "dataType": "STRING", "singleValueField": False}],
        "metricFieldSpecs": [{"name": "m", "dataType": "DOUBLE"}],
        "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "TIMESTAMP",
                                "granularity": "1:MILLISECONDS"}],
    })
    assert schema.field("tags").single_value is False
    assert schema.field("int").null_value == -(2**31)
    assert schema.field("string").null_value == "null"
    assert schema.field("m").null_value == 0


@pytest.mark.parametrize(("text", "expected"), [
    ("3600000", 3_600_000), ("6h", 21_600_000), ("30m", 1_800_000), ("1d", 86_400_000),
    ("4h30m", 16_200_000), ("10s", 10_000)])
def test_durations(text: str, expected: int) -> None:
    assert parse_duration_ms(text, "x") == expected


@pytest.mark.parametrize("text", ["", "6 hours", "h", "-5m", "0"])
def test_bad_durations_name_the_field(text: str) -> None:
    with pytest.raises(ConfigError, match="^flush.time "):
        parse_duration_ms(text, "flush.time")


@pytest.mark.parametrize(("text", "expected"), [("200M", 200 << 20), ("150MB", 150 << 20), ("1G", 1 << 30),
                                                ("1.5G", 3 << 29), ("1024", 1024)])
def test_sizes(text: str, expected: int) -> None:
    assert parse_size_bytes(text, "x") == expected
