"""The per-partition ingestor on an in-memory stream: exact splits, crash recovery, seal failures,
retention. Offset resets: test_offset_resets.py; failure back-off: test_failure_backoff.py."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from ingestd.config import parse_schema, parse_table_config
from ingestd.decode.json_decoder import JsonDecoder
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.ingest import partition as partition_module
from ingestd.ingest import retention as retention_module
from ingestd.ingest.partition import PartitionIngestor
from ingestd.ingest.recovery import live_segments
from ingestd.ingest.table_spec import TableSpec
from ingestd.ledger import OffsetLedger
from ingestd.paths import PartitionPaths
from tests.support.fake_clock import FakeClock
from tests.support.memory_stream import MemoryConsumerFactory, MemoryTopic


def make_spec(rows: int = 100, time: str = "6h") -> TableSpec:
    schema_doc, table_doc = seed_configs("t", **{"realtime.segment.flush.threshold.rows": str(rows),
                                                  "realtime.segment.flush.threshold.time": time})
    schema = parse_schema(schema_doc)
    return TableSpec(parse_table_config(table_doc, {"t": schema}), schema, "uid1")


def ingestor(spec: TableSpec, topic: MemoryTopic, root: Path, clock: FakeClock | None = None
             ) -> PartitionIngestor:
    return PartitionIngestor(spec, 0, PartitionPaths(root), MemoryConsumerFactory(topic),
                             JsonDecoder(spec.schema, spec.config), clock=clock or time.monotonic)


def drain(worker: PartitionIngestor, batch: int = 64) -> None:
    while worker.poll(batch):
        pass


def all_first_names(worker: PartitionIngestor) -> list[str]:
    sealed, consuming = worker.tables()
    return pa.concat_tables([*sealed, consuming]).column("firstName").to_pylist()


def test_segments_split_exactly_at_the_row_threshold_even_with_bad_messages(tmp_path: Path) -> None:
    topic = MemoryTopic()
    values: list[bytes | None] = [student_record(i) for i in range(250)]
    values[99:99] = [b"junk", None]  # offsets 99 and 100 are bad: the 100th row is offset 101
    topic.publish(0, values)
    worker = ingestor(make_spec(rows=100), topic, tmp_path)
    drain(worker, batch=64)
    ranges = [(m.start_offset, m.end_offset, m.rows) for m, _ in worker.sealed]
    assert ranges == [(0, 102, 100), (102, 202, 100)]  # each seal lands exactly on its 100th row
    assert worker.segment.start_offset == 202 and worker.segment.rows == 50
    assert worker.counters.malformed == 2
    assert all_first_names(worker) == [f"s{i}" for i in range(250)]


def test_a_crash_loses_only_the_unsealed_tail_which_is_consumed_again(tmp_path: Path) -> None:
    topic = MemoryTopic()
    topic.publish(0, [student_record(i) for i in range(250)])
    spec = make_spec(rows=100)
    drain(ingestor(spec, topic, tmp_path))  # "crash": the object is dropped with 50 rows unsealed
    topic.publish(0, [student_record(i) for i in range(250, 300)])
    restarted = ingestor(spec, topic, tmp_path)
    assert [m.sequence for m, _ in restarted.sealed] == [0, 1]
    drain(restarted)
    assert all_first_names(restarted) == [f"s{i}" for i in range(300)]


def test_a_failed_seal_holds_consumption_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = MemoryTopic()
    topic.publish(0, [student_record(i) for i in range(230)])
    clock = FakeClock()
    worker = ingestor(make_spec(rows=100), topic, tmp_path, clock)
    real_seal = partition_module.seal_segment
    failures = iter([OSError(28, "No space left on device")] * 3)

    def failing_seal(*args: object) -> object:
        error = next(failures, None)
        if error is not None:
            raise error
        return real_seal(*args)

    monkeypatch.setattr(partition_module, "seal_segment", failing_seal)
    for _ in range(10):
        if worker.counters.seal_failures < 3:
            worker.poll(64)
            clock.advance(60)  # past any back-off
    assert worker.counters.seal_failures == 3 and worker.status()["state"] == "BLOCKED"
    assert worker.counters.messages == 128  # consumption held while the seal keeps failing
    assert worker.sealed == [] and not list((tmp_path / "segments").glob("*.arrow"))
    drain(worker)
    assert [(m.start_offset, m.end_offset) for m, _ in worker.sealed] == [(0, 100), (100, 200)]
    assert all_first_names(worker) == [f"s{i}" for i in range(230)]
    assert worker.status()["state"] == "CONSUMING" and worker.status()["lastError"] is None


def test_time_threshold_seals_rows_and_waits_again_when_empty(tmp_path: Path) -> None:
    topic = MemoryTopic()
    worker = ingestor(make_spec(rows=1000, time="1"), topic, tmp_path)  # 1 ms
    deadline = time.monotonic() + 0.05
    while time.monotonic() < deadline:  # many 1 ms deadlines pass with nothing consumed
        worker.poll(10)
    assert worker.sealed == []  # no empty segment is ever sealed
    topic.publish(0, [student_record(i) for i in range(5)])
    wait_until(lambda: (worker.poll(10), worker.sealed)[1], timeout_s=5, interval_s=0.001,
               what="a time-based seal")
    assert [(m.start_offset, m.end_offset, m.rows) for m, _ in worker.sealed] == [(0, 5, 5)]


def test_a_checkpoint_lost_to_retention_follows_the_reset_and_reports_the_exact_gap(tmp_path: Path) -> None:
    topic = MemoryTopic()
    topic.publish(0, [student_record(i) for i in range(300)])
    spec = make_spec(rows=100)
    drain(ingestor(spec, topic, tmp_path))  # checkpoint: offset 300
    topic.publish(0, [student_record(i) for i in range(300, 400)])
    topic.delete_before(0, 350)  # retention removed 300-349 while the server was down
    restarted = ingestor(spec, topic, tmp_path)
    drain(restarted)
    assert restarted.counters.offset_resets == 1 and restarted.counters.messages_lost == 50
    assert "offsets 300-349 (50 messages) were lost" in (restarted.counters.last_error or "")
    assert restarted.segment.start_offset == 350
    assert all_first_names(restarted) == [f"s{i}" for i in [*range(300), *range(350, 400)]]


def retention_spec(days: int = 1) -> TableSpec:
    schema_doc, table_doc = seed_configs("t", **{"realtime.segment.flush.threshold.rows": "100"})
    table_doc["segmentsConfig"] |= {"retentionTimeUnit": "DAYS", "retentionTimeValue": str(days)}
    schema = parse_schema(schema_doc)
    return TableSpec(parse_table_config(table_doc, {"t": schema}), schema, "uid1")


def recent_record(i: int) -> bytes:
    return orjson.dumps({"studentID": i, "firstName": f"s{i}", "timestamp": int(time.time() * 1000)})


def test_retention_deletes_old_segments_and_their_offsets_stay_committed(tmp_path: Path) -> None:
    topic = MemoryTopic()
    topic.publish(0, [student_record(i) for i in range(300)])  # 2019 timestamps: past any 1-day retention
    topic.publish(0, [recent_record(i) for i in range(300, 400)])
    spec = retention_spec()
    worker = ingestor(spec, topic, tmp_path)
    drain(worker)
    worker.apply_retention(int(time.time() * 1000))
    assert [(m.start_offset, m.end_offset) for m, _ in worker.sealed] == [(300, 400)]
    assert [p.name for p in (tmp_path / "segments").iterdir()] == [worker.sealed[0][0].file_name]
    restarted = ingestor(spec, topic, tmp_path)  # resumes at 400: nothing old is consumed again
    drain(restarted)
    assert restarted.segment.start_offset == 400 and restarted.segment.rows == 0
    assert all_first_names(restarted) == [f"s{i}" for i in range(300, 400)]


def test_the_ledger_is_compacted_but_keeps_its_resume_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.setattr(retention_module, "LEDGER_COMPACT_BYTES", 1_000)
    topic = MemoryTopic()
    topic.publish(0, [student_record(i) for i in range(500)])
    spec = retention_spec()
    worker = ingestor(spec, topic, tmp_path)
    drain(worker)  # retention runs at the poll after each seal
    assert worker.sealed == [] and not list((tmp_path / "segments").iterdir())
    records = OffsetLedger(tmp_path / "ledger.bin").recover()
    assert len(records) < 10  # 5 seals + 5 retirements were appended; compaction dropped most
    assert live_segments(records) == [] and max(r.end_offset for r in records) == 500
    topic.publish(0, [recent_record(i) for i in range(500, 520)])
    restarted = ingestor(spec, topic, tmp_path)
    drain(restarted)
    assert restarted.segment.sequence == 5 and restarted.segment.start_offset == 500
    assert all_first_names(restarted) == [f"s{i}" for i in range(500, 520)]


def test_a_sealed_segments_dictionaries_hold_only_its_own_values(tmp_path: Path) -> None:
    topic = MemoryTopic()
    topic.publish(0, [student_record(i) for i in range(250)])
    worker = ingestor(make_spec(rows=100), topic, tmp_path)
    drain(worker, batch=64)  # segment boundaries fall inside fetched batches
    for _, table in worker.sealed:
        assert len(table.column("firstName").chunk(0).dictionary) == 100
