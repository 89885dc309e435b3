"""Pinot's broker response shape: `resultTable` (dataSchema + rows), `exceptions` and the counters.

Every Arrow type a DuckDB answer can have maps to a Pinot column type and a JSON value: Pinot's own
types directly; DATE, TIME, INTERVAL, UUID and other types Pinot lacks as STRING; structs and maps as
JSON; integers beyond 64 bits as BIG_DECIMAL strings. Nothing a query returns can fail to serialize.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa

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
        return value.strftime("%Y-%m-%d %H:%M:%S.") + str(value.microsecond // 100_000)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Decimal):
        return str(value)
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


def result_table(table: pa.Table) -> dict[str, Any]:
    columns = [[json_value(v) for v in _python_values(column)] for column in table.columns]
    return {
        "dataSchema": {
            "columnNames": list(table.column_names),
            "columnDataTypes": [pinot_type(field.type) for field in table.schema],
        },
        "rows": [list(row) for row in zip(*columns, strict=True)] if columns else [],
    }


def _python_values(column: pa.ChunkedArray) -> list[Any]:
    """The column's values as Python objects; a type pyarrow cannot convert becomes its text."""
    try:
        return list(column.to_pylist())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, ValueError, OverflowError):
        return [None if not scalar.is_valid else str(scalar) for scalar in column]


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
