"""The step after any decoder: raw typed columns with nulls → the table's stored columns, as Pinot's
NullValueTransformer and TimeValidationTransformer leave them.

A decoder yields one column per schema field it found (missing ones read as all-null), in any Arrow type
castable to the field's storage type (`large_string`, a dictionary, a timestamp...). This step

* fills nulls with the field's default null value (a multi-value field: a null or empty list becomes
  `[default]`, a null element the default);
* applies the time column's rules (time_column.py) and counts what they changed;
* casts every column to the table's storage type (dictionary-encoded strings included).

Every decoder gets Pinot's null and time semantics from here, so none re-implements them.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingestd.columns import STORAGE_TYPES, table_arrow_schema
from ingestd.config.schema import FieldSpec, Schema
from ingestd.config.table import TableConfig
from ingestd.decode.spi import DecodedBatch
from ingestd.decode.time_column import TimeColumnPolicy


class Conformer:
    """Conforms the decoded batches of one table (one schema and table config)."""

    def __init__(self, schema: Schema, table: TableConfig) -> None:
        self._fields = schema.fields
        self._target = table_arrow_schema(schema, table)
        self._time_column = table.time_column
        time_spec = schema.field(table.time_column)
        check_range = bool(table.raw.get("ingestionConfig", {}).get("rowTimeValueCheck", False))
        self._time_policy = TimeColumnPolicy(time_spec, check_range) if time_spec is not None else None

    def apply(self, decoded: DecodedBatch) -> DecodedBatch:
        """`decoded` with its rows conformed in place (and returned); time fixes are added to its counts."""
        rows = decoded.rows
        count = rows.num_rows
        names = rows.schema.names
        columns: list[Any] = []
        for spec, target in zip(self._fields, self._target, strict=True):
            storage = STORAGE_TYPES[spec.data_type]
            if spec.name in names:
                column = rows.column(names.index(spec.name))
            else:
                column = pa.nulls(count, storage if spec.single_value else pa.list_(storage))
            if spec.name == self._time_column and self._time_policy is not None:
                column, fixes = self._time_policy.apply(_cast(column, storage))
                decoded.time_defaulted += fixes.defaulted
                decoded.time_invalid += fixes.invalid
            elif spec.single_value:
                column = _fill_single(column, spec, storage)
            else:
                column = _fill_multi(column, spec, storage)
            columns.append(_cast(column, target.type))
        decoded.rows = pa.RecordBatch.from_arrays(columns, schema=self._target)
        return decoded


_CONFORMERS: dict[tuple[int, int], tuple[Schema, TableConfig, Conformer]] = {}


def conform(decoded: DecodedBatch, schema: Schema, table: TableConfig) -> DecodedBatch:
    """Apply the conforming step of (schema, table) to `decoded`. The Conformer is built once per
    schema and table config object (a changed config is a new object, so it gets a new one)."""
    key = (id(schema), id(table))
    entry = _CONFORMERS.get(key)
    if entry is None or entry[0] is not schema or entry[1] is not table:
        if len(_CONFORMERS) > 64:
            _CONFORMERS.clear()
        entry = (schema, table, Conformer(schema, table))
        _CONFORMERS[key] = entry
    return entry[2].apply(decoded)


def _cast(column: Any, arrow_type: pa.DataType) -> Any:
    if column.type == arrow_type:
        return column
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type) and not pa.types.is_dictionary(arrow_type):
        column = column.dictionary_decode()
    elif pa.types.is_dictionary(arrow_type) and pa.types.is_dictionary(column.type):
        column = pa.DictionaryArray.from_arrays(column.indices.cast(arrow_type.index_type),
                                                column.dictionary.cast(arrow_type.value_type))
        return column
    if pa.types.is_dictionary(arrow_type):
        return column.cast(arrow_type.value_type).dictionary_encode().cast(arrow_type)
    return column.cast(arrow_type)


def _default_scalar(spec: FieldSpec, storage: pa.DataType) -> pa.Scalar:
    value = spec.null_value
    try:
        return pa.scalar(value, storage)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return pa.scalar(str(value)).cast(storage)  # a defaultNullValue given as a string, e.g. "0"


def _fill_single(column: Any, spec: FieldSpec, storage: pa.DataType) -> Any:
    if column.null_count == 0:
        return column
    return pc.fill_null(_cast(column, storage), _default_scalar(spec, storage))


def _fill_multi(column: Any, spec: FieldSpec, storage: pa.DataType) -> Any:
    """Null or empty lists → [default]; null elements → default."""
    column = _cast(column, pa.list_(storage))
    lengths = pc.list_value_length(column)
    default = _default_scalar(spec, storage)
    empty = pc.fill_null(pc.equal(lengths, 0), True)
    if pc.any(empty).as_py():
        column = pc.if_else(empty, pa.scalar([default.as_py()], pa.list_(storage)), column)
        lengths = pc.list_value_length(column)
    values = column.flatten()
    if values.null_count == 0:
        return column
    ends = pc.cumulative_sum(lengths.cast(pa.int32()))
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), ends])
    return pa.ListArray.from_arrays(offsets, pc.fill_null(values, default))
