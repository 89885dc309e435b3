"""Start-up recovery: orphans deleted; a missing or corrupt segment drops it and everything after it,
so the partition re-consumes from the last good segment instead of silently skipping data; the resume
point is the newest record (by sequence), which after an offset reset is not the largest offset."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestd.devtools.seed import student_record
from ingestd.ingest import retention as retention_module
from ingestd.ingest.recovery import live_segments, newest_record, recover_partition
from ingestd.ledger import OffsetLedger
from ingestd.paths import PartitionPaths
from ingestd.segment.metadata import SegmentMetadata
from tests.support.memory_stream import MemoryTopic
from tests.unit.test_partition_ingestor import (
    all_first_names,
    drain,
    ingestor,
    make_spec,
    recent_record,
    retention_spec,
)


def sealed_ingestor(tmp_path: Path) -> tuple[MemoryTopic, list[str]]:
    topic = MemoryTopic()
    topic.publish(0, [student_record(i) for i in range(350)])
    worker = ingestor(make_spec(rows=100), topic, tmp_path)
    drain(worker)
    return topic, [m.file_name for m, _ in worker.sealed]


def test_an_orphan_segment_file_without_a_ledger_record_is_deleted(tmp_path: Path) -> None:
    topic, files = sealed_ingestor(tmp_path)
    orphan = tmp_path / "segments" / "t__0__9__20240101T0000Z.arrow"
    orphan.write_bytes(b"half written")
    (tmp_path / "segments" / ".sealing-x.arrow").write_bytes(b"temp")
    restarted = ingestor(make_spec(rows=100), topic, tmp_path)
    assert sorted(p.name for p in (tmp_path / "segments").iterdir()) == sorted(files)
    assert len(restarted.sealed) == 3


def test_a_corrupt_segment_is_dropped_with_its_successors_and_consumed_again(tmp_path: Path) -> None:
    topic, files = sealed_ingestor(tmp_path)
    damaged = tmp_path / "segments" / files[1]
    image = bytearray(damaged.read_bytes())
    image[len(image) // 2] ^= 0xFF
    damaged.write_bytes(bytes(image))
    restarted = ingestor(make_spec(rows=100), topic, tmp_path)
    assert [m.sequence for m, _ in restarted.sealed] == [0]
    assert restarted.segment.start_offset == 100
    assert sorted(p.name for p in (tmp_path / "segments").iterdir()) == [files[0]]
    drain(restarted)
    assert [(m.start_offset, m.end_offset) for m, _ in restarted.sealed] == [(0, 100), (100, 200), (200, 300)]
    sealed, consuming = restarted.tables()
    assert sum(t.num_rows for t in sealed) + consuming.num_rows == 350


def test_a_missing_segment_file_resumes_from_the_previous_segment(tmp_path: Path) -> None:
    topic, files = sealed_ingestor(tmp_path)
    (tmp_path / "segments" / files[2]).unlink()
    restarted = ingestor(make_spec(rows=100), topic, tmp_path)
    assert [m.sequence for m, _ in restarted.sealed] == [0, 1]
    assert restarted.segment.start_offset == 200


def record(sequence: int, start: int, end: int, **flags: bool) -> SegmentMetadata:
    return SegmentMetadata("t", "uid1", 0, sequence, f"t__0__{sequence}", start, end, rows=end - start,
                           min_time=None, max_time=None, created_ms=0, sealed_ms=0, size_bytes=1, crc32=0,
                           **flags)


def test_the_newest_record_is_the_highest_sequence_and_the_last_of_equals() -> None:
    sealed = [record(0, 0, 100), record(1, 100, 250)]
    reset = record(2, 250, 0, reset=True)  # the topic was re-created: the checkpoint goes back to 0
    retired = record(1, 100, 250, retired=True)  # retention retires segment 1 after the reset
    assert newest_record([*sealed, reset, retired]) is reset  # not the largest end offset (250)
    resealed = record(2, 0, 40)  # the consuming segment the reset started, sealed
    assert newest_record([*sealed, reset, retired, resealed]) is resealed
    assert newest_record([]) is None
    assert live_segments([*sealed, reset, retired, resealed]) == [sealed[0], resealed]


def test_compaction_after_a_reset_keeps_the_reset_as_the_resume_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention_module, "LEDGER_COMPACT_BYTES", 1_000)
    topic = MemoryTopic()
    topic.publish(0, [student_record(i) for i in range(250)])  # 2019 timestamps: past a 1-day retention
    spec = retention_spec()
    worker = ingestor(spec, topic, tmp_path)
    drain(worker)  # segments 0-99 and 100-199 retired at once; 200-249 consuming
    topic.recreate(0)
    topic.publish(0, [recent_record(i) for i in range(1_000, 1_030)])
    drain(worker)  # back to 0: 200-249 sealed (then retired), a reset record, 30 rows consuming
    assert worker.counters.offset_resets == 1 and worker.sealed == []
    records = OffsetLedger(tmp_path / "ledger.bin").recover()
    # compacted to the newest record: the reset, not segment 2's retirement (the largest offset, 250)
    assert [(r.reset, r.start_offset, r.end_offset) for r in records] == [(True, 250, 0)]
    recovered = recover_partition(PartitionPaths(tmp_path), OffsetLedger(tmp_path / "ledger.bin"))
    assert recovered.resume_offset == 0 and recovered.next_sequence == 4
    restarted = ingestor(spec, topic, tmp_path)
    drain(restarted)
    assert restarted.counters.offset_resets == 0
    assert all_first_names(restarted) == [f"s{i}" for i in range(1_000, 1_030)]
