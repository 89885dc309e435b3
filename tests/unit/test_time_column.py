"""The time column follows Pinot: missing values get the default (or now, in the column's unit);
out-of-range values are kept and counted, or replaced when rowTimeValueCheck is on."""

from __future__ import annotations

import time
from typing import Any

import orjson

from ingestd.config import parse_schema, parse_table_config
from ingestd.decode.json_decoder import JsonDecoder
from ingestd.devtools.seed import seed_configs
from tests.support.decoding import Conformed


def decoder(time_field: dict[str, Any], row_time_check: bool = False) -> Conformed:
    schema_doc, table_doc = seed_configs("t")
    schema_doc["dateTimeFieldSpecs"] = [{"name": "timestamp", "granularity": "1:SECONDS"} | time_field]
    if row_time_check:
        table_doc["ingestionConfig"] = {"rowTimeValueCheck": True}
    schema = parse_schema(schema_doc)
    table = parse_table_config(table_doc, {"t": schema})
    return Conformed(JsonDecoder(schema, table), schema, table)


def times(batch: Any) -> list[int]:
    return batch.rows.column("timestamp").to_pylist()


def test_a_missing_time_becomes_now_in_the_columns_own_unit() -> None:
    seconds = decoder({"dataType": "LONG", "format": "1:SECONDS:EPOCH"})
    decoded = seconds.decode([b'{"studentID": 1}', b'{"studentID": 2, "timestamp": 1700000000}'])
    assert abs(times(decoded)[0] - time.time()) < 5 and times(decoded)[1] == 1_700_000_000
    assert decoded.time_defaulted == 1 and decoded.time_invalid == 0


def test_a_valid_default_null_value_is_used_for_a_missing_time() -> None:
    with_default = decoder({"dataType": "LONG", "format": "1:MILLISECONDS:EPOCH",
                            "defaultNullValue": 1_600_000_000_000})
    assert times(with_default.decode([b'{"studentID": 1}'])) == [1_600_000_000_000]


def test_out_of_range_times_are_kept_and_counted_or_replaced_with_row_time_value_check() -> None:
    values = [orjson.dumps({"studentID": 1, "timestamp": t}) for t in (5, 1_600_000_000_000, 9 * 10**15)]
    kept = decoder({"dataType": "LONG", "format": "1:MILLISECONDS:EPOCH"}).decode(values)
    assert times(kept) == [5, 1_600_000_000_000, 9 * 10**15] and kept.time_invalid == 2
    checked = decoder({"dataType": "LONG", "format": "1:MILLISECONDS:EPOCH"}, row_time_check=True)
    replaced = checked.decode(values)
    assert replaced.time_invalid == 2 and times(replaced)[1] == 1_600_000_000_000
    assert all(abs(t - time.time() * 1000) < 5_000 for t in (times(replaced)[0], times(replaced)[2]))
