"""One server per data_dir: an exclusive flock on `<data_dir>/.lock`, holding the owner's pid.

Two servers on one data_dir (a systemd unit plus a manual start) would consume the same partitions
and seal the same offsets twice. The lock is taken non-blocking at start; a second server fails at
once with a message naming the data_dir and the holder's pid. The kernel drops the lock when the
holder's process ends, however it ends (kill -9 included), so a stale file never blocks a restart;
the file is left in place (deleting it would let two servers lock two different files).
Worker processes are spawned and do not inherit the descriptor.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from ingestd.errors import IngestdError

LOCK_FILE = ".lock"


class DataDirLocked(IngestdError):
    """Another live process holds the data_dir."""

    def __init__(self, data_dir: Path, holder: str) -> None:
        self.data_dir = data_dir
        self.holder = holder
        super().__init__(f"data_dir {data_dir} is in use by another ingestd server (pid {holder}); "
                         "stop that server first, or give this one its own data_dir")


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock and record this pid, or raise DataDirLocked naming the holder."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirLocked(self.data_dir, holder) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@contextlib.contextmanager
def hold_data_dir(data_dir: Path) -> Iterator[DataDirLock]:
    """The data_dir, locked for the duration of the `with` block."""
    lock = DataDirLock(data_dir)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()
