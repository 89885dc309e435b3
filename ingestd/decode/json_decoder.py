"""JSON messages → Arrow: one vectorized parse per batch, a per-message path for the batches it refuses.

The fast path (json_batch.py) joins the batch's values with newlines and parses them as NDJSON against an
explicit schema in one native call (no Python object per row). If that fails for any reason (a malformed
message, a value of another JSON type, an embedded newline, an empty value), the batch is decoded again
one message at a time, so that only the bad messages are dropped, each counted by its index.

Columns come out with nulls where a message lacks a field or holds null: Pinot's default null values
and time-column rules are the conforming step's (conform.py), applied after every decoder.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa

from ingestd.columns import STORAGE_TYPES
from ingestd.config.schema import DataType, FieldSpec, Schema
from ingestd.config.table import TableConfig
from ingestd.decode.json_batch import make_batch_reader
from ingestd.decode.spi import DecodedBatch
from ingestd.decode.values import CONVERTERS


class JsonDecoder:
    def __init__(self, schema: Schema, table: TableConfig) -> None:
        self._fields = schema.fields
        self._schema = pa.schema([
            (f.name, STORAGE_TYPES[f.data_type] if f.single_value else pa.list_(STORAGE_TYPES[f.data_type]))
            for f in schema.fields
        ])
        self._batch_reader = make_batch_reader(schema.fields)

    def decode(self, values: list[bytes | None]) -> DecodedBatch:
        if self._batch_reader is not None and values and None not in values:
            joined = b"\n".join(values)  # type: ignore[arg-type]
            if joined.count(b"\n") == len(values) - 1:  # else a value holds a newline
                rows = self._batch_reader.read(joined, len(values))
                if rows is not None:
                    return DecodedBatch(rows)
        return self._decode_each(values)

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
        return [_convert_field(document.get(spec.name), spec) for spec in self._fields]


def _convert_field(value: Any, spec: FieldSpec) -> Any:
    convert = CONVERTERS[spec.data_type]
    if not spec.single_value:
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        return [None if v is None else convert(v) for v in items]
    if value is None:
        return None
    if isinstance(value, dict | list) and spec.data_type is not DataType.JSON:
        raise TypeError(f"field {spec.name!r} holds a JSON {type(value).__name__}")
    return convert(value)
