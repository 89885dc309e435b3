"""auto.offset.reset in every form Pinot accepts, and stream.kafka.partition.ids: parsing and errors."""

from __future__ import annotations

import pytest

from ingestd.config import parse_schema, parse_table_config
from ingestd.config.offset_reset import OffsetReset, parse_offset_reset
from ingestd.devtools.seed import seed_configs
from ingestd.errors import ConfigError, StreamError
from ingestd.stream.partition_subset import parse_partition_ids, select_partitions

RESET_KEY = "stream.kafka.consumer.prop.auto.offset.reset"


@pytest.mark.parametrize(("text", "policy"), [
    ("smallest", OffsetReset.SMALLEST), ("EARLIEST", OffsetReset.SMALLEST),
    ("Largest", OffsetReset.LARGEST), ("latest", OffsetReset.LARGEST)])
def test_named_policies(text: str, policy: OffsetReset) -> None:
    assert parse_offset_reset(text, "p") == (policy, None)


def test_milliseconds_iso_instants_and_periods_are_points_in_time() -> None:
    policy, at = parse_offset_reset("1571900400000", "p")
    assert policy is OffsetReset.TIMESTAMP and at is not None and at.start_ms() == 1_571_900_400_000
    _, iso = parse_offset_reset("2022-08-09T12:31:38.222Z", "p")
    assert iso is not None and iso.start_ms() == 1_660_048_298_222
    _, shifted = parse_offset_reset("2022-08-09T14:31:38.222+02:00", "p")
    assert shifted is not None and shifted.start_ms() == 1_660_048_298_222
    _, period = parse_offset_reset("4h30m", "p")
    assert period is not None and period.start_ms(now_ms=10_000_000_000) == 10_000_000_000 - 16_200_000
    _, days = parse_offset_reset("2d", "p")
    assert days is not None and days.start_ms(now_ms=200_000_000) == 200_000_000 - 172_800_000


@pytest.mark.parametrize("bad", ["-6h", "yesterday", "2022-08-09T12:31:38", "4m30h", "", "12.5"])
def test_anything_else_is_rejected_naming_the_key(bad: str) -> None:
    schema_doc, table_doc = seed_configs("t", **{RESET_KEY: bad})
    with pytest.raises(ConfigError) as caught:
        parse_table_config(table_doc, {"t": parse_schema(schema_doc)})
    assert caught.value.path.endswith(RESET_KEY)
    assert "ISO-8601" in caught.value.problem


def test_a_table_config_carries_the_time() -> None:
    schema_doc, table_doc = seed_configs("t", **{RESET_KEY: "2d"})
    stream = parse_table_config(table_doc, {"t": parse_schema(schema_doc)}).stream
    assert stream.offset_reset is OffsetReset.TIMESTAMP
    assert stream.offset_reset_time is not None and stream.offset_reset_time.period_ms == 172_800_000


def test_partition_ids_in_pinots_forms() -> None:
    assert parse_partition_ids("0,2,5", "p") == (0, 2, 5)
    assert parse_partition_ids("3-5", "p") == (3, 4, 5)
    assert parse_partition_ids(" 0-2, 7 ,2,", "p") == (0, 1, 2, 7)
    assert parse_partition_ids("  ", "p") is None
    assert parse_partition_ids(None, "p") is None


@pytest.mark.parametrize("bad", ["a", "5-3", "-1", "0-99999999", "1,x-2"])
def test_bad_partition_ids_are_rejected_when_the_table_config_is_parsed(bad: str) -> None:
    schema_doc, table_doc = seed_configs("t", **{"stream.kafka.partition.ids": bad})
    with pytest.raises(ConfigError) as caught:
        parse_table_config(table_doc, {"t": parse_schema(schema_doc)})
    assert caught.value.path.endswith("stream.kafka.partition.ids")


def test_partition_ids_the_topic_lacks_are_named() -> None:
    assert select_partitions("t", [0, 1, 2], (0, 2)) == [0, 2]
    assert select_partitions("t", [0, 1, 2], None) == [0, 1, 2]
    with pytest.raises(StreamError, match=r"\[5\]"):
        select_partitions("t", [0, 1, 2], (1, 5))
