"""A worker's side of assignment changes, on the in-memory stream: a partition left out of a new assignment
is revoked (sealed, served, not consumed), an explicit revocation is answered with the checkpoints, a
partition given back resumes at its checkpoint, and in group mode each seal is reported for the commit."""

from __future__ import annotations

import dataclasses
import queue
from pathlib import Path
from typing import Any

from ingestd.config import parse_schema, parse_table_config
from ingestd.config.table import StreamConfig
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.ingest.table_spec import TableSpec
from ingestd.messages import AssignPartitions, Checkpointed, RevokePartitions, RevokeReply
from ingestd.paths import DataPaths
from ingestd.plugins import PluginRef
from ingestd.worker import Worker
from tests.support.memory_stream import MemoryConsumerFactory, MemoryTopic

TOPIC = MemoryTopic()


class SharedTopicFactory(MemoryConsumerFactory):
    """The factory a table config names (a plugin's signature) over this module's topic."""

    def __init__(self, config: StreamConfig, client_id: str) -> None:
        super().__init__(TOPIC, config)


class NoQueries:
    def close(self) -> None:
        pass


def make_spec() -> TableSpec:
    schema_doc, table_doc = seed_configs("t", **{"realtime.segment.flush.threshold.rows": "200"})
    schema = parse_schema(schema_doc)
    config = parse_table_config(table_doc, {"t": schema})
    factory = PluginRef("memory", f"{__name__}:SharedTopicFactory")
    stream = dataclasses.replace(config.stream, consumer_factory=factory)
    return TableSpec(dataclasses.replace(config, stream=stream), schema, "uid1")


def make_worker(tmp_path: Path) -> tuple[Worker, queue.Queue[Any]]:
    replies: queue.Queue[Any] = queue.Queue()
    return Worker(0, DataPaths(tmp_path), queue.Queue(), replies, NoQueries()), replies  # type: ignore[arg-type]


def run(worker: Worker) -> None:
    while worker._poll_partitions():
        pass


def served(worker: Worker) -> int:
    total = 0
    for ingestor in worker._tables["t"].values():
        sealed, consuming = ingestor.tables()
        total += sum(table.num_rows for table in sealed) + consuming.num_rows
    return total


def drained(replies: queue.Queue[Any]) -> list[Any]:
    found = []
    while not replies.empty():
        found.append(replies.get_nowait())
    return found


def test_assignment_changes_revoke_serve_and_resume_without_loss_or_doubles(tmp_path: Path) -> None:
    TOPIC.partitions.clear()
    for partition in (0, 1):
        TOPIC.publish(partition, [student_record(i) for i in range(partition * 1000, partition * 1000 + 150)])
    spec = make_spec()
    worker, replies = make_worker(tmp_path)
    worker._dispatch(AssignPartitions(spec, (0, 1), 2))
    run(worker)
    assert served(worker) == 300
    # partition 0 leaves the assignment (only its data is served): revoked, its last 50 rows sealed too
    worker._dispatch(AssignPartitions(spec, (1,), 1, held=(0,)))
    zero = worker._tables["t"][0]
    assert zero.released and len(zero.sealed) == 2 and zero.status()["state"] == "RELEASED"
    TOPIC.publish(0, [student_record(i) for i in range(150, 200)])
    run(worker)
    assert served(worker) == 300  # nothing more of partition 0
    # an explicit revocation is answered with the checkpoints
    worker._dispatch(RevokePartitions(7, "t", (1,)))
    reply = drained(replies)[-1]
    assert isinstance(reply, RevokeReply) and reply.request_id == 7 and reply.checkpoints == {1: 150}
    # partition 0 given back: rebuilt from its ledger, it resumes at 150 (the 50 new rows, once)
    worker._dispatch(AssignPartitions(spec, (0,), 1, held=(1,)))
    run(worker)
    assert not worker._tables["t"][0].released and worker._tables["t"][1].released
    assert served(worker) == 350
    worker._close_table("t")


def test_group_mode_reports_each_seal_for_the_group_commit_and_commits_nothing_itself(tmp_path: Path) -> None:
    TOPIC.partitions.clear()
    TOPIC.commits.clear()
    TOPIC.publish(0, [student_record(i) for i in range(450)])
    spec = make_spec()
    worker, replies = make_worker(tmp_path)
    worker._dispatch(AssignPartitions(spec, (0,), 1, committed={}))  # the group has no offset yet
    run(worker)
    checkpoints = [m for m in drained(replies) if isinstance(m, Checkpointed)]
    assert [(m.table, m.partition, m.offset) for m in checkpoints] == [("t", 0, 200), ("t", 0, 400)]
    assert not TOPIC.commits  # only the coordinator's group member commits
    worker._close_table("t")
