"""The JSON decoder: the vectorized path and the per-message path agree; bad messages are isolated."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from ingestd.config import parse_schema, parse_table_config
from ingestd.decode import json_batch
from ingestd.decode.json_decoder import JsonDecoder
from ingestd.devtools.seed import seed_configs, seed_records, seed_schema
from tests.support.decoding import Conformed


def seed_decoder() -> Conformed:
    schema_doc, table_doc = seed_configs("t")
    schema = parse_schema(schema_doc)
    table = parse_table_config(table_doc, {"t": schema})
    return Conformed(JsonDecoder(schema, table), schema, table)


def test_vectorized_and_per_message_paths_give_the_same_rows() -> None:
    decoder = seed_decoder()
    values = [*seed_records(), b'{"studentID": 1}', b'{"studentID": 2, "extra": [1, 2]}']
    fast = decoder.decode(values)
    slow = decoder.conform(decoder.decoder._decode_each(values))
    assert fast.bad_indices == slow.bad_indices == []
    assert fast.rows.schema == slow.rows.schema
    fast_rows = fast.rows.drop_columns(["timestamp"]).to_pylist()
    assert fast_rows == slow.rows.drop_columns(["timestamp"]).to_pylist()
    assert fast.rows.column("timestamp").to_pylist()[:12] == slow.rows.column("timestamp").to_pylist()[:12]


def test_missing_fields_get_pinot_default_null_values_and_the_time_column_gets_now() -> None:
    rows = seed_decoder().decode([b'{"studentID": 7}']).rows.to_pylist()[0]
    assert rows["firstName"] == "null" and rows["score"] == 0.0
    assert rows["timestamp"] > 1_700_000_000_000


def test_bad_messages_are_reported_by_index_and_the_rest_decoded() -> None:
    values = [seed_records()[0], b"{oops", seed_records()[1], b'{"studentID": true}', b'"a string"',
              b'{"studentID": 99999999999}', seed_records()[2]]
    decoded = seed_decoder().decode(values)
    assert decoded.bad_indices == [1, 3, 4, 5]
    assert decoded.rows.column("subject").to_pylist() == ["Maths", "History", "Maths"]
    assert [decoded.message_index_of_row(r, len(values)) for r in range(4)] == [0, 2, 6, 7]
    assert decoded.first_error and decoded.first_error.startswith("message 1:")


def test_the_per_message_path_handles_every_type_and_multi_values() -> None:
    schema_doc = seed_schema() | {
        "schemaName": "t",
        "dimensionFieldSpecs": [
            {"name": "tags", "dataType": "STRING", "singleValueField": False},
            {"name": "payload", "dataType": "JSON"}, {"name": "raw", "dataType": "BYTES"},
            {"name": "flag", "dataType": "BOOLEAN"}, {"name": "price", "dataType": "BIG_DECIMAL"},
            {"name": "seen", "dataType": "TIMESTAMP"},
        ],
        "metricFieldSpecs": [],
    }
    schema = parse_schema(schema_doc)
    _, table_doc = seed_configs("t")
    table = parse_table_config(table_doc, {"t": schema})
    decoder = Conformed(JsonDecoder(schema, table), schema, table)
    message = {"tags": ["a", "b"], "payload": {"k": [1]}, "raw": "cafe", "flag": "true", "price": "12.5",
               "seen": "2024-01-01T00:00:00Z", "timestamp": 5}
    row = decoder.decode([orjson.dumps(message), b'{"tags": "solo"}']).rows.to_pylist()
    assert row[0]["tags"] == ["a", "b"] and orjson.loads(row[0]["payload"]) == {"k": [1]}
    assert row[0]["raw"] == b"\xca\xfe" and row[0]["flag"] is True and str(row[0]["price"]).startswith("12.5")
    assert row[0]["seen"].year == 2024 and row[1]["tags"] == ["solo"]


def typed_decoder() -> Conformed:
    schema_doc = seed_schema() | {
        "schemaName": "t",
        "dimensionFieldSpecs": [
            {"name": "i", "dataType": "INT"}, {"name": "l", "dataType": "LONG"},
            {"name": "f", "dataType": "FLOAT"}, {"name": "d", "dataType": "DOUBLE"},
            {"name": "b", "dataType": "BOOLEAN"}, {"name": "s", "dataType": "STRING"},
            {"name": "seen", "dataType": "TIMESTAMP"},
            {"name": "ids", "dataType": "INT", "singleValueField": False},
            {"name": "tags", "dataType": "STRING", "singleValueField": False},
        ],
        "metricFieldSpecs": [],
    }
    schema = parse_schema(schema_doc)
    _, table_doc = seed_configs("t")
    table = parse_table_config(table_doc, {"t": schema})
    return Conformed(JsonDecoder(schema, table), schema, table)


def random_document(rng: random.Random) -> dict[str, Any]:
    def text() -> str:
        return "".join(rng.choice('aé😀\u2028"\\/\n\t{}[]0 ') for _ in range(rng.randint(0, 6)))

    document = {
        "i": rng.choice([0, -1, 2**31 - 1, -(2**31), rng.randint(-1000, 1000)]),
        "l": rng.choice([2**63 - 1, -(2**63), rng.randint(-(2**40), 2**40)]),
        "f": rng.choice([0.1, -2.5e-3, 3.4e38, rng.uniform(-1e6, 1e6)]),
        "d": rng.choice([1e308, -0.0, 5e-324, rng.random()]),
        "b": rng.random() < 0.5, "s": text(), "seen": rng.randint(0, 4 * 10**12),
        "ids": [rng.choice([None, rng.randint(-5, 5)]) for _ in range(rng.randint(0, 3))],
        "tags": [rng.choice([None, text()]) for _ in range(rng.randint(0, 3))],
        "timestamp": 1_600_000_000_000 + rng.randint(0, 10**6), "unknown": {"nested": [1, {"x": None}]},
    }
    return {k: v for k, v in document.items() if rng.random() < 0.9 or k == "timestamp"} | {
        k: None for k in ("s", "ids") if rng.random() < 0.05}


@pytest.mark.parametrize("engine", ["polars", "pyarrow"])
def test_each_engine_agrees_with_the_per_message_path_on_random_batches(
        engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_batch, "ENGINE", engine)
    decoder = typed_decoder()
    reader = decoder.decoder._batch_reader
    assert type(reader).__name__ == {"polars": "PolarsJsonBatch", "pyarrow": "ArrowJsonBatch"}[engine]
    rng = random.Random(3)
    values = [orjson.dumps(random_document(rng)) for _ in range(500)]
    assert reader.read(b"\n".join(values), len(values)) is not None  # the vectorized path took it
    fast = decoder.decode(values)
    slow = decoder.conform(decoder.decoder._decode_each(values))
    assert fast.bad_indices == slow.bad_indices == []
    assert fast.rows.equals(slow.rows)


@pytest.mark.parametrize("value", [b'5', b'1.0', b'true', b'{"a": 1}', b'[1]', b'"\\ud800"'])
def test_a_string_field_holding_another_json_type_leaves_the_decision_to_the_per_message_path(
        value: bytes) -> None:
    """polars would turn 5 into "5", 1.0 into "1" and an object into its text, and an unpaired
    surrogate escape into NUL: the vectorized path refuses them and the per-message path decides."""
    decoder = typed_decoder()
    values = [b'{"s": "ok", "timestamp": 1}', b'{"s": ' + value + b', "timestamp": 2}']
    fast = decoder.decode(values)
    slow = decoder.conform(decoder.decoder._decode_each(values))
    assert fast.bad_indices == slow.bad_indices and fast.rows.equals(slow.rows)
    expected = {b'5': "5", b'1.0': "1.0", b'true': "true"}.get(value)
    if expected is None:
        assert fast.bad_indices == [1]
    else:
        assert fast.rows.column("s").to_pylist() == ["ok", expected]
