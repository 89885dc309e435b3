"""A batch of Avro messages → Pinot columns: the part every Avro decoder shares.

Each message is a header naming its writer schema (a registry id, an MD5, or nothing), then one record.
Messages are grouped by header: each group is read as one container block by polars (avro_block.py),
or record by record by fastavro when the block is refused (a malformed record, a schema polars cannot
read, a schema resolution that is not a simple choice of fields). Rows come back in message order; a
message that cannot be read or converted is reported by index.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingestd.columns import STORAGE_TYPES
from ingestd.config.schema import FieldSpec
from ingestd.decode.avro_block import BlockReader
from ingestd.decode.avro_pinot import to_pinot
from ingestd.decode.avro_records import read_records
from ingestd.decode.avro_resolution import field_sources, reader_default
from ingestd.decode.avro_schema import WriterSchema
from ingestd.decode.spi import DecodedBatch

SchemaLookup = Callable[[bytes], WriterSchema | None]  # a header → its writer schema (None: unknown)
ReaderChoice = Callable[[], WriterSchema | None]  # once the batch's schemas are looked up: the reader
_LONGEST = 1 << 31


class AvroBatchDecoder:
    """Decodes batches for one table's fields. Each message starts with `header` bytes, of which the
    first `key` name its writer schema."""

    def __init__(self, fields: tuple[FieldSpec, ...], header: int, key: int) -> None:
        self._fields = fields
        self._names = [f.name for f in fields]
        self._header = header
        self._key = min(key, header)
        self._blocks: dict[int, BlockReader] = {}
        self._schema = pa.schema([(f.name, _storage(f)) for f in fields])

    def decode(self, values: list[bytes | None], lookup: SchemaLookup,
               reader: ReaderChoice | None = None) -> DecodedBatch:
        """`reader`: gives the schema to resolve every writer schema to (Avro schema resolution), if any,
        after the batch's writer schemas were looked up."""
        messages = pa.array(values, pa.binary())
        sizes = pc.binary_length(messages)
        usable = pc.fill_null(pc.greater_equal(sizes, pa.scalar(self._header, pa.int32())), False)
        errors: dict[int, str] = {}
        if not pc.all(usable).as_py():
            for index in pc.indices_nonzero(pc.invert(usable)).to_pylist():
                errors[index] = ("message has no value (tombstone)" if values[index] is None
                                 else f"message of {len(values[index] or b'')} bytes has no record")
        keys = pc.binary_slice(messages, 0, self._key) if self._key else None
        bodies = pc.binary_slice(messages, self._header, _LONGEST) if self._header else messages
        groups = []
        for key, positions in _groups(keys, usable):
            writer = lookup(key)
            if writer is None:
                for index in positions.to_pylist():
                    errors[index] = f"no Avro schema for header {key.hex()}"
            else:
                groups.append((writer, positions))
        resolve_to = reader() if reader is not None else None
        parts: list[tuple[pa.Array, pa.RecordBatch]] = []
        for writer, positions in groups:
            group_bodies = bodies.take(positions)
            rows, kept, failed = self._decode_group(group_bodies, writer, resolve_to)
            for local, why in failed.items():
                errors[positions[local].as_py()] = why
            parts.append((positions if kept is None else positions.take(kept), rows))
        rows = _in_message_order(parts, self._schema)
        bad = sorted(errors)
        first = f"message {bad[0]}: {errors[bad[0]]}" if bad else None
        return DecodedBatch(rows, bad, first)

    def _decode_group(self, bodies: pa.BinaryArray, writer: WriterSchema, reader: WriterSchema | None
                      ) -> tuple[pa.RecordBatch, pa.Array | None, dict[int, str]]:
        """The group's rows, the positions (within the group) they came from (None: all of them, in
        order), and why the rest failed."""
        failed: dict[int, str] = {}
        source, columns = self._read_block(bodies, writer, reader)
        kept: pa.Array | None = None
        if columns is None:
            records = read_records(bodies.to_pylist(), writer, self._names, reader)
            failed.update(records.errors)
            kept = pa.array(records.good, pa.int64())
            source, columns = records.source or writer, records.columns
        arrays: list[Any] = []
        bad_rows: set[int] = set()
        for spec in self._fields:
            field = source.fields.get(spec.name)
            column = columns.get(spec.name)
            rows = len(bodies) if kept is None else len(kept)
            if field is None or column is None:
                arrays.append(pa.nulls(rows, _storage(spec)))
                continue
            converted = to_pinot(column, field["type"], spec, source.named)
            for row in converted.bad:
                bad_rows.add(row)
                position = row if kept is None else kept[row].as_py()
                failed.setdefault(position, converted.error or "cannot convert")
            arrays.append(converted.column)
        batch = pa.RecordBatch.from_arrays(arrays, schema=self._schema)
        if bad_rows:
            keep_mask = pa.array([row not in bad_rows for row in range(batch.num_rows)])
            if kept is None:
                kept = pa.array(range(batch.num_rows), pa.int64())
            batch, kept = batch.filter(keep_mask), kept.filter(keep_mask)
        return batch, kept, failed

    def _read_block(self, bodies: pa.BinaryArray, writer: WriterSchema, reader: WriterSchema | None
                    ) -> tuple[WriterSchema, dict[str, Any] | None]:
        """The group read as one block (with the reader's fields, when resolution is a choice of fields):
        the schema its fields follow and their columns, or None for the record-by-record path."""
        source = reader if reader is not None else writer
        sources = field_sources(writer, source) if source is not writer else {n: n for n in writer.fields}
        if sources is None:
            return source, None
        table = self._block(writer).read(bodies)
        if table is None:
            return source, None
        try:
            return source, self._from_block(table, sources, source)
        except (KeyError, ValueError, pa.ArrowException):
            return source, None

    def _from_block(self, table: pa.Table, sources: dict[str, str | None],
                    source: WriterSchema) -> dict[str, Any]:
        """The Pinot fields' columns out of a block read with the writer schema: by name, through the
        reader's aliases, or the reader's default for a field the writer lacks."""
        columns: dict[str, Any] = {}
        names = table.schema.names
        for name in self._names:
            if name not in sources:
                continue
            written = sources[name]
            if written is None:
                default = reader_default(source, name)
                kind = source.arrow.field(name).type if source.arrow is not None else None
                columns[name] = pa.array([default] * table.num_rows, type=kind)
            else:
                columns[name] = table.column(names.index(written)).combine_chunks()
        return columns

    def _block(self, writer: WriterSchema) -> BlockReader:
        block = self._blocks.get(id(writer))
        if block is None:
            if len(self._blocks) > 256:
                self._blocks.clear()
            block = self._blocks[id(writer)] = BlockReader(writer)
        return block


def _groups(keys: pa.Array | None, usable: pa.Array) -> list[tuple[bytes, pa.Array]]:
    """(header, positions of the usable messages with that header), in order of first appearance."""
    positions = pc.indices_nonzero(usable)
    if keys is None:
        return [(b"", positions)] if len(positions) else []
    chosen = keys.take(positions)
    distinct = pc.unique(chosen)
    if len(distinct) == 1:
        return [(distinct[0].as_py(), positions)]
    return [(key.as_py(), positions.filter(pc.equal(chosen, key))) for key in distinct]


def _in_message_order(parts: list[tuple[pa.Array, pa.RecordBatch]], schema: pa.Schema) -> pa.RecordBatch:
    if len(parts) == 1:
        return parts[0][1]
    rows = sum(batch.num_rows for _, batch in parts)
    if rows == 0:
        return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)
    positions = pa.concat_arrays([p for p, _ in parts])
    table = pa.Table.from_batches([b for _, b in parts], schema=schema)
    return table.take(pc.sort_indices(positions)).combine_chunks().to_batches()[0]


def _storage(spec: FieldSpec) -> pa.DataType:
    storage = STORAGE_TYPES[spec.data_type]
    return storage if spec.single_value else pa.list_(storage)
