"""Offset resets on an in-memory stream: retention overtaking the consumer, a re-created topic, a broker
that never answers OFFSET_OUT_OF_RANGE (like Tansu), offsets that hold no message, probe pacing, and what
a restart makes of a reset (the ledger's newest record is the checkpoint, not its largest offset)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ingestd.config import parse_schema, parse_table_config
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.ingest.continuity import IDLE_BEFORE_PROBE_S, PROBE_INTERVAL_S
from ingestd.ingest.partition import PartitionIngestor
from ingestd.ingest.recovery import newest_record
from ingestd.ingest.table_spec import TableSpec
from ingestd.ledger import OffsetLedger
from tests.support.fake_clock import FakeClock
from tests.support.memory_stream import MemoryTopic
from tests.unit.test_partition_ingestor import all_first_names, drain, ingestor


def spec_with(reset: str = "smallest", rows: int = 100) -> TableSpec:
    schema_doc, table_doc = seed_configs("t", **{"realtime.segment.flush.threshold.rows": str(rows),
                                                  "stream.kafka.consumer.prop.auto.offset.reset": reset})
    schema = parse_schema(schema_doc)
    return TableSpec(parse_table_config(table_doc, {"t": schema}), schema, "uid1")


def names(numbers: range | list[int], prefix: str = "s") -> list[str]:
    return [f"{prefix}{i}" for i in numbers]


def records(values: range, prefix: str = "s") -> list[bytes | None]:
    return [student_record(i).replace(b'"s%d"' % i, f'"{prefix}{i}"'.encode()) for i in values]


def ranges(worker: PartitionIngestor) -> list[tuple[int, int]]:
    return [(meta.start_offset, meta.end_offset) for meta, _ in worker.sealed]


def message_loss_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    return [line for line in lines if "MESSAGE LOSS" in line]


def started(tmp_path: Path, topic: MemoryTopic, published: int, reset: str = "smallest"
            ) -> tuple[PartitionIngestor, FakeClock]:
    """An ingestor that consumed `published` messages: sealed per 100, the rest in its consuming segment."""
    clock = FakeClock()
    worker = ingestor(spec_with(reset), topic, tmp_path, clock)
    topic.publish(0, records(range(published)))
    drain(worker)
    return worker, clock


def test_retention_overtaking_the_consumer_mid_run_reports_the_exact_gap_and_seals_before_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    topic = MemoryTopic()
    worker, _ = started(tmp_path, topic, 150)  # sealed 0-99, consuming 100-149
    topic.publish(0, records(range(150, 300)))
    topic.delete_before(0, 200)  # retention deleted 150-199 before they were read: the consumer resets
    drain(worker)
    assert worker.counters.offset_resets == 1 and worker.counters.messages_lost == 50
    assert "offsets 150-199 (50 messages) were lost" in (worker.counters.last_error or "")
    assert len(message_loss_lines(caplog)) == 1
    assert ranges(worker) == [(0, 100), (100, 150), (200, 300)]  # no segment spans the gap
    assert worker.status()["lastOffsetReset"] | {"atMs": 0} == {
        "atMs": 0, "fromOffset": 150, "toOffset": 200, "messagesLost": 50, "lossUnknown": False}
    assert all_first_names(worker) == names([*range(150), *range(200, 300)])


def test_a_recreated_topic_mid_run_seals_first_and_a_restart_resumes_at_the_reset(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    topic = MemoryTopic()
    worker, _ = started(tmp_path, topic, 250)  # sealed 0-199, consuming 200-249
    topic.recreate(0)
    topic.publish(0, records(range(30), prefix="n"))
    drain(worker)  # the consumer (like Kafka's) resets itself to 0: the batch goes back
    assert worker.counters.offset_resets == 1 and worker.counters.messages_lost == 0
    error = worker.counters.last_error or ""
    assert "offset 250 out of range; auto.offset.reset=smallest: resuming at 0" in error
    assert "how much is unknown" in error and len(message_loss_lines(caplog)) == 1
    assert ranges(worker) == [(0, 100), (100, 200), (200, 250)]  # the old log's rows were sealed first
    assert (worker.segment.start_offset, worker.segment.rows) == (0, 30)
    expected = names(range(250)) + names(range(30), "n")
    assert all_first_names(worker) == expected

    ledger = OffsetLedger(tmp_path / "ledger.bin").recover()
    newest = newest_record(ledger)
    assert newest is not None and newest.reset and (newest.start_offset, newest.end_offset) == (250, 0)
    assert max(r.end_offset for r in ledger) == 250  # the largest offset is not the checkpoint any more

    restarted = ingestor(spec_with(), topic, tmp_path, FakeClock())  # a crash: the 30 rows were unsealed
    drain(restarted)
    assert restarted.counters.offset_resets == 0 and restarted.segment.start_offset == 0
    assert all_first_names(restarted) == expected  # read again from the reset point: none lost, none twice


@pytest.mark.parametrize(("reset", "target", "lost"), [("smallest", 0, 0), ("largest", 20, 20)])
def test_a_broker_that_stays_silent_past_the_end_is_found_by_an_idle_probe(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, reset: str, target: int, lost: int
) -> None:
    topic = MemoryTopic(silent_out_of_range=True)  # like Tansu: no OFFSET_OUT_OF_RANGE, just nothing
    worker, clock = started(tmp_path, topic, 250, reset)
    topic.recreate(0)
    topic.publish(0, records(range(20), prefix="n"))
    assert worker.poll(100) == 0 and worker.status()["state"] == "CONSUMING"
    calls = topic.bounds_calls
    clock.advance(IDLE_BEFORE_PROBE_S + 0.1)
    worker.poll(100)
    assert topic.bounds_calls == calls + 1 and topic.seeks == [target]
    status = worker.status()
    assert status["state"] == "OFFSET_RESET"
    assert status["offsetResets"] == 1 and status["messagesLost"] == lost
    assert f"resuming at {target}; the stream ends at 20" in status["lastError"]
    assert len(message_loss_lines(caplog)) == 1
    assert ranges(worker) == [(0, 100), (100, 200), (200, 250)]
    topic.publish(0, records(range(20, 25), prefix="n"))
    drain(worker)
    assert worker.status()["state"] == "CONSUMING" and worker.segment.start_offset == target
    assert all_first_names(worker) == names(range(250)) + names(range(target, 25), "n")


def test_a_checkpoint_past_the_end_at_start_up_is_found_and_reset(tmp_path: Path) -> None:
    topic = MemoryTopic(silent_out_of_range=True)
    first, _ = started(tmp_path, topic, 200)  # checkpoint 200
    first.close()
    topic.recreate(0)  # the broker came back empty while the server was down
    topic.publish(0, records(range(10), prefix="n"))
    clock = FakeClock()
    restarted = ingestor(spec_with(), topic, tmp_path, clock)
    drain(restarted)
    assert restarted.counters.offset_resets == 0  # not before the partition has been idle a while
    clock.advance(IDLE_BEFORE_PROBE_S)
    assert restarted.poll(100) == 0  # the probe finds the reset and moves the consumer
    drain(restarted)
    assert restarted.counters.offset_resets == 1 and restarted.segment.start_offset == 0
    assert all_first_names(restarted) == names(range(200)) + names(range(10), "n")


def test_probes_wait_for_idleness_keep_their_interval_and_an_unanswered_probe_resets_nothing(
    tmp_path: Path
) -> None:
    topic = MemoryTopic(silent_out_of_range=True)
    worker, clock = started(tmp_path, topic, 50)
    for i in range(50, 60):  # a message every second: never idle long enough
        topic.publish(0, records(range(i, i + 1)))
        clock.advance(1.0)
        assert worker.poll(100) == 1
    assert topic.bounds_calls == 0
    clock.advance(IDLE_BEFORE_PROBE_S)
    worker.poll(100)
    assert topic.bounds_calls == 1  # the position is fine: nothing happens
    clock.advance(PROBE_INTERVAL_S - 0.5)
    worker.poll(100)
    assert topic.bounds_calls == 1  # not again within the interval
    topic.recreate(0)
    topic.bounds_unanswered = True  # the broker does not answer in time: undecided, so no reset
    clock.advance(1.0)
    worker.poll(100)
    assert topic.bounds_calls == 2 and worker.counters.offset_resets == 0
    topic.bounds_unanswered = False
    clock.advance(PROBE_INTERVAL_S)
    worker.poll(100)
    assert topic.bounds_calls == 3 and worker.counters.offset_resets == 1


def test_offsets_that_hold_no_message_are_no_loss(tmp_path: Path) -> None:
    topic = MemoryTopic()
    worker, _ = started(tmp_path, topic, 10)
    topic.publish_marker(0)  # offset 10: a transaction marker, the next batch starts at 11
    topic.publish(0, records(range(11, 20)))
    drain(worker)
    assert worker.counters.offset_resets == 0 and worker.counters.last_error is None
    assert topic.bounds_calls == 1  # the gap was checked against the stream's earliest offset
    assert (worker.segment.start_offset, worker.segment.end_offset) == (0, 20)


def test_a_reset_that_cannot_be_recorded_blocks_and_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = MemoryTopic(silent_out_of_range=True)
    worker, clock = started(tmp_path, topic, 120)
    topic.recreate(0)
    real_append = OffsetLedger.append
    failures = iter([OSError(28, "No space left on device")])

    def append(self: OffsetLedger, record: object) -> None:
        if getattr(record, "reset", False) and (error := next(failures, None)) is not None:
            raise error
        real_append(self, record)  # type: ignore[arg-type]

    monkeypatch.setattr(OffsetLedger, "append", append)
    clock.advance(IDLE_BEFORE_PROBE_S)
    worker.poll(100)
    status = worker.status()
    assert status["state"] == "BLOCKED" and "offset reset 120 -> 0" in status["lastError"]
    assert topic.seeks == [] and ranges(worker) == [(0, 100), (100, 120)]  # sealed; not yet moved
    clock.advance(60)
    worker.poll(100)
    assert topic.seeks == [0] and worker.status()["state"] == "OFFSET_RESET"
    assert worker.counters.offset_resets == 1  # reported once, when found
