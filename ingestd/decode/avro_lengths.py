"""How many bytes each decoded Avro record takes in Avro's (canonical) binary encoding, vectorized.

The block path reads a batch's records as one container block, where nothing marks where one record
ends: a record with bytes missing or extra would shift the records after it. Comparing each record's
encoded length, computed back from its decoded values, with its message's length proves the boundaries:
a value's canonical encoding is its shortest, so if every record's canonical length equals its
message's length and the block was read without error, every record was read from exactly its own
bytes. A record that does not match (a non-canonical varint, an array written in several blocks, a
malformed message) sends the block to the record-by-record path, which decides.

Python numbers are passed to pyarrow as scalars made once (a Python int argument costs pyarrow a
failing import per call when numpy is absent).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

_FIXED_WIDTH = {"null": 0, "boolean": 1, "float": 4, "double": 8}
_STEPS = [pa.scalar(1 << (7 * k), pa.uint64()) for k in range(1, 10)]  # a varint grows a byte at each
_ZERO, _ONE = pa.scalar(0, pa.int64()), pa.scalar(1, pa.int64())
_U_TWO = pa.scalar(2, pa.uint64())

Lengths = pa.Array | int  # per row, or the same for every row


def record_lengths(table: pa.Table | pa.RecordBatch, record: dict[str, Any],
                   named: dict[str, Any]) -> pa.Array:
    """The encoded length of each row of `table`, whose columns are `record`'s fields (physical)."""
    columns = []
    for index, _ in enumerate(record["fields"]):
        column = table.column(index)
        columns.append(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column)
    return _as_array(_sum_fields(columns, record["fields"], named), table.num_rows)


def _sum_fields(columns: list[pa.Array], fields: list[dict[str, Any]], named: dict[str, Any]) -> Lengths:
    constant = 0
    total: pa.Array | None = None
    for column, item in zip(columns, fields, strict=True):
        size = _lengths(column, item["type"], named)
        if isinstance(size, int):
            constant += size
        else:
            total = size if total is None else pc.add(total, size)
    if total is None:
        return constant
    return pc.add(total, pa.scalar(constant, pa.int64())) if constant else total


def _as_array(size: Lengths, rows: int) -> pa.Array:
    return pa.repeat(pa.scalar(size, pa.int64()), rows) if isinstance(size, int) else size


def _varint_lengths(unsigned: pa.Array) -> Lengths:
    """Bytes of the varint of each (uint64) value; only the steps below the largest value cost a pass."""
    largest = pc.max(unsigned).as_py() or 0
    size: Lengths = 1
    for step in _STEPS:
        if largest < step.as_py():
            break
        grown = pc.cast(pc.greater_equal(unsigned, step), pa.int64())
        size = pc.add(grown, _ONE) if isinstance(size, int) else pc.add(size, grown)
    return size


def _zigzag_lengths(values: pa.Array) -> Lengths:
    as_long = values.cast(pa.int64())
    if (pc.min(as_long).as_py() or 0) >= 0:
        return _varint_lengths(pc.multiply(as_long.cast(pa.uint64()), _U_TWO))
    negative = pc.less(as_long, _ZERO)
    # zigzag(v) = 2v for v >= 0, and 2(-(v + 1)) + 1 for v < 0 (no overflow at the int64 bounds)
    magnitude = pc.if_else(negative, pc.negate(pc.add(as_long, _ONE)), as_long).cast(pa.uint64())
    zigzag = pc.add(pc.multiply(magnitude, _U_TWO), pc.cast(negative, pa.uint64()))
    return _varint_lengths(zigzag)


def _lengths(column: pa.Array, avro: Any, named: dict[str, Any]) -> Lengths:
    if isinstance(avro, list):
        return _union_lengths(column, avro, named)
    if isinstance(avro, str) and avro not in _FIXED_WIDTH and avro not in ("int", "long", "bytes", "string"):
        avro = named.get(avro) or named[avro.rsplit(".", 1)[-1]]
    kind = avro if isinstance(avro, str) else avro["type"]
    if kind in _FIXED_WIDTH:
        return _FIXED_WIDTH[kind]
    if len(column) == 0:
        return 0
    if kind in ("int", "long"):
        return _zigzag_lengths(pc.fill_null(column, _ZERO) if column.null_count else column)
    if kind in ("bytes", "string"):
        sizes = pc.binary_length(column).cast(pa.int64())
        if column.null_count:
            sizes = pc.fill_null(sizes, _ZERO)
        header = _zigzag_lengths(sizes)
        return pc.add(sizes, _as_array(header, len(column)))
    if kind == "fixed":
        return int(avro["size"])
    if kind == "enum":
        position = pc.fill_null(pc.index_in(column, value_set=pa.array(avro["symbols"])), _ZERO)
        return _zigzag_lengths(position)
    if kind == "array":
        return _array_lengths(column, avro["items"], named)
    if kind in ("record", "error"):
        return _sum_fields(column.flatten(), avro["fields"], named)
    raise ValueError(f"no encoded length for Avro type {kind!r}")


def _union_lengths(column: pa.Array, branches: list[Any], named: dict[str, Any]) -> Lengths:
    """A [null, T] union: the branch index (one byte for the first 64 branches), then T unless null."""
    others = [b for b in branches if b != "null"]
    if not others:
        return 1
    inner = _lengths(column, others[0], named)
    inner = inner + 1 if isinstance(inner, int) else pc.add(inner, _ONE)
    if column.null_count == 0:
        return inner
    return pc.if_else(column.is_null(), _ONE, _as_array(inner, len(column)))


def _array_lengths(column: pa.Array, items: Any, named: dict[str, Any]) -> pa.Array:
    """One block: the item count, the items, the closing zero; an empty array is the zero alone."""
    offsets = column.offsets.cast(pa.int64())
    child = column.values
    item_sizes = (_as_array(_lengths(child, items, named), len(child)) if len(child)
                  else pa.array([], pa.int64()))
    running = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(item_sizes)])
    starts, ends = offsets.slice(0, len(column)), offsets.slice(1, len(column))
    inside = pc.subtract(pc.take(running, ends), pc.take(running, starts))
    counts = pc.subtract(ends, starts)
    filled = pc.add(pc.add(_as_array(_zigzag_lengths(counts), len(column)), inside), _ONE)
    return pc.if_else(pc.equal(counts, _ZERO), _ONE, filled)
