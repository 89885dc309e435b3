"""How each Pinot data type is stored as an Arrow column, and its default null value as a scalar."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingestd.config.schema import DataType, FieldSpec, Schema

BIG_DECIMAL_TYPE = pa.decimal128(38, 18)

STORAGE_TYPES: dict[DataType, pa.DataType] = {
    DataType.INT: pa.int32(),
    DataType.LONG: pa.int64(),
    DataType.FLOAT: pa.float32(),
    DataType.DOUBLE: pa.float64(),
    DataType.BIG_DECIMAL: BIG_DECIMAL_TYPE,
    DataType.BOOLEAN: pa.bool_(),
    DataType.TIMESTAMP: pa.timestamp("ms"),
    DataType.STRING: pa.string(),
    DataType.JSON: pa.string(),
    DataType.BYTES: pa.binary(),
}


def arrow_type(spec: FieldSpec) -> pa.DataType:
    base = STORAGE_TYPES[spec.data_type]
    return base if spec.single_value else pa.list_(base)


def arrow_schema(schema: Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, arrow_type(f)) for f in schema.fields])


def fill_nulls(column: pa.Array | pa.ChunkedArray, spec: FieldSpec) -> Any:
    """Nulls replaced by the field's default null value (the time column has its own rule)."""
    if column.null_count == 0:
        return column
    return pc.fill_null(column, pa.scalar(spec.null_value, STORAGE_TYPES[spec.data_type]))


def time_values_ms(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A time column as int64 milliseconds (TIMESTAMP columns are stored as timestamp[ms])."""
    if pa.types.is_timestamp(column.type):
        return column.cast(pa.int64())
    return column


def now_ms() -> int:
    return time.time_ns() // 1_000_000
