"""Rows stored under an older schema, read under the current one (schema evolution).

A column added to a live table's schema is absent from the segments sealed before (and from the
consuming segment's earlier batches): read now, it holds the field's default null value, as Pinot's
reload fills a new column with its default. A column whose storage changed (dictionary-encoded or not:
`noDictionaryColumns`, a STRING moved between dimensions and dateTime fields) is cast. Columns are put in
the current schema's order, so every piece of a table concatenates under one schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import pyarrow as pa

from ingestd.config.schema import Schema

Rows = TypeVar("Rows", pa.Table, pa.RecordBatch)


def column_defaults(schema: Schema) -> dict[str, Any]:
    """Each column's value for rows stored before the column existed: its default null value (a
    one-element list for a multi-value column, as the decoder stores a missing list)."""
    return {f.name: f.null_value if f.single_value else [f.null_value] for f in schema.fields}


def conform(rows: Rows, target: pa.Schema, defaults: Mapping[str, Any]) -> Rows:
    """`rows` with exactly `target`'s columns: missing ones filled with their default, others cast."""
    if rows.schema.names == target.names and all(
            have.type == want.type for have, want in zip(rows.schema, target, strict=True)):
        return rows
    names = rows.schema.names
    columns = []
    for field in target:
        if field.name in names:
            column = rows.column(names.index(field.name))
            columns.append(column if column.type == field.type else _cast(column, field.type))
        else:
            columns.append(filled(field.type, defaults.get(field.name), rows.num_rows))
    if isinstance(rows, pa.RecordBatch):
        return pa.RecordBatch.from_arrays(columns, schema=target)
    return pa.Table.from_arrays(columns, schema=target)


def filled(arrow_type: pa.DataType, value: Any, rows: int) -> pa.Array:
    """`rows` copies of `value` as an array of `arrow_type` (a dictionary array holds it once)."""
    if pa.types.is_dictionary(arrow_type):
        indices = pa.repeat(pa.scalar(0, arrow_type.index_type), rows)
        return pa.DictionaryArray.from_arrays(indices, pa.array([value], arrow_type.value_type))
    return pa.repeat(_scalar(value, arrow_type), rows)


def _scalar(value: Any, arrow_type: pa.DataType) -> pa.Scalar:
    try:
        return pa.scalar(value, arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return pa.scalar(str(value)).cast(arrow_type)  # a defaultNullValue given as a string, e.g. "0"


def _cast(column: Any, arrow_type: pa.DataType) -> Any:
    if pa.types.is_dictionary(arrow_type) and not pa.types.is_dictionary(column.type):
        return column.cast(arrow_type.value_type).dictionary_encode().cast(arrow_type)
    return column.cast(arrow_type)

