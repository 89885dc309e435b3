"""Failing seals and polls back off exponentially, show in the status, log once per streak (plus a reminder
every 30 s), log their recovery once and clear their error; nothing fetched is skipped meanwhile."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ingestd.decode.json_decoder import JsonDecoder
from ingestd.decode.spi import DecodedBatch
from ingestd.devtools.seed import student_record
from ingestd.errors import StreamError
from ingestd.ingest import partition as partition_module
from ingestd.ingest.backoff import FailureBackoff
from ingestd.ingest.partition import PartitionIngestor
from ingestd.paths import PartitionPaths
from tests.support.fake_clock import FakeClock
from tests.support.memory_stream import MemoryConsumerFactory, MemoryTopic
from tests.unit.test_partition_ingestor import all_first_names, drain, ingestor, make_spec

log = logging.getLogger("test-backoff")


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_back_off_doubles_to_its_cap_and_logs_a_start_reminders_and_a_recovery(
    caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    retry = FailureBackoff("t[0]", "sealing", log, clock)
    assert retry.ready() and not retry.failing
    delays = []
    for attempt in range(12):
        retry.failed(f"disk full #{attempt}")
        delays.append(retry.delay_s)
        assert not retry.ready()
        clock.advance(retry.delay_s)
        assert retry.ready()
    assert delays == [0.25, 0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30, 30]
    lines = [r.getMessage() for r in errors(caplog)]
    assert len(lines) == 1 + 5  # the start, then reminders at most every 30 s: attempts at 31.75 ... 151.75 s
    assert lines[0].startswith("t[0]: disk full #0; retrying with back-off")
    assert lines[1].startswith("t[0]: sealing still failing (")
    assert retry.succeeded() == "disk full #11"
    assert not retry.failing and retry.succeeded() is None  # the recovery is logged once
    recoveries = [r.getMessage() for r in caplog.records if "works again" in r.getMessage()]
    assert recoveries == ["t[0]: sealing works again after 12 failed attempt(s) in 181.8 s"]


def test_a_failing_seal_is_retried_with_back_off_and_blocks_until_it_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    topic = MemoryTopic()
    topic.publish(0, [student_record(i) for i in range(150)])
    clock = FakeClock()
    worker = ingestor(make_spec(rows=100), topic, tmp_path, clock)
    real_seal = partition_module.seal_segment
    broken = [True]

    def seal(*args: object) -> object:
        if broken[0]:
            raise OSError(28, "No space left on device")
        return real_seal(*args)

    monkeypatch.setattr(partition_module, "seal_segment", seal)
    for _ in range(1_000):  # a busy worker loop, 10 ms a turn, for 10 s
        worker.poll(64)
        clock.advance(0.01)
    # back-off 0.25 + 0.5 + 1 + 2 + 4 s: the first attempt and 5 retries in 10 s, not 1,000
    assert worker.counters.seal_failures == 6
    assert len(errors(caplog)) == 1  # one line for the streak, not one per attempt
    status = worker.status()
    assert status["state"] == "BLOCKED" and "No space left on device" in status["lastError"]
    assert worker.counters.messages == 128  # consumption holds; the rows stay in memory
    broken[0] = False
    clock.advance(30)
    drain(worker)
    status = worker.status()
    assert status["state"] == "CONSUMING" and status["lastError"] is None
    assert [(m.start_offset, m.end_offset) for m, _ in worker.sealed] == [(0, 100)]
    assert all_first_names(worker) == [f"s{i}" for i in range(150)]
    assert sum("works again" in r.getMessage() for r in caplog.records) == 1


def test_a_failing_poll_backs_off_shows_error_and_recovers_without_raising(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    topic = MemoryTopic()
    topic.publish(0, [student_record(i) for i in range(50)])
    topic.fetch_failures = [StreamError("broker said no")] * 4
    clock = FakeClock()
    worker = ingestor(make_spec(rows=100), topic, tmp_path, clock)
    for _ in range(100):
        assert worker.poll(64) == 0  # the ingestor catches its own failures: the worker loop never sees them
        clock.advance(0.005)
    assert len(topic.fetch_failures) == 2  # two attempts (0 and 0.25 s) in 0.5 s, not 100
    status = worker.status()
    assert status["state"] == "ERROR" and status["lastError"] == "polling failed: StreamError: broker said no"
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(errors(caplog)) == 1 and len(tracebacks) == 1  # one traceback for the streak
    for _ in range(2):  # the last two failures, each after its back-off
        clock.advance(10)
        assert worker.poll(64) == 0
    clock.advance(10)
    drain(worker)
    assert topic.fetch_failures == [] and worker.status()["state"] == "CONSUMING"
    assert worker.status()["lastError"] is None
    assert all_first_names(worker) == [f"s{i}" for i in range(50)]


class FlakyDecoder(JsonDecoder):
    """Fails on its first call, as a decoder bug on one batch would."""

    failed = False

    def decode(self, values: list[bytes | None]) -> DecodedBatch:
        if not self.failed:
            self.failed = True
            raise ValueError("decoder bug")
        return super().decode(values)


def test_a_batch_that_fails_after_it_was_fetched_is_retried_not_skipped(tmp_path: Path) -> None:
    topic = MemoryTopic()
    topic.publish(0, [student_record(i) for i in range(30)])
    spec = make_spec(rows=100)
    clock = FakeClock()
    worker = PartitionIngestor(spec, 0, PartitionPaths(tmp_path), MemoryConsumerFactory(topic),
                               FlakyDecoder(spec.schema, spec.config), clock=clock)
    assert worker.poll(10) == 0 and worker.status()["state"] == "ERROR"
    clock.advance(1)
    drain(worker, batch=10)
    assert worker.status()["state"] == "CONSUMING"
    assert all_first_names(worker) == [f"s{i}" for i in range(30)]  # offsets 0-9 were fetched once only
