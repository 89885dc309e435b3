"""The JSON decoder: the vectorized path and the per-message path agree; bad messages are isolated."""

from __future__ import annotations

import orjson

from ingestd.config import parse_schema, parse_table_config
from ingestd.decode.json_decoder import JsonDecoder
from ingestd.devtools.seed import seed_configs, seed_records, seed_schema


def seed_decoder() -> JsonDecoder:
    schema_doc, table_doc = seed_configs("t")
    schema = parse_schema(schema_doc)
    return JsonDecoder(schema, parse_table_config(table_doc, {"t": schema}))


def test_vectorized_and_per_message_paths_give_the_same_rows() -> None:
    decoder = seed_decoder()
    values = [*seed_records(), b'{"studentID": 1}', b'{"studentID": 2, "extra": [1, 2]}']
    fast = decoder.decode(values)
    slow = decoder._decode_each(values)
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
    decoder = JsonDecoder(schema, parse_table_config(table_doc, {"t": schema}))
    message = {"tags": ["a", "b"], "payload": {"k": [1]}, "raw": "cafe", "flag": "true", "price": "12.5",
               "seen": "2024-01-01T00:00:00Z", "timestamp": 5}
    row = decoder.decode([orjson.dumps(message), b'{"tags": "solo"}']).rows.to_pylist()
    assert row[0]["tags"] == ["a", "b"] and orjson.loads(row[0]["payload"]) == {"k": [1]}
    assert row[0]["raw"] == b"\xca\xfe" and row[0]["flag"] is True and str(row[0]["price"]).startswith("12.5")
    assert row[0]["seen"].year == 2024 and row[1]["tags"] == ["solo"]
