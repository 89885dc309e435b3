"""Segment names (Pinot's `table__partition__sequence__yyyyMMddTHHmmZ`) and sealed-segment metadata."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from ingestd.stream.spi import offset_json


def segment_name(table: str, partition: int, sequence: int, created_ms: int) -> str:
    stamp = datetime.fromtimestamp(created_ms / 1000, tz=UTC).strftime("%Y%m%dT%H%MZ")
    return f"{table}__{partition}__{sequence}__{stamp}"


@dataclass(frozen=True)
class SegmentMetadata:
    """What the ledger records for one sealed segment: exactly which offsets it holds, and its file."""

    table: str
    table_uid: str
    partition: int
    sequence: int
    name: str
    start_offset: int  # first offset the segment covers
    end_offset: int  # offset to consume next (exclusive end)
    rows: int
    min_time: int | None
    max_time: int | None
    created_ms: int
    sealed_ms: int
    size_bytes: int
    crc32: int
    row_limit: int = 0  # the rows threshold the segment was consumed under (auto-tuning learns from it)
    retired: bool = False  # a record saying retention deleted this segment; its offsets stay committed
    # A record of no segment at all: the stream could not continue at start_offset (the checkpoint) and
    # auto.offset.reset moved consumption to end_offset, which is the checkpoint from now on.
    reset: bool = False

    @property
    def file_name(self) -> str:
        return f"{self.name}.arrow"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: an offset beyond 2^53 (a Kinesis sequence number) is written as a decimal string,
        which every JSON library reads back exactly (orjson refuses integers beyond 64 bits)."""
        doc = asdict(self)
        for key in _OFFSET_FIELDS:
            doc[key] = offset_json(doc[key])
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> SegmentMetadata:
        fields = {name: doc[name] for name in cls.__dataclass_fields__ if name in doc}
        for key in _OFFSET_FIELDS:
            if isinstance(fields.get(key), str):
                fields[key] = int(fields[key])
        return cls(**fields)


_OFFSET_FIELDS = ("start_offset", "end_offset")


def offset_reset_record(table: str, table_uid: str, partition: int, sequence: int, from_offset: int,
                        to_offset: int, at_ms: int) -> SegmentMetadata:
    """The ledger record of an offset reset: the checkpoint moves from `from_offset` to `to_offset`
    (either way: a re-created topic starts again below it). `sequence` is that of the consuming segment
    the reset starts, so recovery, which resumes from the newest record, resumes at `to_offset`."""
    name = f"{segment_name(table, partition, sequence, at_ms)}__reset"
    return SegmentMetadata(table, table_uid, partition, sequence, name, from_offset, to_offset, rows=0,
                           min_time=None, max_time=None, created_ms=at_ms, sealed_ms=at_ms, size_bytes=0,
                           crc32=0, reset=True)
