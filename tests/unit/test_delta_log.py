"""The deep store's commit protocol against real Delta tables (delta-rs), on a local filesystem and on
moto's S3 server: each offset range lands exactly once; duplicates and stale servers write nothing;
a crash between upload and commit leaves only an orphan file, which the sweep deletes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from deltalake import DeltaTable
from moto.server import ThreadedMotoServer

from ingestd.deepstore.delta_log import (
    CommitOutcome,
    DeltaSegmentLog,
    GapPending,
    application_id,
    delta_ready,
)

APP = application_id("t", "topic", 0)


def rows(first: int, last: int) -> pa.Table:
    ids = list(range(first, last + 1))
    return pa.table({"id": pa.array(ids, pa.int64()),
                     "name": pa.array([f"n{i % 3}" for i in ids]).dictionary_encode(),
                     "ts": pa.array([1_700_000_000_000 + i for i in ids], pa.timestamp("ms"))})


def committed_ids(uri: str, options: dict[str, str]) -> list[int]:
    return sorted(DeltaTable(uri, storage_options=options).to_pyarrow_table().column("id").to_pylist())


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[tuple[str, dict[str, str]]]:
    if request.param == "file":
        yield f"file://{tmp_path}/t", {}
        return
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                           "AWS_REGION": "us-east-1"}.items():
            monkeypatch.setenv(key, value)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        if "lake" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket="lake")  # moto's state is per process: servers share the bucket
        yield f"s3://lake/{tmp_path.name}/t", {"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
                                               "AWS_ALLOW_HTTP": "true"}
    finally:
        server.stop()


def test_segments_commit_in_order_exactly_once(store: tuple[str, dict[str, str]]) -> None:
    uri, options = store
    log = DeltaSegmentLog(uri, options)
    assert log.committed_offset(APP) is None
    assert log.commit(APP, 0, 9, rows(0, 9)) is CommitOutcome.COMMITTED
    assert log.commit(APP, 0, 9, rows(0, 9)) is CommitOutcome.DUPLICATE  # a retry after a lost answer
    assert log.commit(APP, 5, 9, rows(5, 9)) is CommitOutcome.DUPLICATE
    with pytest.raises(GapPending):  # a gap: the previous owner's commits are still to come
        log.commit(APP, 20, 29, rows(20, 29))
    assert log.commit(APP, 10, 19, rows(10, 19)) is CommitOutcome.COMMITTED
    assert log.commit(APP, 15, 24, rows(15, 24)) is CommitOutcome.STALE  # someone else committed 15-19
    # an offset reset skipped 20-29 (lowLevel: one owner): committed across the gap when allowed
    assert log.commit(APP, 30, 34, rows(30, 34), allow_gap=True) is CommitOutcome.COMMITTED
    other = application_id("t", "topic", 1)
    assert log.commit(other, 100, 104, rows(100, 104)) is CommitOutcome.COMMITTED  # partitions apart
    assert log.committed_offset(APP) == 34 and log.committed_offset(other) == 104
    assert committed_ids(uri, options) == list(range(0, 20)) + list(range(30, 35)) + list(range(100, 105))
    table = DeltaTable(uri, storage_options=options).to_pyarrow_table()
    assert table.schema.field("name").type == pa.string()
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")


def test_racing_servers_commit_each_range_once(store: tuple[str, dict[str, str]]) -> None:
    """Two servers commit the same next segment at the same moment: one wins, the other sees a
    duplicate (after delta-rs refuses its conflicting commit), and no row is doubled."""
    uri, options = store
    DeltaSegmentLog(uri, options).commit(APP, 0, 4, rows(0, 4))
    outcomes: list[CommitOutcome] = []
    barrier = threading.Barrier(2)

    def race() -> None:
        log = DeltaSegmentLog(uri, options)
        barrier.wait()
        outcomes.append(log.commit(APP, 5, 9, rows(5, 9)))

    threads = [threading.Thread(target=race) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(o.value for o in outcomes) == ["committed", "duplicate"]
    assert committed_ids(uri, options) == list(range(0, 10))


def test_a_crash_between_upload_and_commit_leaves_an_orphan_that_the_sweep_deletes(
    store: tuple[str, dict[str, str]]
) -> None:
    uri, options = store
    log = DeltaSegmentLog(uri, options)
    log.commit(APP, 0, 4, rows(0, 4))
    orphan = log._upload(delta_ready(rows(5, 9)))  # step 3 done, then the process died before step 4
    assert committed_ids(uri, options) == list(range(0, 5))  # readers never see the orphan's rows
    assert log.commit(APP, 5, 9, rows(5, 9)) is CommitOutcome.COMMITTED  # the restart commits it anew
    swept = log.sweep_orphans(older_than_ms=0)
    assert any(orphan.path in path for path in swept), swept
    assert committed_ids(uri, options) == list(range(0, 10))
