"""JSON messages → Arrow: one vectorized pyarrow parse per batch, a per-message path for bad batches.

The fast path joins the batch's values with newlines and parses them as NDJSON against an explicit
schema in one call (no Python object per row). If that fails for any reason (a malformed message,
a value of the wrong type, an embedded newline), the batch is decoded again one message at a time
so that only the bad messages are dropped, each counted by its index.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pyarrow.json as pa_json

from ingestd.columns import fill_nulls, table_arrow_schema
from ingestd.config.schema import DataType, FieldSpec, Schema
from ingestd.config.table import TableConfig
from ingestd.decode.spi import DecodedBatch
from ingestd.decode.time_column import TimeColumnPolicy
from ingestd.decode.values import CONVERTERS

# Types pyarrow's JSON reader parses straight from JSON scalars (TIMESTAMP parses as int64 first).
_PARSE_TYPES: dict[DataType, pa.DataType] = {
    DataType.INT: pa.int32(),
    DataType.LONG: pa.int64(),
    DataType.FLOAT: pa.float32(),
    DataType.DOUBLE: pa.float64(),
    DataType.BOOLEAN: pa.bool_(),
    DataType.STRING: pa.string(),
    DataType.TIMESTAMP: pa.int64(),
}


class JsonDecoder:
    def __init__(self, schema: Schema, table: TableConfig) -> None:
        self._fields = schema.fields
        self._time_column = table.time_column
        self._time_index = schema.column_names.index(table.time_column)
        time_spec = schema.fields[self._time_index]
        check_range = bool(table.raw.get("ingestionConfig", {}).get("rowTimeValueCheck", False))
        self._time_policy = TimeColumnPolicy(time_spec, check_range)
        self._schema = table_arrow_schema(schema, table)
        vectorizable = all(f.single_value and f.data_type in _PARSE_TYPES for f in schema.fields)
        self._parse_options = (
            pa_json.ParseOptions(
                explicit_schema=pa.schema([(f.name, _PARSE_TYPES[f.data_type]) for f in schema.fields]),
                unexpected_field_behavior="ignore",
            )
            if vectorizable
            else None
        )

    def decode(self, values: list[bytes | None]) -> DecodedBatch:
        decoded = None
        if self._parse_options is not None and None not in values:
            rows = self._decode_vectorized(values)
            if rows is not None:
                decoded = DecodedBatch(rows)
        if decoded is None:
            decoded = self._decode_each(values)
        return self._fix_time_column(decoded)

    def _fix_time_column(self, decoded: DecodedBatch) -> DecodedBatch:
        column, fixes = self._time_policy.apply(decoded.rows.column(self._time_index))
        decoded.rows = decoded.rows.set_column(self._time_index, self._time_column, column)
        decoded.time_defaulted, decoded.time_invalid = fixes.defaulted, fixes.invalid
        return decoded

    def _decode_vectorized(self, values: list[bytes]) -> pa.RecordBatch | None:
        joined = b"\n".join(values)
        if joined.count(b"\n") != len(values) - 1:
            return None  # a value holds a newline: line boundaries are not message boundaries
        try:
            parsed = pa_json.read_json(
                pa.py_buffer(joined),
                read_options=pa_json.ReadOptions(use_threads=False, block_size=len(joined) + 1),
                parse_options=self._parse_options,
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if parsed.num_rows != len(values):
            return None  # e.g. an empty message: pyarrow skips blank lines
        columns = [self._finish(parsed.column(i), spec, self._schema.field(i).type)
                   for i, spec in enumerate(self._fields)]
        return pa.Table.from_arrays(columns, schema=self._schema).combine_chunks().to_batches()[0]

    def _finish(self, column: pa.ChunkedArray, spec: FieldSpec, target: pa.DataType) -> pa.ChunkedArray:
        if spec.name != self._time_column:  # the time column's nulls are _fix_time_column's
            column = fill_nulls(column, spec)
        return column if column.type == target else column.cast(target)

    def _decode_each(self, values: list[bytes | None]) -> DecodedBatch:
        columns: list[list[Any]] = [[] for _ in self._fields]
        bad: list[int] = []
        first_error: str | None = None
        for index, value in enumerate(values):
            try:
                row = self._convert_row(value)
            except (ValueError, TypeError, ArithmeticError, orjson.JSONDecodeError) as exc:
                bad.append(index)
                first_error = first_error or f"message {index}: {type(exc).__name__}: {exc}"
                continue
            for column, item in zip(columns, row, strict=True):
                column.append(item)
        arrays = [pa.array(col, type=self._schema.field(i).type) for i, col in enumerate(columns)]
        return DecodedBatch(pa.RecordBatch.from_arrays(arrays, schema=self._schema), bad, first_error)

    def _convert_row(self, value: bytes | None) -> list[Any]:
        if value is None:
            raise ValueError("message has no value (tombstone)")
        document = orjson.loads(value)
        if not isinstance(document, dict):
            raise TypeError(f"message is a JSON {type(document).__name__}, not an object")
        return [self._convert_field(document.get(spec.name), spec) for spec in self._fields]

    def _convert_field(self, value: Any, spec: FieldSpec) -> Any:
        convert = CONVERTERS[spec.data_type]
        if not spec.single_value:
            items = value if isinstance(value, list) else [value]
            converted = [spec.null_value if v is None else convert(v) for v in items]
            return converted or [spec.null_value]
        if value is None:
            return None if spec.name == self._time_column else spec.null_value
        if isinstance(value, dict | list) and spec.data_type is not DataType.JSON:
            raise TypeError(f"field {spec.name!r} holds a JSON {type(value).__name__}")
        return convert(value)
