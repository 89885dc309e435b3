"""Every type a DuckDB answer can have maps to a Pinot column type and a JSON-serializable value."""

from __future__ import annotations

import duckdb
import orjson

from ingestd.query.response import result_table


def answer(sql: str) -> dict:
    table = duckdb.connect().sql(sql).to_arrow_table()
    document = result_table(table)
    orjson.dumps(document)  # must never fail
    return document


def test_types_pinot_lacks_become_strings_or_json() -> None:
    document = answer("SELECT INTERVAL 1 DAY AS i, INTERVAL '1 month 2 hours 1.5 seconds' AS j, "
                      "DATE '2020-01-02' AS d, TIME '12:34:56' AS t, {'a': 1, 'b': [1, 2]} AS s, "
                      "MAP {'k': 2} AS m, uuid() AS u, NULL AS n")
    types = dict(zip(document["dataSchema"]["columnNames"], document["dataSchema"]["columnDataTypes"],
                     strict=True))
    row = dict(zip(document["dataSchema"]["columnNames"], document["rows"][0], strict=True))
    assert types == {"i": "STRING", "j": "STRING", "d": "STRING", "t": "STRING", "s": "JSON", "m": "JSON",
                     "u": "STRING", "n": "STRING"}
    assert row["i"] == "P1D"
    assert row["j"] == "P1MT7201.5S"
    assert row["d"] == "2020-01-02" and row["t"] == "12:34:56"
    assert orjson.loads(row["s"]) == {"a": 1, "b": [1, 2]}
    assert len(row["u"]) == 36 and row["n"] is None


def test_wide_integers_and_decimals_are_big_decimal_strings() -> None:
    document = answer("SELECT 170141183460469231731687303715884105727::HUGEINT AS h, "
                      "18446744073709551615::UBIGINT AS u, 1.25::DECIMAL(10, 2) AS d, 7::UTINYINT AS small")
    assert document["dataSchema"]["columnDataTypes"] == ["BIG_DECIMAL", "BIG_DECIMAL", "BIG_DECIMAL", "INT"]
    assert document["rows"] == [
        ["170141183460469231731687303715884105727", "18446744073709551615", "1.25", 7]]


def test_pinot_types_and_special_floats() -> None:
    document = answer("SELECT 1::INT AS a, 2::BIGINT AS b, 1.5::FLOAT AS c, 'inf'::DOUBLE AS d, "
                      "'nan'::DOUBLE AS e, TRUE AS f, '\\x01'::BLOB AS g, [1, 2] AS h, "
                      "TIMESTAMP '2020-01-01 10:00:00.5' AS i")
    assert document["dataSchema"]["columnDataTypes"] == [
        "INT", "LONG", "FLOAT", "DOUBLE", "DOUBLE", "BOOLEAN", "BYTES", "INT_ARRAY", "TIMESTAMP"]
    assert document["rows"][0][3:5] == ["Infinity", "NaN"]
