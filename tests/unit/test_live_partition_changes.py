"""Schema changes a live table accepts, rows conformed to a newer schema, and a partition ingestor on an
in-memory stream taking a new schema, a new row threshold, a new consumer, a pause and resumes."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from ingestd.config import OffsetReset, parse_schema, parse_table_config
from ingestd.config.schema_change import check_schema_change
from ingestd.decode.json_decoder import JsonDecoder
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.errors import Conflict
from ingestd.ingest.evolution import column_defaults, conform
from ingestd.ingest.partition import PartitionIngestor
from ingestd.ingest.table_spec import TableSpec
from ingestd.paths import PartitionPaths
from tests.support.memory_stream import MemoryConsumerFactory, MemoryTopic


def spec_with(rows: int = 100, extra: list[dict[str, object]] | None = None) -> TableSpec:
    schema_doc, table_doc = seed_configs("t", **{"realtime.segment.flush.threshold.rows": str(rows)})
    schema_doc["dimensionFieldSpecs"] += extra or []
    schema = parse_schema(schema_doc)
    return TableSpec(parse_table_config(table_doc, {"t": schema}), schema, "uid1")


GRADE = [{"name": "grade", "dataType": "STRING"}, {"name": "level", "dataType": "INT"},
         {"name": "tags", "dataType": "STRING", "singleValueField": False}]


def test_only_new_columns_are_accepted_and_the_time_column_keeps_its_format() -> None:
    old, new = spec_with().schema, spec_with(extra=GRADE).schema
    assert check_schema_change(old, new, ["timestamp"]) == ["grade", "level", "tags"]
    with pytest.raises(Conflict, match="'grade' cannot be removed"):
        check_schema_change(new, old)
    doc = dict(new.raw)
    doc["dimensionFieldSpecs"] = [dict(f, dataType="LONG") if f["name"] == "level" else f
                                  for f in doc["dimensionFieldSpecs"]]
    with pytest.raises(Conflict, match="'level' cannot change its dataType from INT to LONG"):
        check_schema_change(new, parse_schema(doc))
    doc = dict(old.raw)
    doc["dateTimeFieldSpecs"] = [dict(f, format="1:SECONDS:EPOCH") for f in doc["dateTimeFieldSpecs"]]
    with pytest.raises(Conflict, match="time column 'timestamp'"):
        check_schema_change(old, parse_schema(doc), ["timestamp"])


def test_rows_of_an_older_schema_read_as_the_new_columns_defaults() -> None:
    old, new = spec_with(), spec_with(extra=GRADE)
    rows = pa.table({"studentID": pa.array([1, 2], pa.int32())})
    rows = conform(rows, old.arrow_schema, column_defaults(old.schema))  # every column defaulted
    upgraded = conform(rows, new.arrow_schema, column_defaults(new.schema))
    assert upgraded.schema == new.arrow_schema
    assert upgraded.column("grade").to_pylist() == ["null", "null"]  # a dictionary-encoded STRING
    assert upgraded.column("level").to_pylist() == [-(2**31)] * 2
    assert upgraded.column("tags").to_pylist() == [["null"], ["null"]]
    assert upgraded.column("studentID").to_pylist() == [1, 2]
    assert conform(upgraded, new.arrow_schema, {}) is upgraded  # already conforming: untouched


def ingestor(spec: TableSpec, topic: MemoryTopic, root: Path) -> PartitionIngestor:
    return PartitionIngestor(spec, 0, PartitionPaths(root), MemoryConsumerFactory(topic),
                             JsonDecoder(spec.schema, spec.config), clock=time.monotonic)


def drain(worker: PartitionIngestor) -> None:
    while worker.poll(7):
        pass


def with_grade(sequence: int) -> bytes:
    return orjson.dumps(orjson.loads(student_record(sequence)) | {"grade": "A", "level": 3, "tags": ["x"]})


def test_a_new_schema_applies_to_the_consuming_segment_and_a_lower_threshold_seals_it(tmp_path: Path) -> None:
    topic = MemoryTopic()
    topic.publish(0, [student_record(i) for i in range(30)])
    old = spec_with(rows=100)
    worker = ingestor(old, topic, tmp_path)
    drain(worker)
    new = spec_with(rows=20, extra=GRADE)
    worker.reconfigure(new, JsonDecoder(new.schema, new.config), MemoryConsumerFactory(topic), 1)
    topic.publish(0, [with_grade(i) for i in range(30, 50)])
    drain(worker)
    # 30 older rows sealed first (they exceed the new limit), then 20 new ones
    assert [(m.start_offset, m.end_offset, m.rows) for m, _ in worker.sealed] == [(0, 30, 30), (30, 50, 20)]
    first, second = (table for _, table in worker.sealed)
    assert first.column("grade").to_pylist() == ["null"] * 30
    assert second.column("grade").to_pylist() == ["A"] * 20


def test_a_new_consumer_continues_at_the_exact_next_offset(tmp_path: Path) -> None:
    topic = MemoryTopic()
    topic.publish(0, [student_record(i) for i in range(25)])
    spec = spec_with()
    worker = ingestor(spec, topic, tmp_path)
    drain(worker)
    worker._rebuild_consumer(MemoryConsumerFactory(topic))
    topic.publish(0, [student_record(i) for i in range(25, 40)])
    drain(worker)
    names = pa.Table.from_batches(worker.segment.batches).column("firstName").to_pylist()
    assert names == [f"s{i}" for i in range(40)]


def test_pause_seals_and_fetches_nothing_then_resume_from_largest_or_smallest(tmp_path: Path) -> None:
    topic = MemoryTopic()
    topic.publish(0, [student_record(i) for i in range(10)])
    worker = ingestor(spec_with(), topic, tmp_path)
    drain(worker)
    sealed, pending = worker.pause()
    assert sealed == worker.sealed[0][0].name and pending is None
    assert worker.status()["consumingSegment"] is None
    topic.publish(0, [student_record(i) for i in range(10, 15)])
    assert worker.poll(100) == 0 and worker.status()["state"] == "PAUSED"
    worker.resume(OffsetReset.LARGEST)
    worker.poll(100)
    topic.publish(0, [student_record(i) for i in range(15, 17)])
    drain(worker)
    assert worker.segment.start_offset == 15 and worker.segment.rows == 2  # 10..14 skipped
    worker.pause()
    worker.resume(OffsetReset.SMALLEST)
    drain(worker)
    assert worker.segment.start_offset == 0 and worker.segment.rows == 17  # all read again
    worker.close()
    restarted = ingestor(spec_with(), topic, tmp_path)
    assert restarted.segment.start_offset == 0  # the move to the smallest offset was committed
    restarted.close()
