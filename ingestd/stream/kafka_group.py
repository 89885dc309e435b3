"""Kafka consumer-group mode (`stream.kafka.consumer.type: highLevel`): one group member per table and
server, whose assignment is the partition set the server's workers consume.

The member is a confluent-kafka Consumer subscribed to the topic that never consumes data itself: what it
is assigned it pauses at the end of the partition, and it only polls for rebalance events. The workers
consume with their own assign()ed consumers, which are not group members. Exactly once across servers:

1. On assignment, the member reads the group's committed offsets of its new partitions and hands them to
   the coordinator with the partitions; a worker drops the local sealed segments ending beyond them (a
   crash between the ledger record and the group commit) and starts at max(committed, local checkpoint).
2. A worker that seals a segment (file durable, ledger record fsync'd) reports the new checkpoint; the
   member commits it to the group, synchronously, on its own thread. Only offsets that sealed segments
   cover are ever committed.
3. On revocation (a rebalance, or this server leaving), the member asks the coordinator to have the
   workers seal (or drop) the revoked partitions' consuming segments, waits for their answers (bounded),
   commits the sealed checkpoints, and only then returns from the callback: the next owner starts where
   this server's sealed rows end. Checkpoints it could not commit (or a lost assignment: the session timed
   out) are trimmed: the workers drop the sealed segments beyond the group's committed offset.
4. At start, before joining, the committed offsets of every partition with local data are read, so the
   local segments the group never got are dropped before anything is served.

Where "beyond the committed offset" is not enough — the next owner may have committed far past a
segment this server sealed but never committed before it crashed — the handover log settles it
(kafka_handovers.py): each takeover is recorded before the workers start, and the next owner's start
offset is where this server's segments of the partition stop counting.

Every call on the Consumer happens on the member's thread (callbacks run inside its poll).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

from ingestd.config.table import StreamConfig
from ingestd.stream.kafka_handovers import Handover, HandoverLog, trim_points
from ingestd.stream.kafka_logging import with_client_logger

log = logging.getLogger(__name__)

HIGH_LEVEL = "highlevel"
GROUP_ID_KEY = "stream.kafka.hlc.group.id"
POLL_S = 0.2
COMMITTED_TIMEOUT_S = 10.0
COMMIT_RETRY_S = 2.0
# Join fast and notice a dead peer within seconds; a table config's consumer.prop.* override these.
MEMBER_DEFAULTS = {"session.timeout.ms": 10_000, "heartbeat.interval.ms": 1_000}


def is_group_mode(stream: StreamConfig) -> bool:
    prefix = f"stream.{stream.stream_type}."
    return stream.properties.get(prefix + "consumer.type", "").strip().lower() == HIGH_LEVEL


def group_id(stream: StreamConfig, table: str) -> str:
    """`stream.kafka.hlc.group.id`, else `ingestd-<table>` (Pinot generated its HLC group ids itself)."""
    return stream.properties.get(GROUP_ID_KEY, "").strip() or f"ingestd-{table}"


@dataclass
class GroupCallbacks:
    """What the member asks of the coordinator (each called on the member's thread)."""

    local_partitions: Callable[[], list[int]]  # partitions with local data (served, maybe not consumed)
    # the partitions to consume now, the group's committed offsets, and where to cut sealed segments
    assigned: Callable[[tuple[int, ...], dict[int, int], dict[int, int]], None]
    # seal (True) or drop; their checkpoints, and the partitions whose worker did not answer in time
    revoke: Callable[[tuple[int, ...], bool], tuple[dict[int, int], set[int]]]
    trim: Callable[[dict[int, int]], None]  # drop the sealed segments beyond these committed offsets


class KafkaGroupMember:
    def __init__(self, table: str, owner: str, stream: StreamConfig, callbacks: GroupCallbacks) -> None:
        """`owner`: this server's name in the handover log (the table's uid here)."""
        self.table = table
        self.group = group_id(stream, table)
        self._topic = stream.topic
        self._owner = owner
        client_id = f"ingestd-{table}-member"
        client = with_client_logger({"bootstrap.servers": stream.bootstrap_servers, "client.id": client_id}
                                    | dict(stream.client_properties), client_id)
        self._handovers = HandoverLog(client, self.group)
        self._settings = MEMBER_DEFAULTS | client | {
            "group.id": self.group, "enable.auto.commit": False, "enable.auto.offset.store": False}
        self._callbacks = callbacks
        self._lock = threading.Lock()
        self._commit_lock = threading.Lock()  # held through a commit: what it commits stays decided
        self._owned: set[int] = set()
        self._reported: dict[int, int] = {}  # newest checkpoint a worker reported, per owned partition
        self._committed: dict[int, int] = {}  # the group's committed offset as this server last knew it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"group-{table}", daemon=True)
        self.error: str | None = None

    # any thread ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Leave the group: the revocation seals and commits first (bounded)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    def report(self, partition: int, offset: int) -> None:
        """A worker's new checkpoint (a segment sealed and recorded): committed from the member's thread."""
        with self._lock:
            if partition in self._owned and offset > self._reported.get(partition, -1):
                self._reported[partition] = offset

    def owned(self) -> tuple[int, ...]:
        with self._lock:
            return tuple(sorted(self._owned))

    def committed(self) -> dict[int, int]:
        with self._lock:
            return dict(self._committed)

    def committed_for_restart(self, partitions: tuple[int, ...]) -> dict[int, int]:
        """A worker restarts these partitions: what the group has (after a commit under way), and the
        dead worker's reports not committed yet are forgotten — its restart drops those segments."""
        with self._commit_lock, self._lock:
            for partition in partitions:
                self._reported.pop(partition, None)
            return dict(self._committed)

    # the member's thread ---------------------------------------------------------------------
    def _run(self) -> None:
        consumer: Consumer | None = None
        try:
            consumer = Consumer(self._settings)
            self._handovers.ensure_topic()
            local = self._callbacks.local_partitions()
            if local:
                committed = self._read_committed(consumer, local)
                trim = trim_points(self._handovers.read(), self._owner, committed, local)
                self._callbacks.assigned((), committed, trim)
            consumer.subscribe([self._topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                               on_lost=self._on_lost)
            log.info("table %s: joining consumer group %s", self.table, self.group)
            while not self._stop.is_set():
                consumer.poll(POLL_S)  # rebalance events only: what it is assigned is paused at the end
                self._commit_reported(consumer)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("table %s: consumer group member failed", self.table)
        finally:
            if consumer is not None:
                try:
                    consumer.close()  # runs the revocation callback: seal, commit, then leave
                except Exception:
                    log.exception("table %s: leaving consumer group %s failed", self.table, self.group)
            self._handovers.close()

    def _read_committed(self, consumer: Consumer, partitions: list[int]) -> dict[int, int]:
        """The group's committed offsets of these partitions (those it has), remembered."""
        answer = consumer.committed([TopicPartition(self._topic, p) for p in partitions],
                                    timeout=COMMITTED_TIMEOUT_S)
        found = {tp.partition: int(tp.offset) for tp in answer if tp.error is None and tp.offset >= 0}
        with self._lock:
            for partition, offset in found.items():
                self._committed[partition] = max(offset, self._committed.get(partition, -1))
            return {p: self._committed[p] for p in partitions if p in self._committed}

    def _on_assign(self, consumer: Consumer, assigned: list[TopicPartition]) -> None:
        partitions = sorted(tp.partition for tp in assigned)
        # Fetch nothing: start at the end, paused (the workers consume with their own consumers).
        consumer.assign([TopicPartition(self._topic, p, OFFSET_END) for p in partitions])
        consumer.pause([TopicPartition(self._topic, p) for p in partitions])
        committed = self._read_committed(consumer, partitions)
        trim = trim_points(self._handovers.read(), self._owner, committed, partitions)
        # recorded before any worker reads a message: whoever held these partitions before settles its
        # uncommitted segments by it
        self._handovers.append([Handover(p, self._owner, committed.get(p)) for p in partitions])
        with self._lock:
            self._owned = set(partitions)
            self._reported = {}
        log.info("table %s: consumer group %s assigned partitions %s (committed offsets %s)", self.table,
                 self.group, partitions, committed)
        self._callbacks.assigned(tuple(partitions), committed, trim)

    def _on_revoke(self, consumer: Consumer, revoked: list[TopicPartition]) -> None:
        self._give_up(consumer, tuple(sorted(tp.partition for tp in revoked)), lost=False)

    def _on_lost(self, consumer: Consumer, lost: list[TopicPartition]) -> None:
        self._give_up(consumer, tuple(sorted(tp.partition for tp in lost)), lost=True)

    def _give_up(self, consumer: Consumer, partitions: tuple[int, ...], lost: bool) -> None:
        """Revoked: the workers seal (or, lost, drop) the consuming segments; their checkpoints are
        committed before the partitions go to another member. What cannot be committed is trimmed."""
        log.info("table %s: consumer group %s %s partitions %s", self.table, self.group,
                 "lost" if lost else "revoked", list(partitions))
        checkpoints, silent = self._callbacks.revoke(partitions, not lost)
        with self._lock:
            for partition, offset in checkpoints.items():
                if partition in self._owned:
                    self._reported[partition] = max(offset, self._reported.get(partition, -1))
        failed = set(partitions) if lost else self._commit_reported(consumer, partitions)
        with self._lock:
            # a partition the group has no offset of yet: every sealed segment of it goes (trim at 0); a
            # worker that did not answer may still seal what the next owner reads again: trimmed after it
            uncommitted = {p: self._committed.get(p, 0) for p in failed | silent
                           if p in silent or self._reported.get(p, -1) > self._committed.get(p, 0)}
            self._owned -= set(partitions)
            for partition in partitions:
                self._reported.pop(partition, None)
        if uncommitted:
            log.warning("table %s: checkpoints of partitions %s could not be committed to group %s; "
                        "dropping their sealed segments beyond the committed offsets %s", self.table,
                        sorted(uncommitted), self.group, uncommitted)
            self._callbacks.trim(uncommitted)

    def _commit_reported(self, consumer: Consumer, only: tuple[int, ...] | None = None) -> set[int]:
        """Commit the reported checkpoints the group does not have yet, synchronously; the partitions
        whose commit failed (retried at the next poll while still owned)."""
        with self._commit_lock:
            return self._commit_due(consumer, only)

    def _commit_due(self, consumer: Consumer, only: tuple[int, ...] | None) -> set[int]:
        with self._lock:
            due = {p: offset for p, offset in self._reported.items() if p in self._owned
                   and offset > self._committed.get(p, -1) and (only is None or p in only)}
        if not due:
            return set()
        try:
            answer: Any = consumer.commit(
                offsets=[TopicPartition(self._topic, p, offset) for p, offset in sorted(due.items())],
                asynchronous=False)
        except KafkaException as exc:
            log.warning("table %s: committing %s to consumer group %s failed: %s", self.table, due,
                        self.group, exc)
            return set(due)
        failed = {tp.partition for tp in answer or [] if tp.error is not None}
        with self._lock:
            for partition, offset in due.items():
                if partition not in failed:
                    self._committed[partition] = max(offset, self._committed.get(partition, -1))
        if failed:
            log.warning("table %s: committing partitions %s to consumer group %s failed", self.table,
                        sorted(failed), self.group)
        return failed
