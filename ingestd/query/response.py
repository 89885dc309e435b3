"""Pinot's broker response shape: `resultTable` (dataSchema + rows), `exceptions` and the counters."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

_SCALAR_NAMES: list[tuple[Any, str]] = [
    (pa.types.is_boolean, "BOOLEAN"),
    (lambda t: pa.types.is_integer(t) and t.bit_width <= 32 and pa.types.is_signed_integer(t), "INT"),
    (pa.types.is_integer, "LONG"),
    (lambda t: pa.types.is_floating(t) and t.bit_width <= 32, "FLOAT"),
    (pa.types.is_floating, "DOUBLE"),
    (pa.types.is_decimal, "BIG_DECIMAL"),
    (pa.types.is_timestamp, "TIMESTAMP"),
    (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t), "BYTES"),
]


def pinot_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_dictionary(arrow_type):
        return pinot_type(arrow_type.value_type)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"{pinot_type(arrow_type.value_type)}_ARRAY"
    return next((name for test, name in _SCALAR_NAMES if test(arrow_type)), "STRING")


def json_value(value: Any) -> Any:
    """A result value as Pinot's JSON has it (TIMESTAMP as 'yyyy-MM-dd HH:mm:ss.S', BYTES as hex)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.") + str(value.microsecond // 100_000)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


def result_table(table: pa.Table) -> dict[str, Any]:
    columns = [[json_value(v) for v in column.to_pylist()] for column in table.columns]
    return {
        "dataSchema": {
            "columnNames": list(table.column_names),
            "columnDataTypes": [pinot_type(field.type) for field in table.schema],
        },
        "rows": [list(row) for row in zip(*columns, strict=True)] if columns else [],
    }


def error_response(code: int, message: str, time_used_ms: int) -> dict[str, Any]:
    return {
        "exceptions": [{"errorCode": code, "message": message}],
        "numServersQueried": 0,
        "numServersResponded": 0,
        "numDocsScanned": 0,
        "totalDocs": 0,
        "timeUsedMs": time_used_ms,
    }
