"""An ingestd stream plugin over a directory of JSON-lines files: a complete example of the stream SPI
(ingestd/stream/spi.py), walked through in ingestd's docs/plugins.md.

* A *topic* is a directory `<root>/<topic.name>`; `<root>` is the server's environment variable
  INGESTD_JSONL_ROOT, never a table config value (an uploaded config must not be able to read any file
  on the host: it can only name a plain directory under the root).
* Partition *n* is the file `<n>.jsonl`; a new file is a new partition (picked up at rediscovery).
* A message is one complete line (a line still being written, without its newline, waits); its offset is
  its line number from 0, so "next offset" is the last line's number + 1, and offsets are dense.
* Bounds: a file holds lines 0 .. (complete lines); a file rewritten shorter than the checkpoint says is
  seen by ingestd through `bounds` and handled by `auto.offset.reset`.
* Commit: files have no consumer-position store, so `commit` only remembers the offset (for monitoring).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ingestd.config.table import OffsetReset, StreamConfig
from ingestd.errors import ConfigError, StreamError
from ingestd.stream.checks import TopicNotFound
from ingestd.stream.spi import PartitionBounds, StartPosition

ROOT_VARIABLE = "INGESTD_JSONL_ROOT"
POLL_KEY = "stream.jsonldir.poll.interval.ms"
DEFAULT_POLL_MS = 50
_TOPIC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_PARTITION_FILE = re.compile(r"^(0|[1-9][0-9]{0,8})\.jsonl$")


@dataclass
class LineBatch:
    """Complete lines of one file, in order; `first` is the first line's number (its offset)."""

    values: list[bytes | None]
    first: int

    def offset_at(self, index: int) -> int:
        return self.first + index

    @property
    def next_offset(self) -> int:
        return self.first + len(self.values)

    @property
    def last_timestamp_ms(self) -> int | None:
        return None  # a line carries no time of its own


class JsonlPartitionConsumer:
    """Reads one file from an exact line number on; the file is opened once it exists."""

    def __init__(self, path: Path | None, start: StartPosition, poll_s: float) -> None:
        """`path` None: the server has no root directory, so the partition holds nothing."""
        self._path = path
        self._poll_s = poll_s
        self._file: BinaryIO | None = None
        self._offset = 0  # the line number of the next line to read
        self._skip = 0  # lines still to pass over before `_offset` (a seek past what the file holds yet)
        self._latest: int | None = None
        self.committed: int | None = None
        if start.offset is not None:
            self.seek(start.offset)
        elif start.reset is OffsetReset.LARGEST:
            self.seek(_count_lines(path))
        else:
            self.seek(0)

    def fetch(self, max_messages: int, timeout_s: float) -> LineBatch | None:
        deadline = time.monotonic() + timeout_s
        while True:
            first = self._offset
            lines = self._read(max_messages)
            if lines:
                return LineBatch(lines, first)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(self._poll_s, remaining))

    def _read(self, max_messages: int) -> list[bytes | None]:
        handle = self._open()
        if handle is None:
            return []
        lines: list[bytes | None] = []
        while len(lines) < max_messages:
            start = handle.tell()
            line = handle.readline()
            if not line.endswith(b"\n"):  # end of file, or a line still being written: read it later
                handle.seek(start)
                self._latest = self._offset
                break
            if self._skip:
                self._skip -= 1
                continue
            lines.append(line[:-1])
            self._offset += 1
        return lines

    def _open(self) -> BinaryIO | None:
        if self._file is None and self._path is not None:
            try:
                self._file = open(self._path, "rb")  # noqa: SIM115 (kept open between fetches)
            except FileNotFoundError:
                return None
        return self._file

    def bounds(self, position: int, timeout_s: float) -> PartitionBounds | None:
        return PartitionBounds(0, _count_lines(self._path))

    def seek(self, offset: int) -> None:
        """Position at line `offset`: skip that many complete lines from the start of the file."""
        self.close()
        self._offset, self._skip = offset, offset
        handle = self._open()
        while handle is not None and self._skip:
            start = handle.tell()
            line = handle.readline()
            if not line.endswith(b"\n"):
                handle.seek(start)
                break
            self._skip -= 1

    def latest_offset(self) -> int | None:
        return self._latest

    def commit(self, offset: int) -> None:
        self.committed = offset

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class JsonlMetadataProvider:
    def __init__(self, directory: Path | None, topic: str) -> None:
        self._directory = directory
        self._topic = topic

    def partition_ids(self) -> list[int]:
        if self._directory is None:
            raise StreamError(f"the server has no {ROOT_VARIABLE}: topic {self._topic!r} has no directory")
        if not self._directory.is_dir():
            raise TopicNotFound(f"names topic {self._topic!r}: there is no directory {self._directory}",
                                key="topic.name")  # a 400 naming stream.jsonldir.topic.name
        return sorted(int(m.group(1)) for name in os.listdir(self._directory)
                      if (m := _PARTITION_FILE.match(name)) is not None)

    def close(self) -> None:
        pass


class JsonlDirectoryConsumerFactory:
    """The class the entry points name: `streamType: jsonldir` (and its own class name) resolve here."""

    config_keys = frozenset({"poll.interval.ms"})  # its own keys after `stream.jsonldir.`: not typos

    def __init__(self, config: StreamConfig, client_id: str) -> None:
        self._config = config
        self._poll_s = _poll_ms(config) / 1000
        root = os.environ.get(ROOT_VARIABLE)
        self._directory = Path(root) / config.topic if root else None

    @staticmethod
    def check_config(config: StreamConfig) -> None:
        """Called when a table config is parsed: this plugin's own keys, ConfigError naming the key."""
        if not _TOPIC.match(config.topic) or config.topic in (".", ".."):
            raise ConfigError(config.key_path("stream.jsonldir.topic.name"),
                              f"must be a plain directory name (letters, digits, '.', '_', '-'), got "
                              f"{config.topic!r}")
        _poll_ms(config)

    def partition_consumer(self, partition: int, start: StartPosition) -> JsonlPartitionConsumer:
        path = None if self._directory is None else self._directory / f"{partition}.jsonl"
        return JsonlPartitionConsumer(path, start, self._poll_s)

    def metadata_provider(self) -> JsonlMetadataProvider:
        return JsonlMetadataProvider(self._directory, self._config.topic)


def _poll_ms(config: StreamConfig) -> int:
    text = config.properties.get(POLL_KEY, str(DEFAULT_POLL_MS))
    if not text.isdigit() or not 1 <= int(text) <= 10_000:
        raise ConfigError(config.key_path(POLL_KEY), f"must be milliseconds from 1 to 10000, got {text!r}")
    return int(text)


def _count_lines(path: Path | None) -> int:
    """Complete lines in the file (0 when it does not exist yet)."""
    if path is None:
        return 0
    try:
        with open(path, "rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except FileNotFoundError:
        return 0
