"""Decoded Avro fields → Pinot columns: what Pinot's AvroRecordExtractor and DataTypeTransformer make of
each Avro type, vectorized where Arrow can do it exactly, value by value (values.CONVERTERS) otherwise.

Logical types are applied here (both reading paths give physical values): timestamp-millis/-micros/
-nanos become epoch milliseconds (a datetime for other targets), date a date, time-millis/-micros a time
of day, decimal a Decimal, uuid its text. Maps and records become dicts (JSON columns serialize them),
arrays feed multi-value columns. A value that cannot be converted marks its row bad.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingestd.columns import STORAGE_TYPES
from ingestd.config.schema import DataType, FieldSpec
from ingestd.decode.values import CONVERTERS

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_TO_MILLIS = {"timestamp-millis": 1, "timestamp-micros": 1_000, "timestamp-nanos": 1_000_000,
              "local-timestamp-millis": 1, "local-timestamp-micros": 1_000,
              "local-timestamp-nanos": 1_000_000}
_INTEGERS = (pa.int32(), pa.int64())
_CASTS = {  # (decoded Arrow type, Pinot type) pairs whose Arrow cast is exactly the value-by-value result
    (pa.int32(), DataType.INT), (pa.int32(), DataType.LONG), (pa.int64(), DataType.LONG),
    (pa.int64(), DataType.INT), (pa.int32(), DataType.FLOAT), (pa.int32(), DataType.DOUBLE),
    (pa.int64(), DataType.FLOAT), (pa.int64(), DataType.DOUBLE), (pa.float32(), DataType.FLOAT),
    (pa.float32(), DataType.DOUBLE), (pa.float64(), DataType.DOUBLE), (pa.float64(), DataType.FLOAT),
    (pa.int32(), DataType.STRING), (pa.int64(), DataType.STRING), (pa.bool_(), DataType.BOOLEAN),
    (pa.bool_(), DataType.STRING), (pa.string(), DataType.STRING), (pa.string(), DataType.JSON),
    (pa.binary(), DataType.BYTES), (pa.int32(), DataType.BIG_DECIMAL), (pa.int64(), DataType.BIG_DECIMAL),
    (pa.float32(), DataType.STRING), (pa.float64(), DataType.STRING),  # shortest text, as Java prints
}


class Converted:
    """A Pinot column and, per row, whether its value could not be converted."""

    def __init__(self, column: pa.Array, bad: list[int], error: str | None) -> None:
        self.column, self.bad, self.error = column, bad, error


def to_pinot(column: pa.Array | list[Any], avro: Any, spec: FieldSpec, named: dict[str, Any]) -> Converted:
    """`column` (one decoded Avro field, physical values) as the Pinot column `spec`, nulls kept."""
    avro = _resolve(_non_null(avro), named)
    storage = STORAGE_TYPES[spec.data_type]
    if isinstance(column, pa.Array):
        if pa.types.is_null(column.type):
            target = storage if spec.single_value else pa.list_(storage)
            return Converted(pa.nulls(len(column), target), [], None)
        fast = _vectorized(column, avro, spec, storage, named)
        if fast is not None:
            return fast
        values = column.to_pylist()
    else:
        values = column
    return _each(values, avro, spec, storage, named)


def _vectorized(column: pa.Array, avro: Any, spec: FieldSpec, storage: pa.DataType,
                named: dict[str, Any]) -> Converted | None:
    logical = avro.get("logicalType") if isinstance(avro, dict) else None
    if not spec.single_value:
        if not pa.types.is_list(column.type) or _kind(avro) != "array":
            return None
        items = to_pinot(column.values, avro["items"], FieldSpec(spec.name, spec.data_type, spec.role), named)
        if items.bad:
            return None
        rebuilt = pa.ListArray.from_arrays(column.offsets, items.column, mask=column.is_null())
        return Converted(rebuilt, [], None)
    if logical in _TO_MILLIS and column.type in _INTEGERS and spec.data_type in (
            DataType.LONG, DataType.TIMESTAMP):
        return Converted(_floor_divide(column.cast(pa.int64()), _TO_MILLIS[logical]).cast(storage), [], None)
    if logical is not None and logical != "uuid":
        return None
    if _kind(avro) in ("enum",) and spec.data_type in (DataType.STRING, DataType.JSON):
        return Converted(column.cast(pa.string()), [], None)
    if spec.data_type is DataType.TIMESTAMP and column.type in _INTEGERS:
        return Converted(column.cast(pa.int64()).cast(storage), [], None)
    if (column.type, spec.data_type) not in _CASTS:
        return None
    try:
        return Converted(column if column.type == storage else column.cast(storage), [], None)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # e.g. a long beyond INT's range: the value-by-value path finds which rows


def _floor_divide(values: pa.Array, divisor: int) -> pa.Array:
    """Integer division rounding down (pyarrow's integer divide truncates toward zero)."""
    if divisor == 1:
        return values
    quotient = pc.divide(values, divisor)
    inexact = pc.and_(pc.less(values, 0), pc.not_equal(pc.multiply(quotient, divisor), values))
    return pc.if_else(inexact, pc.subtract(quotient, 1), quotient)


def _each(values: list[Any], avro: Any, spec: FieldSpec, storage: pa.DataType,
          named: dict[str, Any]) -> Converted:
    convert = CONVERTERS[spec.data_type]
    out: list[Any] = []
    bad: list[int] = []
    error: str | None = None
    for row, value in enumerate(values):
        try:
            logical = avro_value(value, avro, named)
            if not spec.single_value:
                items = logical if isinstance(logical, list) else None if logical is None else [logical]
                out.append(None if items is None else [None if v is None else convert(v) for v in items])
            elif logical is None:
                out.append(None)
            elif isinstance(logical, dict | list) and spec.data_type is not DataType.JSON:
                raise TypeError(f"field {spec.name!r} holds a {type(logical).__name__}")
            else:
                out.append(convert(logical))
        except (ValueError, TypeError, ArithmeticError, OverflowError) as exc:
            bad.append(row)
            out.append(None)
            error = error or f"field {spec.name!r}: {type(exc).__name__}: {exc}"
    target = storage if spec.single_value else pa.list_(storage)
    return Converted(pa.array(out, type=target), bad, error)


def avro_value(value: Any, avro: Any, named: dict[str, Any]) -> Any:
    """A physical Avro value as the Python value Pinot's extractor makes of it (logical types applied,
    maps and records as dicts)."""
    if value is None:
        return None
    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        if len(branches) != 1:
            return value  # several branches: fastavro already gave the branch's own value
        avro = branches[0]
    avro = _resolve(avro, named)
    kind = _kind(avro)
    if kind == "map":
        return {entry["key"]: avro_value(entry["value"], avro["values"], named) for entry in value}
    if kind in ("record", "error"):
        return {f["name"]: avro_value(value.get(f["name"]), f["type"], named) for f in avro["fields"]}
    if kind == "array":
        return [avro_value(item, avro["items"], named) for item in value]
    logical = avro.get("logicalType") if isinstance(avro, dict) else None
    if logical in _TO_MILLIS:
        return _EPOCH + datetime.timedelta(microseconds=value * 1000 // _TO_MILLIS[logical])
    if logical == "date":
        return datetime.date(1970, 1, 1) + datetime.timedelta(days=value)
    if logical in ("time-millis", "time-micros"):
        micros = value * 1000 if logical == "time-millis" else value
        return (datetime.datetime.min + datetime.timedelta(microseconds=micros)).time()
    if logical == "decimal" and isinstance(value, bytes | bytearray):
        unscaled = int.from_bytes(value, "big", signed=True)
        return Decimal(unscaled).scaleb(-int(avro.get("scale", 0)))
    return value


def _non_null(avro: Any) -> Any:
    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        return branches[0] if len(branches) == 1 else avro
    return avro


def _resolve(avro: Any, named: dict[str, Any]) -> Any:
    if isinstance(avro, str) and avro in named:
        return named[avro]
    if isinstance(avro, str) and avro.rsplit(".", 1)[-1] in named:
        return named[avro.rsplit(".", 1)[-1]]
    if isinstance(avro, dict) and isinstance(avro.get("type"), dict | list):
        return _resolve(avro["type"], named)
    return avro


def _kind(avro: Any) -> str | None:
    if isinstance(avro, str):
        return avro
    if isinstance(avro, dict):
        kind = avro.get("type")
        return kind if isinstance(kind, str) else None
    return None
