"""Pinot's broker response shape: `resultTable` (dataSchema + rows), `exceptions` and the counters.

Every Arrow type a DuckDB answer can have maps to a Pinot column type and a JSON value: Pinot's own
types directly; DATE, TIME, INTERVAL, UUID and other types Pinot lacks as STRING; structs and maps as
JSON; integers beyond 64 bits as BIG_DECIMAL strings. Nothing a query returns can fail to serialize.
Values are written as Pinot writes them: a FLOAT as Java prints a float (3.8, not 3.799999952316284),
a TIMESTAMP as java.sql.Timestamp prints it (`2019-10-24 07:00:00.123`, at least one fraction digit), a
BIG_DECIMAL as a plain decimal string without trailing zeros.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

if TYPE_CHECKING:
    from ingestd.query.plan import QueryPlan

_LONG_RANGE = range(-(2**63), 2**63)
_SCALAR_NAMES: list[tuple[Callable[[pa.DataType], bool], str]] = [
    (pa.types.is_boolean, "BOOLEAN"),
    (lambda t: pa.types.is_integer(t) and t.bit_width <= 32 and pa.types.is_signed_integer(t), "INT"),
    (lambda t: pa.types.is_integer(t) and t.bit_width <= 16, "INT"),
    (lambda t: pa.types.is_signed_integer(t) or t == pa.uint32(), "LONG"),
    (lambda t: pa.types.is_integer(t) or pa.types.is_decimal(t), "BIG_DECIMAL"),
    (lambda t: pa.types.is_floating(t) and t.bit_width <= 32, "FLOAT"),
    (pa.types.is_floating, "DOUBLE"),
    (pa.types.is_timestamp, "TIMESTAMP"),
    (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t),
     "BYTES"),
    (lambda t: pa.types.is_struct(t) or pa.types.is_map(t), "JSON"),
]


def pinot_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_dictionary(arrow_type):
        return pinot_type(arrow_type.value_type)
    if isinstance(arrow_type, pa.ExtensionType):
        return pinot_type(arrow_type.storage_type) if not _is_uuid(arrow_type) else "STRING"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(
            arrow_type):
        element = pinot_type(arrow_type.value_type)
        return "JSON" if element == "JSON" else f"{element}_ARRAY"
    return next((name for test, name in _SCALAR_NAMES if test(arrow_type)), "STRING")


def _is_uuid(arrow_type: pa.DataType) -> bool:
    return "uuid" in str(getattr(arrow_type, "extension_name", "")).lower()


def json_value(value: Any) -> Any:
    """A result value as Pinot's JSON has it (TIMESTAMP as 'yyyy-MM-dd HH:mm:ss.S', BYTES as hex)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if value in _LONG_RANGE else str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.") + (f"{value.microsecond // 1000:03d}".rstrip("0") or "0")
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Decimal):
        return _plain_decimal(value)
    if isinstance(value, list | tuple) and not _is_interval(value):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    if isinstance(value, dt.timedelta):
        return _interval_text(0, value.days, value.seconds * 10**9 + value.microseconds * 1000)
    if _is_interval(value):
        return _interval_text(*value)
    return str(value)  # DATE, TIME, UUID and anything else Pinot has no type for: its text


def _is_interval(value: Any) -> bool:
    return type(value).__name__ == "MonthDayNano"


def _interval_text(months: int, days: int, nanoseconds: int) -> str:
    """An interval as ISO-8601 (`P1M2DT3.5S`), the form Pinot's period functions read."""
    seconds = Decimal(nanoseconds) / 10**9
    text = "P" + (f"{months}M" if months else "") + (f"{days}D" if days else "")
    if seconds:
        text += "T" + f"{seconds.normalize():f}S"
    return text if text != "P" else "PT0S"


def java_float(value: float) -> float:
    """The float32 `value` as the shortest decimal that reads back as the same float32 (Java's
    Float.toString digits), e.g. 3.799999952316284 → 3.8."""
    if not math.isfinite(value):
        return value
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.unpack("f", struct.pack("f", candidate))[0] == value:
            return candidate
    return value


def _plain_decimal(value: Decimal) -> str:
    if not value.is_finite():
        return str(value)
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def result_table(table: pa.Table, json_columns: Sequence[int] = ()) -> dict[str, Any]:
    """`json_columns`: positions holding a JSON column's text as stored (typed JSON for the client)."""
    columns = [[json_value(v) for v in _python_values(column)] for column in table.columns]
    types = [pinot_type(field.type) for field in table.schema]
    for index in json_columns:
        if index < len(types) and types[index] == "STRING":
            types[index] = "JSON"
    return {
        "dataSchema": {"columnNames": list(table.column_names), "columnDataTypes": types},
        "rows": [list(row) for row in zip(*columns, strict=True)] if columns else [],
    }


def _python_values(column: pa.ChunkedArray) -> list[Any]:
    """The column's values as Python objects; a type pyarrow cannot convert becomes its text."""
    if column.type == pa.float32():  # shortest text that reads back as the same float, like Java's
        return [None if v is None else java_float(v) for v in column.to_pylist()]
    try:
        return list(column.to_pylist())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, ValueError, OverflowError):
        return [None if not scalar.is_valid else str(scalar) for scalar in column]


def explain_response(plan: QueryPlan, time_used_ms: int, request_id: int) -> dict[str, Any]:
    """EXPLAIN PLAN FOR: the plan as Pinot's (Operator, Operator_Id, Parent_Id) table."""
    rows = [[f"BROKER_REDUCE(plan:{plan.kind},sql:{plan.broker_sql})", 1, 0],
            ["SCATTER(workers:each owning partitions of the table)", 2, 1],
            [f"WORKER_QUERY(sql:{plan.worker_sql})", 3, 2]]
    if plan.count_sql:
        rows.append([f"WORKER_COUNT_MATCHED(sql:{plan.count_sql})", 4, 2])
    return {
        "resultTable": {"dataSchema": {"columnNames": ["Operator", "Operator_Id", "Parent_Id"],
                                       "columnDataTypes": ["STRING", "INT", "INT"]}, "rows": rows},
        "exceptions": [], "partialResult": False, "numRowsResultSet": len(rows), "requestId": str(request_id),
        "timeUsedMs": time_used_ms,
    }


def error_response(code: int, message: str, time_used_ms: int, request_id: int | None = None
                   ) -> dict[str, Any]:
    response: dict[str, Any] = {
        "exceptions": [{"errorCode": code, "message": message}],
        "partialResult": False,
        "numServersQueried": 0,
        "numServersResponded": 0,
        "numDocsScanned": 0,
        "totalDocs": 0,
        "timeUsedMs": time_used_ms,
    }
    if request_id is not None:
        response["requestId"] = str(request_id)
    return response
