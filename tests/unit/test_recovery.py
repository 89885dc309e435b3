"""Start-up recovery: orphans deleted; a missing or corrupt segment drops it and everything after it,
so the partition re-consumes from the last good segment instead of silently skipping data."""

from __future__ import annotations

from pathlib import Path

from ingestd.devtools.seed import student_record
from tests.support.memory_stream import MemoryTopic
from tests.unit.test_partition_ingestor import drain, ingestor, make_spec


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
