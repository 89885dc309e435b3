"""The Avro record-by-record path: fastavro reads each message on its own, so a malformed one is found,
counted and skipped while the others are kept.

It reads with the same physical schema as the block path and builds the same Arrow columns
(avro_schema.arrow_type), so both paths give identical tables. A reader schema, when given, applies
Avro's schema resolution (a field the writer lacks reads the reader's default); a writer schema the
reader cannot resolve is read as written. Fields of a type with no Arrow form (a union of several
non-null branches) come back as Python values, which the Pinot conversion takes one by one.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import fastavro
import pyarrow as pa

from ingestd.decode.avro_schema import WriterSchema, arrow_type, named_physical


@dataclass
class RecordColumns:
    """The fields read, by name: an Arrow array, or a list of Python values when there is no Arrow form."""

    columns: dict[str, pa.Array | list[Any]] = field(default_factory=dict)
    good: list[int] = field(default_factory=list)  # positions (in the input) of the records read
    errors: dict[int, str] = field(default_factory=dict)  # position → why it could not be read
    source: WriterSchema | None = None  # the schema the fields were read as (the reader's, if resolved)


def read_records(bodies: list[bytes], writer: WriterSchema, names: list[str],
                 reader: WriterSchema | None = None) -> RecordColumns:
    """Read each body with `writer` (resolved to `reader` if given) and keep the fields in `names`."""
    source = reader if reader is not None and reader is not writer else writer
    resolve = source is not writer
    out = RecordColumns()
    values: dict[str, list[Any]] = {name: [] for name in names}
    for position, body in enumerate(bodies):
        try:
            record = _read(body, writer, source if resolve else None)
        except fastavro.read.SchemaResolutionError:
            resolve, source = False, writer  # the reader cannot read this writer: read as written
            try:
                record = _read(body, writer, None)
            except Exception as exc:
                out.errors[position] = f"{type(exc).__name__}: {exc}"
                continue
        except Exception as exc:  # malformed bytes raise many types (EOFError, UnicodeDecodeError...)
            out.errors[position] = f"{type(exc).__name__}: {exc}"
            continue
        out.good.append(position)
        for name in names:
            values[name].append(record.get(name))
    out.source = source
    named = named_physical(source.physical)
    by_name = {f["name"]: f for f in source.physical["fields"]}
    kinds = {name: None if name not in by_name else arrow_type(by_name[name]["type"], named)
             for name in names}
    _drop_unfit(out, values, kinds)
    for name in names:
        kind = kinds[name]
        if name not in by_name:
            out.columns[name] = pa.nulls(len(out.good))
        elif kind is None:
            out.columns[name] = values[name]
        else:
            out.columns[name] = pa.array(values[name], type=kind)
    return out


def _drop_unfit(out: RecordColumns, values: dict[str, list[Any]], kinds: dict[str, pa.DataType | None]
                ) -> None:
    """fastavro does not range-check: a damaged varint can read as an `int` beyond 32 bits. Such a
    record is malformed (counted, skipped), never a failure of the whole batch."""
    unfit: dict[int, str] = {}
    for name, kind in kinds.items():
        if kind is None:
            continue
        try:
            pa.array(values[name], type=kind)
            continue
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
            pass
        for index, value in enumerate(values[name]):
            try:
                pa.array([value], type=kind)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError) as exc:
                unfit.setdefault(index, f"field {name!r}: {exc}")
    if not unfit:
        return
    for index, why in unfit.items():
        out.errors[out.good[index]] = why
    out.good = [position for index, position in enumerate(out.good) if index not in unfit]
    for name in values:
        values[name] = [value for index, value in enumerate(values[name]) if index not in unfit]


def _read(body: bytes, writer: WriterSchema, reader: WriterSchema | None) -> dict[str, Any]:
    record = fastavro.schemaless_reader(io.BytesIO(body), writer.parsed,
                                        None if reader is None else reader.parsed)
    if not isinstance(record, dict):
        raise TypeError("the record is not a record")
    return record
