"""The end markers a child shard waits for: written by the parent's partition, read by its siblings; a
parent no longer listed is not waited for; a marker of another shard with the same number is no answer."""

from __future__ import annotations

from pathlib import Path

from ingestd.stream.kinesis_shards import MARKER_NAME, ShardInfo, ShardLineage, shard_id_of

PARENT, OTHER_PARENT, CHILD = shard_id_of(0), shard_id_of(1), shard_id_of(2)


def shard(shard_id: str, *parents: str) -> ShardInfo:
    return ShardInfo(shard_id, parents, starting=1, ending=None)


def test_a_child_waits_for_each_listed_parent_until_its_partition_marks_the_end(tmp_path: Path) -> None:
    child = ShardLineage(tmp_path / "2")
    merged = shard(CHILD, PARENT, OTHER_PARENT)
    listed = {PARENT: shard(PARENT), OTHER_PARENT: shard(OTHER_PARENT), CHILD: merged}
    assert child.waiting_for(merged, listed) == [PARENT, OTHER_PARENT]
    ShardLineage(tmp_path / "0").mark_finished(PARENT, 12345678901234567890123456789)
    assert child.waiting_for(merged, listed) == [OTHER_PARENT]
    assert (tmp_path / "0" / MARKER_NAME).read_text().split() == [PARENT, "12345678901234567890123456789"]
    ShardLineage(tmp_path / "1").mark_finished(OTHER_PARENT, 7)
    assert child.waiting_for(merged, listed) == []


def test_an_expired_parent_is_not_waited_for_and_a_root_shard_never_waits(tmp_path: Path) -> None:
    child = ShardLineage(tmp_path / "2")
    assert child.waiting_for(shard(CHILD, PARENT), {CHILD: shard(CHILD, PARENT)}) == []
    assert child.waiting_for(shard(PARENT), {PARENT: shard(PARENT)}) == []


def test_a_marker_naming_another_shard_does_not_count(tmp_path: Path) -> None:
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / MARKER_NAME).write_text("shardId-000000000099 5\n")
    assert not ShardLineage(tmp_path / "2").is_finished(PARENT)
