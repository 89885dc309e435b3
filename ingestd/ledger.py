"""The offset ledger: an append-only file of length-prefixed, CRC-checked segment records.

One ledger per table partition (single writer: the worker that owns the partition). A record is
appended, and fsync'd, only after its segment file is durable; so the ledger's last record is the
checkpoint: the partition resumes from that record's end offset.

Frame: 4-byte big-endian payload length, 4-byte big-endian CRC32 of the payload, JSON payload.
Reading stops at the first frame that is short or fails its CRC (a torn write from a crash);
`recover()` truncates the file there so the next append starts on a clean boundary.

Single writer, enforced: an OffsetLedger holds an exclusive flock on its file for as long as it lives
(`close()`, or garbage collection, releases it; the kernel releases it when the process dies, kill -9
included). A writer in another process waits up to LOCK_WAIT_S (a killed predecessor may still be
exiting) and then fails with LedgerLocked naming the holder's pid. Within one process the OffsetLedgers
of one file share the lock: a worker owns each partition once, and an in-process "restart" (a new
ledger while the old object is not yet collected) must not lock itself out. `rewrite()` locks the
new file before renaming it over the old one, so the path never names an unlocked ledger.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
import threading
import time
import weakref
import zlib
from dataclasses import dataclass
from pathlib import Path

import orjson

from ingestd.durable import fsync_directory
from ingestd.errors import IngestdError
from ingestd.segment.metadata import SegmentMetadata

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")
MAX_RECORD_BYTES = 1 << 20
LEDGER_COMPACT_BYTES = 1 << 20  # past this, a ledger that holds retired records is rewritten
LOCK_WAIT_S = 2.0


class LedgerLocked(IngestdError):
    """Another process is writing this ledger."""


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
    """The single writer's handle on one partition's ledger file (holds its flock while it lives)."""

    def __init__(self, path: Path, wait_s: float = LOCK_WAIT_S) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock: _WriterLock | None = _writer_lock(path, wait_s)

    def close(self) -> None:
        """Stop writing: the flock goes when no other OffsetLedger of this process shares it."""
        self._lock = None

    def recover(self) -> list[SegmentMetadata]:
        """Read the ledger, truncating a torn or corrupt tail (logged), and return its records."""
        self._check_open()
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
        self._check_open()
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
        """Atomically replace the ledger with `records` (write temp, fsync, rename, fsync dir); the
        temp file is locked first, so the lock carries over to the new ledger."""
        lock = self._check_open()
        temp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with os.fdopen(fd, "wb", closefd=False) as handle:
                handle.write(b"".join(encode_record(record) for record in records))
            os.fsync(fd)
            os.replace(temp, self.path)
        except BaseException:
            os.close(fd)
            raise
        lock.swap(fd)
        fsync_directory(self.path.parent)

    def _check_open(self) -> _WriterLock:
        if self._lock is None:
            raise ValueError(f"ledger {self.path} is closed")
        return self._lock


class _WriterLock:
    """This process's flock on one ledger path (an open descriptor of the file the path names)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def swap(self, fd: int) -> None:
        """Hold `fd` (already locked: the file now at the path) and drop the replaced file's."""
        old, self.fd = self.fd, fd
        os.close(old)

    def __del__(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


_writer_locks: weakref.WeakValueDictionary[str, _WriterLock] = weakref.WeakValueDictionary()
_writer_locks_guard = threading.Lock()


def _writer_lock(path: Path, wait_s: float) -> _WriterLock:
    key = os.path.abspath(path)
    with _writer_locks_guard:
        shared = _writer_locks.get(key)
        if shared is not None:
            return shared
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _flock_holder(fd)
                    os.close(fd)
                    raise LedgerLocked(f"ledger {path} is being written by another process (pid {holder}): "
                                       "a partition has one writer; is a second server or an orphaned "
                                       "worker running on this data_dir?") from None
                time.sleep(0.05)
        lock = _WriterLock(fd)
        _writer_locks[key] = lock
        return lock


def _flock_holder(fd: int) -> str:
    """The pid holding a flock on `fd`'s file, from /proc/locks (Linux); "unknown" elsewhere."""
    status = os.fstat(fd)
    device = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
    try:
        with open("/proc/locks") as locks:
            for line in locks:
                fields = line.split()
                if "FLOCK" in fields and device in fields:
                    return fields[fields.index(device) - 1]
    except OSError:
        return "unknown"
    return "unknown"


def _truncate_quietly(fd: int, length: int) -> None:
    try:
        os.ftruncate(fd, length)
        os.fsync(fd)
    except OSError:
        log.exception("could not cut the ledger back to %d bytes; recovery will drop the torn tail", length)
