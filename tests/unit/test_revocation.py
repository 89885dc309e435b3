"""Revocation of a partition (seal or drop the consuming segment, close the consumer, keep serving the
sealed segments) and consumer-group trimming (sealed segments beyond the group's committed offset are
dropped, the partition starts at max(committed, local checkpoint)), on the in-memory stream."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestd.config import parse_schema, parse_table_config
from ingestd.decode.json_decoder import JsonDecoder
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.errors import ConfigError
from ingestd.ingest.partition import PartitionIngestor
from ingestd.ingest.table_spec import TableSpec
from ingestd.ledger import OffsetLedger
from ingestd.paths import PartitionPaths
from ingestd.settings import parse_settings
from tests.support.memory_stream import MemoryConsumerFactory, MemoryTopic


def spec_with(rows: int = 100) -> TableSpec:
    schema_doc, table_doc = seed_configs("t", **{"realtime.segment.flush.threshold.rows": str(rows)})
    schema = parse_schema(schema_doc)
    return TableSpec(parse_table_config(table_doc, {"t": schema}), schema, "uid1")


def make(spec: TableSpec, topic: MemoryTopic, root: Path, **options: object) -> PartitionIngestor:
    return PartitionIngestor(spec, 0, PartitionPaths(root), MemoryConsumerFactory(topic),
                             JsonDecoder(spec.schema, spec.config), **options)  # type: ignore[arg-type]


def publish(topic: MemoryTopic, start: int, count: int) -> None:
    topic.publish(0, [student_record(i) for i in range(start, start + count)])


def drain(ingestor: PartitionIngestor) -> None:
    while ingestor.poll(1000):
        pass


def served_rows(ingestor: PartitionIngestor) -> int:
    sealed, consuming = ingestor.tables()
    return sum(table.num_rows for table in sealed) + consuming.num_rows


def test_revocation_seals_the_consuming_segment_closes_the_consumer_and_keeps_serving(tmp_path: Path) -> None:
    topic, spec = MemoryTopic(), spec_with(100)
    publish(topic, 0, 250)
    ingestor = make(spec, topic, tmp_path)
    drain(ingestor)
    assert len(ingestor.sealed) == 2 and ingestor.segment.rows == 50
    assert ingestor.release() == 250  # the consuming segment sealed: the checkpoint moved to its end
    assert ingestor.released and ingestor.status()["state"] == "RELEASED"
    assert ingestor.status()["consumingSegment"] is None
    publish(topic, 250, 100)
    assert ingestor.poll(1000) == 0  # consumes nothing more
    assert served_rows(ingestor) == 250 and len(ingestor.sealed) == 3
    assert ingestor.release() == 250  # acknowledged again, nothing changes
    ingestor.close()
    # the next owner (here: this worker again) resumes at the checkpoint: nothing lost, nothing twice
    again = make(spec, topic, tmp_path)
    drain(again)
    assert served_rows(again) == 350


def test_revocation_without_sealing_drops_the_consuming_rows_for_the_next_owner(tmp_path: Path) -> None:
    topic, spec = MemoryTopic(), spec_with(100)
    publish(topic, 0, 150)
    ingestor = make(spec, topic, tmp_path)
    drain(ingestor)
    assert ingestor.release(seal=False) == 100
    assert served_rows(ingestor) == 100  # the 50 unsealed rows are gone here...
    ingestor.close()
    again = make(spec, topic, tmp_path)
    drain(again)
    assert served_rows(again) == 150  # ...and read again from the checkpoint


def test_a_partition_only_served_loads_its_sealed_segments_without_a_consumer(tmp_path: Path) -> None:
    topic, spec = MemoryTopic(), spec_with(100)
    publish(topic, 0, 230)
    first = make(spec, topic, tmp_path)
    drain(first)
    first.close()
    held = make(spec, topic, tmp_path, consume=False)
    assert held.released and served_rows(held) == 200
    assert held.poll(1000) == 0 and served_rows(held) == 200


def test_group_mode_drops_sealed_segments_beyond_the_committed_offset(tmp_path: Path) -> None:
    """A crash between the ledger record and the group commit: the segments the group never got are
    tombstoned in the ledger and their files deleted; the partition restarts at the committed offset."""
    topic, spec = MemoryTopic(), spec_with(100)
    publish(topic, 0, 400)
    checkpoints: list[int] = []
    first = make(spec, topic, tmp_path, committed=None, checkpoint_sink=checkpoints.append)
    drain(first)
    assert checkpoints == [100, 200, 300, 400] and not topic.commits  # to the sink, not the consumer
    first.close()
    segments = tmp_path / "segments"
    assert len(list(segments.iterdir())) == 4
    # the group only has 200: the segments 200-299 and 300-399 were never committed
    again = make(spec, topic, tmp_path, committed=200, consume=False)
    assert served_rows(again) == 200 and len(list(segments.iterdir())) == 2
    again.close()
    records = OffsetLedger(tmp_path / "ledger.bin").recover()
    assert [r.retired for r in records[-3:]] == [True, True, False] and records[-1].reset
    # a new owner here starts at the committed offset, though the ledger once said 400
    owner = make(spec, topic, tmp_path, committed=200, checkpoint_sink=checkpoints.append)
    drain(owner)
    assert served_rows(owner) == 400
    assert owner.segment.start_offset == 400


def test_group_mode_starts_at_the_committed_offset_when_it_is_ahead(tmp_path: Path) -> None:
    topic, spec = MemoryTopic(), spec_with(100)
    publish(topic, 0, 300)
    first = make(spec, topic, tmp_path, checkpoint_sink=lambda offset: None)
    drain(first)
    first.release()
    first.close()
    assert served_rows(first) == 300
    publish(topic, 300, 200)  # another server consumed 300-449 and committed 450
    owner = make(spec, topic, tmp_path, committed=450, checkpoint_sink=lambda offset: None)
    drain(owner)
    assert served_rows(owner) == 300 + 50


def test_trim_of_a_released_partition_after_a_failed_commit(tmp_path: Path) -> None:
    topic, spec = MemoryTopic(), spec_with(100)
    publish(topic, 0, 250)
    ingestor = make(spec, topic, tmp_path, checkpoint_sink=lambda offset: None)
    drain(ingestor)
    assert ingestor.release() == 250
    last = ingestor.sealed[-1][0].name
    assert ingestor.trim(200) == [last]
    assert served_rows(ingestor) == 200
    assert ingestor.trim(200) == []


def test_the_rediscovery_interval_is_a_server_setting(tmp_path: Path) -> None:
    assert parse_settings({"data_dir": "d"}, tmp_path).rediscover_interval_s == 30
    settings = parse_settings({"data_dir": "d", "workers": {"rediscover_interval_s": 2}}, tmp_path)
    assert settings.rediscover_interval_s == 2
    with pytest.raises(ConfigError, match="workers.rediscover_interval_s"):
        parse_settings({"data_dir": "d", "workers": {"rediscover_interval_s": 0}}, tmp_path)
