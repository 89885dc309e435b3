"""Start-up repair of one partition's ledger and segment directory; yields where to resume.

1. The ledger is read; a torn or corrupt tail record is truncated (logged).
2. Each live segment's file (one whose record retention has not retired) must exist with the recorded
   size and CRC32. At the first that does not, the error is logged loudly and that record and every
   later one are dropped (their files deleted): the partition resumes at that segment's start offset
   and consumes the rest again from the broker, so nothing committed is silently lost and nothing is
   duplicated.
3. Files in the segment directory that no live record names (crashed seals, temp files) are orphans
   and are deleted.
The resume offset is the end offset of the newest record: the highest sequence, the last of equals in
ledger order, retired segments and offset resets included. Offsets of segments that retention deleted
stay committed, and after an offset reset (a re-created topic starts again at 0) the newest record is
not the one with the largest offset.

In consumer-group mode (Kafka highLevel) a sealed segment counts only once the group's committed offset
covers it: `uncommitted_tombstones` writes off those that end beyond it (a crash between the ledger record
and the group commit, or a revocation whose commit failed), since the partition's next owner reads their
rows again from the committed offset.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingestd.ledger import OffsetLedger
from ingestd.paths import PartitionPaths
from ingestd.segment.metadata import SegmentMetadata, offset_reset_record
from ingestd.segment.writer import file_crc32

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecoveredPartition:
    records: list[SegmentMetadata]  # every record kept, retired ones and resets included, in ledger order
    resume_offset: int | None  # None: no checkpoint, start where auto.offset.reset says

    @property
    def segments(self) -> list[SegmentMetadata]:
        """The live sealed segments, oldest first."""
        return live_segments(self.records)

    @property
    def next_sequence(self) -> int:
        return max((r.sequence for r in self.records), default=-1) + 1


def live_segments(records: list[SegmentMetadata]) -> list[SegmentMetadata]:
    """Records of segments that exist: not retired by retention, not offset-reset records."""
    retired = {r.name for r in records if r.retired}
    return [r for r in records if not r.retired and not r.reset and r.name not in retired]


def newest_record(records: Iterable[SegmentMetadata]) -> SegmentMetadata | None:
    """The checkpoint: the record with the highest sequence, the last of equals (a segment's seal follows
    the reset record that started it, and its retirement follows its seal)."""
    newest: SegmentMetadata | None = None
    for record in records:
        if newest is None or record.sequence >= newest.sequence:
            newest = record
    return newest


def uncommitted_tombstones(records: list[SegmentMetadata], committed: int, at_ms: int
                           ) -> tuple[list[SegmentMetadata], list[SegmentMetadata]]:
    """(the live segments that end beyond the group's `committed` offset, the ledger records that drop
    them): each one retired (its file may go), then an offset-reset record back to `committed`, so the
    local checkpoint no longer claims their offsets. Both lists are empty when nothing is beyond."""
    dropped = [r for r in live_segments(records) if r.end_offset > committed]
    if not dropped:
        return [], []
    tombstones = [dataclasses.replace(record, retired=True) for record in dropped]
    newest = newest_record(records)
    assert newest is not None
    first = dropped[0]
    tombstones.append(offset_reset_record(first.table, first.table_uid, first.partition, newest.sequence + 1,
                                          newest.end_offset, committed, at_ms))
    return dropped, tombstones


def recover_partition(paths: PartitionPaths, ledger: OffsetLedger) -> RecoveredPartition:
    records = ledger.recover()
    good = _verified_prefix(records, paths.segments)
    if len(good) < len(records):
        ledger.rewrite(good)
        resume: int | None = records[len(good)].start_offset  # the first lost segment is read again
    else:
        newest = newest_record(good)
        resume = newest.end_offset if newest is not None else None
    _delete_orphans(paths.segments, {record.file_name for record in live_segments(good)})
    return RecoveredPartition(good, resume)


def _verified_prefix(records: list[SegmentMetadata], directory: Path) -> list[SegmentMetadata]:
    live = {id(r) for r in live_segments(records)}
    for index, record in enumerate(records):
        if id(record) not in live:
            continue
        problem = _file_problem(record, directory / record.file_name)
        if problem is not None:
            dropped = records[index:]
            log.error(
                "SEGMENT LOST: %s of %s partition %d %s; dropping it and %d later record(s) and "
                "re-consuming from offset %d (what it and its successors held will be read again from "
                "the stream)",
                record.name, record.table, record.partition, problem, len(dropped) - 1, record.start_offset,
            )
            return records[:index]
    return records


def _file_problem(record: SegmentMetadata, path: Path) -> str | None:
    if not path.exists():
        return "is missing"
    size = path.stat().st_size
    if size != record.size_bytes:
        return f"has {size} bytes, the ledger recorded {record.size_bytes}"
    if file_crc32(path) != record.crc32:
        return "fails its CRC32 checksum"
    return None


def _delete_orphans(directory: Path, keep: set[str]) -> None:
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        if path.name not in keep:
            log.warning("deleting orphan segment file %s (no ledger record)", path)
            path.unlink()
