"""How each Pinot data type is stored as an Arrow column, and its default null value as a scalar."""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.compute as pc

from ingestd.config.schema import DataType, FieldRole, FieldSpec, Schema
from ingestd.config.table import TableConfig

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


DICTIONARY_STRING = pa.dictionary(pa.int32(), pa.string())


def arrow_type(spec: FieldSpec, dictionary: bool = False) -> pa.DataType:
    if dictionary:
        return DICTIONARY_STRING
    base = STORAGE_TYPES[spec.data_type]
    return base if spec.single_value else pa.list_(base)


def arrow_schema(schema: Schema, dictionary_columns: frozenset[str] = frozenset()) -> pa.Schema:
    return pa.schema([pa.field(f.name, arrow_type(f, f.name in dictionary_columns)) for f in schema.fields])


def table_arrow_schema(schema: Schema, table: TableConfig) -> pa.Schema:
    """A table's columns as all its segments store them: its schema, strings dictionary-encoded."""
    return arrow_schema(schema, dictionary_columns(schema, table.time_column, table.no_dictionary_columns))


def dictionary_columns(schema: Schema, time_column: str, no_dictionary: frozenset[str]) -> frozenset[str]:
    """Pinot dictionary-encodes columns unless listed in noDictionaryColumns; ingestd does so for
    single-value STRING dimensions (smaller files, several times faster GROUP BY and filters)."""
    return frozenset(
        f.name for f in schema.fields
        if f.data_type is DataType.STRING and f.single_value and f.role is FieldRole.DIMENSION
        and f.name != time_column and f.name not in no_dictionary
    )


def sliced(batch: pa.RecordBatch, offset: int, length: int | None = None) -> pa.RecordBatch:
    """A slice of `batch` whose dictionaries hold only its own values. (A plain slice keeps the whole
    batch's dictionaries, and a sealed segment would carry its neighbours' values.)"""
    part = batch.slice(offset, length)
    if part.num_rows == batch.num_rows:
        return part
    for index, field in enumerate(part.schema):
        if pa.types.is_dictionary(field.type):
            values = pc.dictionary_decode(part.column(index))
            part = part.set_column(index, field, pc.dictionary_encode(values))
    return part


def time_values_ms(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A time column as int64 milliseconds (TIMESTAMP columns are stored as timestamp[ms])."""
    if pa.types.is_timestamp(column.type):
        return column.cast(pa.int64())
    return column


def now_ms() -> int:
    return time.time_ns() // 1_000_000
