"""The worker's deep-store committer against a real Delta table on the filesystem: sealed segment files are
committed in order per partition, exactly once; while the store cannot be written they stay pending
(visible, with the error) and are committed once it can; a stale server's segments write nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
from deltalake import DeltaTable

from ingestd.deepstore.committer import DeepStoreCommitter, SealedSegment
from ingestd.deepstore.config import DeepStoreSettings
from ingestd.deepstore.delta_log import CommitOutcome, DeltaSegmentLog, application_id
from ingestd.devtools.polling import wait_until


def sealed(tmp_path: Path, partition: int, first: int, last: int) -> SealedSegment:
    path = tmp_path / f"t__{partition}__{first}.arrow"
    rows = pa.table({"id": pa.array(range(first, last + 1), pa.int64()),
                     "partition": pa.array([partition] * (last - first + 1), pa.int32())})
    with ipc.new_file(str(path), rows.schema) as writer:
        writer.write_table(rows)
    return SealedSegment("t", "topic", partition, path.stem, path, first, last, time.time())


def delta_ids(uri: str) -> list[int]:
    return sorted(DeltaTable(uri).to_pyarrow_table().column("id").to_pylist())


def test_segments_are_committed_in_order_and_reported(tmp_path: Path) -> None:
    outcomes: list[tuple[str, CommitOutcome]] = []
    committer = DeepStoreCommitter(DeepStoreSettings(f"file://{tmp_path}/lake"),
                                   on_outcome=lambda s, o: outcomes.append((s.name, o)))
    committer.start()
    try:
        for partition in (0, 1):
            for first in (0, 10, 20):
                committer.submit(sealed(tmp_path, partition, first, first + 9))
        wait_until(lambda: committer.pending() == 0, timeout_s=60, what="every commit")
        assert delta_ids(f"file://{tmp_path}/lake/t") == sorted(list(range(30)) * 2)
        status = committer.partition_status("t", 1)
        assert status is not None and status["committedOffset"] == 29 and status["committedSegments"] == 3
        assert status["lastError"] is None and status["pendingSegments"] == 0
        log = DeltaSegmentLog(f"file://{tmp_path}/lake/t", {})
        assert log.committed_offset(application_id("t", "topic", 0)) == 29
        # a segment submitted again (a restart that had not heard of its commit) is a duplicate
        committer.submit(sealed(tmp_path, 0, 20, 29))
        wait_until(lambda: committer.pending() == 0, timeout_s=30, what="the duplicate")
        assert outcomes[-1][1] is CommitOutcome.DUPLICATE
        assert delta_ids(f"file://{tmp_path}/lake/t") == sorted(list(range(30)) * 2)
    finally:
        committer.stop()


def test_an_unwritable_store_keeps_segments_pending_then_commits_them(tmp_path: Path) -> None:
    blocker = tmp_path / "lake"
    blocker.write_text("not a directory: the store cannot be written")
    committer = DeepStoreCommitter(DeepStoreSettings(f"file://{blocker}"))
    committer.start()
    try:
        committer.submit(sealed(tmp_path, 0, 0, 9))
        committer.submit(sealed(tmp_path, 0, 10, 19))
        wait_until(lambda: (committer.partition_status("t", 0) or {}).get("lastError"), timeout_s=30,
                   what="the failure to be reported")
        status = committer.partition_status("t", 0)
        assert status is not None and status["pendingSegments"] == 2 and status["committedOffset"] is None
        blocker.unlink()
        wait_until(lambda: committer.pending() == 0, timeout_s=60, what="the commits once the store is back")
        assert delta_ids(f"file://{blocker}/t") == list(range(20))
        assert (committer.partition_status("t", 0) or {})["lastError"] is None
    finally:
        committer.stop()


def test_a_stale_servers_segments_write_nothing(tmp_path: Path) -> None:
    uri = f"file://{tmp_path}/lake"
    other = DeltaSegmentLog(f"{uri}/t", {})
    other_rows = pa.table({"id": pa.array(range(0, 15), pa.int64()),
                           "partition": pa.array([0] * 15, pa.int32())})
    assert other.commit(application_id("t", "topic", 0), 0, 14, other_rows) is CommitOutcome.COMMITTED
    outcomes: list[CommitOutcome] = []
    committer = DeepStoreCommitter(DeepStoreSettings(uri), on_outcome=lambda s, o: outcomes.append(o))
    committer.start()
    try:
        committer.submit(sealed(tmp_path, 0, 10, 19))  # overlaps what the other server committed
        committer.submit(sealed(tmp_path, 0, 20, 29))
        wait_until(lambda: committer.pending() == 0, timeout_s=30, what="the stale outcome")
        assert outcomes == [CommitOutcome.STALE]
        assert delta_ids(f"{uri}/t") == list(range(15))
    finally:
        committer.stop()
