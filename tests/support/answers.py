"""Comparing the server's answer to a query with DuckDB's answer over the same rows: exact in meaning,
fair in form. Numbers are compared with a float tolerance (a JSON "Infinity" or a BIG_DECIMAL string is
its number); rows in sequence when the query orders them totally, otherwise as multisets; and when the
expected rows are a LIMIT's pick of a larger result without a total order, any pick of the right size
from that larger result is right.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa

NUMERIC = {"INT", "LONG", "FLOAT", "DOUBLE", "BIG_DECIMAL"}
SHOWN_ROWS = 15


@dataclass(frozen=True)
class Answer:
    names: list[str]
    types: list[str]
    rows: list[list[Any]]

    def show(self) -> str:
        head = "\n".join(f"    {row!r}" for row in self.rows[:SHOWN_ROWS])
        more = f"\n    ... {len(self.rows) - SHOWN_ROWS} more" if len(self.rows) > SHOWN_ROWS else ""
        return f"{len(self.rows)} rows, columns {self.names} types {self.types}\n{head}{more}"


def pinot_type(arrow_type: pa.DataType) -> str:
    """The column type names of Pinot's broker response (README) for an Arrow type."""
    if pa.types.is_dictionary(arrow_type):
        return pinot_type(arrow_type.value_type)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return pinot_type(arrow_type.value_type) + "_ARRAY"
    checks = [(pa.types.is_boolean, "BOOLEAN"),
              (lambda t: pa.types.is_signed_integer(t) and t.bit_width <= 32, "INT"),
              (pa.types.is_integer, "LONG"),
              (lambda t: pa.types.is_floating(t) and t.bit_width <= 32, "FLOAT"),
              (pa.types.is_floating, "DOUBLE"), (pa.types.is_decimal, "BIG_DECIMAL"),
              (pa.types.is_timestamp, "TIMESTAMP"), (pa.types.is_binary, "BYTES")]
    return next((name for check, name in checks if check(arrow_type)), "STRING")


def pinot_name(duckdb_name: str) -> str:
    return duckdb_name.replace("count_star()", "count(*)")


def reference_answer(connection: duckdb.DuckDBPyConnection, user_sql: str, reference_sql: str) -> Answer:
    """DuckDB's answer: values and types from `reference_sql` (Pinot's conventions written out), column
    names from the user's own query (as Pinot names them: `sum(score)`, `count(*)`), except for a lone
    `SELECT *`, whose reference lists the columns in Pinot's (alphabetical) order."""
    table = connection.sql(reference_sql).to_arrow_table()
    named_by = reference_sql if user_sql.startswith("SELECT * FROM") else user_sql
    names = [pinot_name(name) for name in connection.sql(named_by).columns]
    types = [pinot_type(field.type) for field in table.schema]
    return Answer(names, types, [list(row.values()) for row in table.to_pylist()])


def reference_rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[list[Any]]:
    return [list(row) for row in connection.execute(sql).fetchall()]


def server_answer(response: dict[str, Any]) -> Answer:
    table = response["resultTable"]
    schema = table["dataSchema"]
    rows = [list(row) for row in table["rows"]]
    return Answer(list(schema["columnNames"]), list(schema["columnDataTypes"]), rows)


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)  # "Infinity", "NaN", a BIG_DECIMAL's text
        except ValueError:
            return value
    return value


def _normal(row: list[Any], numeric: list[bool]) -> tuple[Any, ...]:
    return tuple(_number(v) if n else v for v, n in zip(row, numeric, strict=False))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_value(got: Any, want: Any) -> bool:
    if _is_number(got) and _is_number(want):
        if isinstance(got, int) and isinstance(want, int):
            return got == want
        got, want = float(got), float(want)
        if math.isnan(got) or math.isnan(want):
            return math.isnan(got) and math.isnan(want)
        return got == want or math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)
    return type(got) is type(want) and got == want


def _same_row(got: tuple[Any, ...], want: tuple[Any, ...]) -> bool:
    return len(got) == len(want) and all(_same_value(g, w) for g, w in zip(got, want, strict=True))


def _key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Equal for equal rows; near-equal floats usually too (the rest are matched with a tolerance)."""
    def part(v: Any) -> Any:
        if isinstance(v, float) and math.isfinite(v):
            return int(v) if v.is_integer() and abs(v) < 2**53 else f"{v:.12g}"
        return v

    return tuple(part(v) for v in row)


def _unmatched(got: list[tuple[Any, ...]], pool: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows of `got` left over after matching each to a distinct row of `pool`."""
    available: dict[Any, list[tuple[Any, ...]]] = {}
    for row in pool:
        available.setdefault(_key(row), []).append(row)
    leftovers = []
    for row in got:
        bucket = available.get(_key(row))
        if bucket:
            bucket.pop()
        else:
            leftovers.append(row)
    rest = [row for bucket in available.values() for row in bucket]
    unmatched = []
    for row in leftovers:  # near-equal floats that printed differently
        match = next((i for i, candidate in enumerate(rest) if _same_row(row, candidate)), None)
        if match is None:
            unmatched.append(row)
        else:
            rest.pop(match)
    return unmatched


def first_difference(got: Answer, want: Answer, ordered: bool,
                     full_rows: list[list[Any]] | None) -> str | None:
    """None when the rows agree; else a description of the first difference. `full_rows`: the whole
    result a LIMIT picked from (None when `want.rows` is the whole result)."""
    numeric = [t in NUMERIC for t in want.types]
    mine = [_normal(r, numeric) for r in got.rows]
    theirs = [_normal(r, numeric) for r in want.rows]
    if any(len(row) != len(want.names) for row in mine):
        return f"rows have {len(mine[0])} values, expected {len(want.names)}"
    if ordered:
        for index, (g, w) in enumerate(zip(mine, theirs, strict=False)):
            if not _same_row(g, w):
                return f"row {index}: got {list(g)!r}, expected {list(w)!r}"
        if len(mine) != len(theirs):
            return f"got {len(mine)} rows, expected {len(theirs)}"
        return None
    if len(mine) != len(theirs):
        return f"got {len(mine)} rows, expected {len(theirs)}"
    pool = theirs if full_rows is None else [_normal(r, numeric) for r in full_rows]
    wrong = _unmatched(mine, pool)
    if wrong:
        missing = _unmatched(theirs, mine) if full_rows is None else []
        counts = Counter(_key(row) for row in wrong)
        return (f"{len(wrong)} rows not in the expected result, e.g. {list(wrong[0])!r} "
                f"({counts[_key(wrong[0])]}x)" + (f"; missing e.g. {list(missing[0])!r}" if missing else ""))
    return None
