"""What a partition tells about its progress, on an in-memory stream: latest offset, lag, freshness
timestamps, seal timings; every new checkpoint (seal, offset reset, start-up) committed to the stream;
a backlog's rate, ETA and progress log lines (every PROGRESS_LOG_S while behind, one when caught up,
none while keeping up)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ingestd.devtools.seed import student_record
from ingestd.ingest.progress import PROGRESS_LOG_S, DurationHistogram, PartitionProgress
from tests.support.fake_clock import FakeClock
from tests.support.memory_stream import MemoryTopic
from tests.unit.test_offset_resets import records, spec_with
from tests.unit.test_partition_ingestor import drain, ingestor, make_spec

EVENT_BASE = 1_571_900_400_000  # student_record(i)'s time column is EVENT_BASE + i


class FixedLatest:
    """A consumer whose latest offset the test sets."""

    def __init__(self) -> None:
        self.latest: int | None = None

    def latest_offset(self) -> int | None:
        return self.latest


def progress_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ingestd.ingest.progress"]


def test_status_shows_latest_offset_lag_freshness_bytes_and_seal_timings(tmp_path: Path) -> None:
    topic = MemoryTopic()
    values = [student_record(i) for i in range(250)]
    topic.publish(0, values, timestamp_ms=1_700_000_000_000)
    worker = ingestor(make_spec(rows=100), topic, tmp_path)
    drain(worker)
    status = worker.status()
    assert (status["currentOffset"], status["latestOffset"], status["lag"]) == (250, 250, 0)
    assert status["newestIngestTimeMs"] == 1_700_000_000_000
    assert status["newestEventTimeMs"] == EVENT_BASE + 249
    assert status["bytesConsumed"] == sum(map(len, values))
    assert status["backlog"] is None and status["availabilityLagMs"] > 0  # published "long ago"
    seals = status["sealSeconds"]
    assert seals["count"] == 2 and seals["sum"] > 0 and seals["buckets"][-1][1] == 2

    topic.publish(0, [student_record(i) for i in range(250, 300)])  # not consumed yet
    assert (worker.status()["latestOffset"], worker.status()["lag"]) == (300, 50)

    topic.latest_unknown = True  # e.g. no fetch response yet: unknown, not guessed
    restarted = ingestor(make_spec(rows=100), topic, tmp_path)
    status = restarted.status()
    assert (status["latestOffset"], status["lag"], status["newestIngestTimeMs"]) == (None, None, None)
    assert status["newestEventTimeMs"] == EVENT_BASE + 199  # what the sealed segments hold survives


def test_every_new_checkpoint_is_committed_to_the_stream_and_only_then(tmp_path: Path) -> None:
    topic = MemoryTopic()
    topic.publish(0, records(range(150)))
    worker = ingestor(spec_with("smallest"), topic, tmp_path)
    assert topic.commits == {}  # an empty ledger: there is no checkpoint to publish
    drain(worker)
    assert topic.commits == {0: [100]}  # the seal; the consuming rows are not a checkpoint
    topic.publish(0, records(range(150, 300)))
    topic.delete_before(0, 200)  # retention overtook the consumer: seal 100-149, reset to 200
    drain(worker)
    assert topic.commits == {0: [100, 150, 200, 300]}
    ingestor(spec_with("smallest"), topic, tmp_path)  # a restart publishes the ledger's checkpoint
    assert topic.commits == {0: [100, 150, 200, 300, 300]}


def test_a_backlog_shows_rows_behind_and_an_eta_and_logs_progress_every_few_seconds(
    caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock, consumer = FakeClock(), FixedLatest()
    progress = PartitionProgress("t[0]", consumer, clock=clock)  # type: ignore[arg-type]
    consumer.latest = 100_000
    progress.tick(0, 0)
    assert progress.fields(0)["backlog"] | {"sinceMs": 0} == {"rowsBehind": 100_000, "etaSeconds": None,
                                                              "sinceMs": 0}
    assert progress_lines(caplog) == []  # no rate yet: nothing worth saying
    current = 0
    for _ in range(8):  # 10,000 rows/s for 8 s, a sample every second (more ticks in between are free)
        clock.advance(0.5)
        progress.tick(current, current)
        clock.advance(0.5)
        current += 10_000
        progress.tick(current, current)
    fields = progress.fields(current)
    assert (fields["lag"], fields["rowsPerSecond"], fields["backlog"]["etaSeconds"]) == (20_000, 10_000, 2.0)
    lines = progress_lines(caplog)
    assert len(lines) == 1 + int(7 // PROGRESS_LOG_S)  # at the first rate, then every PROGRESS_LOG_S
    assert lines[0] == ("t[0]: catching up: 90,000 rows behind (at offset 10000 of 100000), 10,000 rows/s, "
                        "about 9 s to catch up")
    clock.advance(1)
    current = 100_000
    progress.tick(current, current)
    assert progress.fields(current)["backlog"] is None and progress.fields(current)["lag"] == 0
    for _ in range(20):  # caught up, and then keeping up with a live feed (a few hundred rows behind)
        clock.advance(1)
        consumer.latest = current + 500
        current += 400
        progress.tick(current, current)
    assert progress_lines(caplog)[len(lines):] == ["t[0]: caught up at offset 100000 (0 rows behind)"]


def test_a_failing_partition_keeps_its_backlog_quiet_and_a_small_lag_is_no_backlog(
    caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock, consumer = FakeClock(), FixedLatest()
    progress = PartitionProgress("t[0]", consumer, clock=clock)  # type: ignore[arg-type]
    consumer.latest = 50_000
    for _ in range(10):  # stuck at 0 (polls fail): the back-off logs that, not the progress tracker
        progress.tick(0, 0, quiet=True)
        clock.advance(1)
    assert progress.fields(0)["backlog"]["rowsBehind"] == 50_000 and progress_lines(caplog) == []
    consumer.latest = 50_999
    progress.tick(50_000, 50_000)  # 999 behind: below BACKLOG_MIN_ROWS (e.g. a marker at the end)
    assert progress.fields(50_000)["backlog"] is None and progress_lines(caplog) == []


def test_the_duration_histogram_is_cumulative_like_prometheus() -> None:
    histogram = DurationHistogram((0.1, 1.0))
    for seconds in (0.05, 0.1, 0.5, 3.0):
        histogram.observe(seconds)
    assert histogram.snapshot() == {"count": 4, "sum": pytest.approx(3.65), "buckets": [[0.1, 2], [1.0, 3]]}
