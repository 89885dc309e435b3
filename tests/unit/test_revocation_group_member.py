"""The group member's revocation rules, with a stand-in for the Kafka consumer: the revoked partitions'
checkpoints are committed before the callback returns, and what cannot be committed (a failed commit, a
lost assignment, a worker that did not answer) is trimmed back to the offsets the group has."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from ingestd.config import parse_schema, parse_table_config
from ingestd.devtools.seed import seed_configs
from ingestd.stream.kafka_group import GroupCallbacks, KafkaGroupMember


class FakeConsumer:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.commits: list[dict[int, int]] = []

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> list[TopicPartition]:
        assert not asynchronous
        if self.fail:
            raise KafkaException(KafkaError(KafkaError.REBALANCE_IN_PROGRESS))
        self.commits.append({tp.partition: tp.offset for tp in offsets})
        return offsets


class Recorder:
    def __init__(self, checkpoints: dict[int, int], silent: set[int] | None = None) -> None:
        self.checkpoints, self.silent = checkpoints, silent or set()
        self.revoked: list[tuple[tuple[int, ...], bool]] = []
        self.trimmed: list[dict[int, int]] = []

    def callbacks(self) -> GroupCallbacks:
        def revoke(partitions: tuple[int, ...], seal: bool) -> tuple[dict[int, int], set[int]]:
            self.revoked.append((partitions, seal))
            return self.checkpoints, self.silent

        return GroupCallbacks(local_partitions=list, assigned=lambda *args: None, revoke=revoke,
                              trim=self.trimmed.append)


def member(recorder: Recorder, committed: dict[int, int], reported: dict[int, int]) -> KafkaGroupMember:
    schema_doc, table_doc = seed_configs("t", **{"stream.kafka.consumer.type": "highLevel"})
    stream = parse_table_config(table_doc, {"t": parse_schema(schema_doc)}).stream
    instance = KafkaGroupMember("t", "uid-a", stream, recorder.callbacks())
    instance._owned = {0, 1}
    instance._committed = dict(committed)
    for partition, offset in reported.items():
        instance.report(partition, offset)
    return instance


def give_up(instance: KafkaGroupMember, consumer: FakeConsumer, lost: bool = False) -> None:
    instance._give_up(consumer, (0, 1), lost)  # type: ignore[arg-type]


def test_a_revocation_commits_the_sealed_checkpoints_before_returning() -> None:
    recorder = Recorder({0: 400, 1: 200})
    instance, consumer = member(recorder, {0: 100}, {0: 300}), FakeConsumer()
    give_up(instance, consumer)
    assert recorder.revoked == [((0, 1), True)]
    assert consumer.commits == [{0: 400, 1: 200}] and not recorder.trimmed
    assert instance.committed() == {0: 400, 1: 200} and instance.owned() == ()
    instance.report(0, 900)  # a late report of a partition no longer owned is ignored
    assert instance._reported == {}


def test_a_failed_commit_trims_back_to_what_the_group_has() -> None:
    recorder = Recorder({0: 400, 1: 200})
    give_up(member(recorder, {0: 100}, {}), FakeConsumer(fail=True))
    assert recorder.trimmed == [{0: 100, 1: 0}]  # partition 1: the group has nothing of it


def test_a_lost_assignment_drops_the_consuming_rows_and_trims_without_committing() -> None:
    recorder = Recorder({0: 100, 1: 50})
    instance, consumer = member(recorder, {0: 100, 1: 0}, {1: 50}), FakeConsumer()
    give_up(instance, consumer, lost=True)
    assert recorder.revoked == [((0, 1), False)] and not consumer.commits
    assert recorder.trimmed == [{1: 0}]  # partition 0 had nothing beyond its committed offset


@pytest.mark.parametrize("answered", [{0: 400}, {}])
def test_a_worker_that_did_not_answer_is_trimmed_after_the_commits(answered: dict[int, Any]) -> None:
    recorder = Recorder(answered, silent={1})
    instance, consumer = member(recorder, {0: 100, 1: 70}, {1: 90}), FakeConsumer()
    give_up(instance, consumer)
    assert consumer.commits == [{0: 400, 1: 90}] if answered else [{1: 90}]
    assert recorder.trimmed == [{1: 90}]  # after its last reported seal was committed
