"""The offset ledger: an append-only file of length-prefixed, CRC-checked segment records.

One ledger per table partition (single writer: the worker that owns the partition). A record is
appended, and fsync'd, only after its segment file is durable; so the ledger's last record is the
checkpoint: the partition resumes from that record's end offset.

Frame: 4-byte big-endian payload length, 4-byte big-endian CRC32 of the payload, JSON payload.
Reading stops at the first frame that is short or fails its CRC (a torn write from a crash);
`recover()` truncates the file there so the next append starts on a clean boundary.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import orjson

from ingestd.durable import fsync_directory, replace_atomically
from ingestd.segment.metadata import SegmentMetadata

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")
MAX_RECORD_BYTES = 1 << 20
LEDGER_COMPACT_BYTES = 1 << 20  # past this, a ledger that holds retired records is rewritten


@dataclass(frozen=True)
class LedgerScan:
    records: list[SegmentMetadata]
    valid_length: int
    file_length: int

    @property
    def torn(self) -> bool:
        return self.valid_length != self.file_length


def encode_record(record: SegmentMetadata) -> bytes:
    payload = orjson.dumps(record.to_dict())
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def scan(data: bytes) -> tuple[list[SegmentMetadata], int]:
    """The records of a ledger image and the length of its valid prefix."""
    records: list[SegmentMetadata] = []
    position = 0
    while position + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, position)
        start = position + _HEADER.size
        payload = data[start : start + length]
        if length > MAX_RECORD_BYTES or len(payload) != length or zlib.crc32(payload) != crc:
            break
        try:
            records.append(SegmentMetadata.from_dict(orjson.loads(payload)))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            break
        position = start + length
    return records, position


def read_ledger(path: Path) -> LedgerScan:
    """Read without repairing: safe while the owning worker appends (a half-written tail is ignored)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return LedgerScan([], 0, 0)
    records, valid = scan(data)
    return LedgerScan(records, valid, len(data))


class OffsetLedger:
    """The single writer's handle on one partition's ledger file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def recover(self) -> list[SegmentMetadata]:
        """Read the ledger, truncating a torn or corrupt tail (logged), and return its records."""
        result = read_ledger(self.path)
        if result.torn:
            log.warning("ledger %s: dropping %d bytes of torn/corrupt tail after %d good records",
                        self.path, result.file_length - result.valid_length, len(result.records))
            with open(self.path, "r+b") as handle:
                handle.truncate(result.valid_length)
                os.fsync(handle.fileno())
        return result.records

    def append(self, record: SegmentMetadata) -> None:
        """Append one record and fsync it; on failure, cut the file back so no torn frame remains."""
        frame = encode_record(record)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        size_before = os.fstat(fd).st_size
        try:
            written = os.write(fd, frame)
            if written != len(frame):
                raise OSError(f"short write to ledger {self.path}: {written} of {len(frame)} bytes")
            os.fsync(fd)
        except OSError:
            _truncate_quietly(fd, size_before)
            raise
        finally:
            os.close(fd)
        if len(frame) and self.path.stat().st_size == len(frame):
            fsync_directory(self.path.parent)  # first record: make the new file's entry durable

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def rewrite(self, records: list[SegmentMetadata]) -> None:
        """Atomically replace the ledger with `records` (write temp, fsync, rename, fsync dir)."""
        replace_atomically(self.path, b"".join(encode_record(record) for record in records))


def _truncate_quietly(fd: int, length: int) -> None:
    try:
        os.ftruncate(fd, length)
        os.fsync(fd)
    except OSError:
        log.exception("could not cut the ledger back to %d bytes; recovery will drop the torn tail", length)
