"""The Avro fast path: a batch's records (one writer schema) framed as one Object Container File block
and decoded by polars `read_avro` in one native call.

Avro records carry no framing of their own, so the records of a batch laid end to end are already the
body of a container block: the file header (magic, the physical writer schema, codec null, a sync
marker), then the record count, the body's size, the body and the sync marker again. The result is
checked record by record against the messages' lengths (avro_lengths.py); any doubt returns None and
the caller reads the records one by one instead.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingestd.decode.avro_lengths import record_lengths
from ingestd.decode.avro_schema import WriterSchema, named_physical

_SYNC = b"ingestd-avro-blk"  # any 16 bytes: the block is read only by us


def zigzag_varint(value: int) -> bytes:
    """Avro's long encoding: zigzag, then little-endian base-128 varint."""
    number = (value << 1) ^ (value >> 63)
    out = bytearray()
    while number >= 0x80:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def container_header(physical: dict[str, Any]) -> bytes:
    """An Object Container File header for the physical schema, codec null, our sync marker."""
    meta = {b"avro.schema": json.dumps(physical).encode(), b"avro.codec": b"null"}
    out = bytearray(b"Obj\x01")
    out += zigzag_varint(len(meta))
    for key, value in meta.items():
        out += zigzag_varint(len(key)) + key + zigzag_varint(len(value)) + value
    out += zigzag_varint(0) + _SYNC
    return bytes(out)


class BlockReader:
    """Reads batches of one writer schema through polars, when polars can read that schema."""

    def __init__(self, writer: WriterSchema) -> None:
        self._writer = writer
        self._header = container_header(writer.block_schema) if writer.block_schema else b""
        self._named = named_physical(writer.physical)
        try:
            import polars as pl
            from polars.exceptions import PanicException, PolarsError
        except ImportError:  # pragma: no cover - polars is an install dependency
            self._pl = None
            return
        self._pl = pl
        self._failures = (PolarsError, PanicException, OSError, ValueError, TypeError)

    @property
    def usable(self) -> bool:
        return self._pl is not None and self._writer.block_schema is not None

    def read(self, bodies: pa.BinaryArray) -> pa.Table | None:
        """The records of `bodies` (non-null record bytes) as a table of the schema's Arrow types, or None
        if the block cannot be read or its record boundaries are in doubt."""
        if not self.usable or len(bodies) == 0:
            return None
        _, offsets_buffer, body = bodies.buffers()
        offsets = pa.Array.from_buffers(pa.int32(), len(bodies) + 1, [None, offsets_buffer],
                                        offset=bodies.offset)
        start, end = offsets[0].as_py(), offsets[len(bodies)].as_py()
        data = b"".join((self._header, zigzag_varint(len(bodies)), zigzag_varint(end - start),
                         memoryview(body)[start:end] if body is not None else b"", _SYNC))
        try:
            frame = self._pl.read_avro(io.BytesIO(data))  # type: ignore[union-attr]
            table = frame.to_arrow().cast(self._writer.arrow)
        except self._failures:
            return None
        if table.num_rows != len(bodies):
            return None
        table = table.combine_chunks()
        try:
            lengths = record_lengths(table, self._writer.physical, self._named)
        except (pa.ArrowInvalid, ValueError, KeyError):
            return None
        if not pc.all(pc.equal(lengths, pc.binary_length(bodies).cast(pa.int64()))).as_py():
            return None
        return table
