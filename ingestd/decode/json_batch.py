"""The JSON decoder's vectorized path: a whole batch of JSON objects parsed in one native call.

Two engines, each strict for the types it is given (a value of another JSON type fails the batch, which
the caller then decodes message by message, so vectorized and per-message results never differ):

* polars `read_ndjson` (STRING fields read as Categorical, the one polars string type that refuses
  numbers, booleans, objects and arrays instead of turning them into text). polars reads an unpaired
  high-surrogate escape (`"\ud800"`) as NUL where the other paths refuse the message: a batch whose
  strings hold a NUL is read again by pyarrow, which decides;
* pyarrow `read_json` with an explicit schema.

One known difference remains: for an object with a duplicated key, polars keeps the first value where
pyarrow refuses the batch (and the per-message path, like Pinot's Jackson, keeps the last).

Both return a record batch of the schema's fields in their storage types (strings may stay dictionary
encoded), nulls left for the conforming step; or None when the batch must go the per-message way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from ingestd.columns import STORAGE_TYPES
from ingestd.config.schema import DataType, FieldSpec

# Types both engines parse straight from JSON scalars (TIMESTAMP as epoch milliseconds, int64 first).
_ARROW_PARSE_TYPES: dict[DataType, pa.DataType] = {
    DataType.INT: pa.int32(),
    DataType.LONG: pa.int64(),
    DataType.FLOAT: pa.float32(),
    DataType.DOUBLE: pa.float64(),
    DataType.BOOLEAN: pa.bool_(),
    DataType.STRING: pa.string(),
    DataType.TIMESTAMP: pa.int64(),
}
ENGINE = os.environ.get("INGESTD_JSON_ENGINE", "polars")  # "polars" or "pyarrow": the fastest correct one


def vectorizable(fields: Sequence[FieldSpec]) -> bool:
    return all(f.data_type in _ARROW_PARSE_TYPES for f in fields)


class ArrowJsonBatch:
    """pyarrow `read_json` over the newline-joined batch (one block, one thread)."""

    def __init__(self, fields: Sequence[FieldSpec]) -> None:
        self._fields = fields
        parse_types = [_ARROW_PARSE_TYPES[f.data_type] for f in fields]
        self._options = pa_json.ParseOptions(
            explicit_schema=pa.schema([(f.name, t if f.single_value else pa.list_(t))
                                       for f, t in zip(fields, parse_types, strict=True)]),
            unexpected_field_behavior="ignore",
        )

    def read(self, joined: bytes, count: int) -> pa.RecordBatch | None:
        try:
            parsed = pa_json.read_json(
                pa.py_buffer(joined),
                read_options=pa_json.ReadOptions(use_threads=False, block_size=len(joined) + 1),
                parse_options=self._options,
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if parsed.num_rows != count:
            return None  # e.g. an empty message: blank lines are skipped
        return _to_storage(parsed, self._fields)


class PolarsJsonBatch:
    """polars `read_ndjson` over the newline-joined batch, with an explicit schema."""

    def __init__(self, fields: Sequence[FieldSpec]) -> None:
        import polars as pl  # imported only by tables that use it

        self._pl = pl
        kinds = {DataType.INT: pl.Int32, DataType.LONG: pl.Int64, DataType.FLOAT: pl.Float32,
                 DataType.DOUBLE: pl.Float64, DataType.BOOLEAN: pl.Boolean, DataType.STRING: pl.Categorical,
                 DataType.TIMESTAMP: pl.Int64}
        self._fields = fields
        self._schema = {f.name: kinds[f.data_type] if f.single_value else pl.List(kinds[f.data_type])
                        for f in fields}
        self._failures: tuple[type[BaseException], ...] = (pl.exceptions.PolarsError, _panic_type())
        self._strings = [i for i, f in enumerate(fields) if f.data_type is DataType.STRING]
        self._second_opinion = ArrowJsonBatch(fields)

    def read(self, joined: bytes, count: int) -> pa.RecordBatch | None:
        try:
            frame = self._pl.read_ndjson(joined, schema=self._schema)
        except self._failures:
            return None
        if frame.height != count:
            return None
        rows = _to_storage(frame.to_arrow(), self._fields)
        if self._strings and _holds_nul([rows.column(i) for i in self._strings]):
            return self._second_opinion.read(joined, count)
        return rows


def make_batch_reader(fields: Sequence[FieldSpec]) -> ArrowJsonBatch | PolarsJsonBatch | None:
    if not vectorizable(fields):
        return None
    if ENGINE == "polars":
        try:
            return PolarsJsonBatch(fields)
        except ImportError:
            pass
    return ArrowJsonBatch(fields)


def _to_storage(parsed: pa.Table, fields: Sequence[FieldSpec]) -> pa.RecordBatch:
    columns: list[Any] = []
    for index, spec in enumerate(fields):
        column = parsed.column(index)
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        storage = STORAGE_TYPES[spec.data_type]
        wanted = storage if spec.single_value else pa.list_(storage)
        if column.type != wanted and not (spec.single_value and pa.types.is_dictionary(column.type)):
            column = column.cast(wanted)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=[f.name for f in fields])


def _holds_nul(columns: list[pa.Array]) -> bool:
    """Whether a value of the (dictionary-encoded, maybe listed) string columns has a NUL character."""
    values = []
    for column in columns:
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            column = column.values
        strings = column.dictionary if pa.types.is_dictionary(column.type) else column
        values.append(strings.cast(pa.string()))
    every = pa.concat_arrays(values)
    return len(every) > 0 and bool(pc.any(pc.match_substring(every, "\x00")).as_py())


def _panic_type() -> type[BaseException]:
    """pyo3's PanicException (a BaseException): a polars bug on odd input fails the batch, not the worker."""
    try:
        from polars.exceptions import PanicException
    except ImportError:
        return RuntimeError
    return PanicException  # type: ignore[no-any-return]
