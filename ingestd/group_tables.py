"""The coordinator's consumer-group tables (Kafka `highLevel`): one group member per table, whose
assignment is the set of partitions this server's workers consume (stream/kafka_group.py has the
protocol). Here: starting and stopping the members, and carrying out what they ask of the workers —
consume these partitions, revoke those (and wait for the sealed checkpoints), drop what was not committed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from ingestd.ingest.table_spec import TableSpec
from ingestd.messages import Ack, RevokePartitions, RevokeReply, TrimPartitions
from ingestd.stream.kafka_group import GroupCallbacks, KafkaGroupMember, is_group_mode

if TYPE_CHECKING:
    from ingestd.coordinator import Coordinator

log = logging.getLogger(__name__)

REVOKE_TIMEOUT_S = 30.0  # workers seal the revoked partitions' consuming segments (within the rebalance)
STOP_TIMEOUT_S = 35.0  # a clean stop leaves every group: revocations (above) and commits


def uses_group(spec: TableSpec) -> bool:
    return spec.config.stream.stream_type == "kafka" and is_group_mode(spec.config.stream)


class GroupTables:
    def __init__(self, coordinator: Coordinator) -> None:
        self._coordinator = coordinator
        self._members: dict[str, KafkaGroupMember] = {}
        self._lock = threading.Lock()

    def ensure(self, spec: TableSpec) -> None:
        """Start the table's group member (again, if it failed: its error is the table's error)."""
        with self._lock:
            failed = self._members.get(spec.name)
            if failed is not None and failed.error is None:
                return
            member = KafkaGroupMember(spec.name, spec.uid, spec.config.stream, self._callbacks(spec.name))
            self._members[spec.name] = member
        if failed is not None:
            failed.stop()  # its thread has ended (it left the group, sealing and committing first)
        member.start()
        if failed is not None:
            raise RuntimeError(f"the consumer group member failed ({failed.error}); joining again")

    def stop(self, table: str) -> None:
        """Leave the table's group (its partitions are sealed and committed first)."""
        with self._lock:
            member = self._members.pop(table, None)
        if member is not None:
            member.stop()

    def stop_all(self) -> None:
        with self._lock:
            members = list(self._members.values())
            self._members.clear()
        for member in members:
            member.stop(0)
        deadline = time.monotonic() + STOP_TIMEOUT_S  # within the service's stop timeout (operations.md)
        for member in members:
            member.stop(max(0.0, deadline - time.monotonic()))

    def committed_for_restart(self, table: str, partitions: tuple[int, ...]) -> dict[int, int] | None:
        """For a restarted worker's partitions (KafkaGroupMember.committed_for_restart)."""
        with self._lock:
            member = self._members.get(table)
        return member.committed_for_restart(partitions) if member is not None else None

    def report(self, table: str, partition: int, offset: int) -> None:
        with self._lock:
            member = self._members.get(table)
        if member is not None:
            member.report(partition, offset)

    # what the members ask (each on its own thread) -------------------------------------------
    def _callbacks(self, table: str) -> GroupCallbacks:
        coordinator = self._coordinator
        return GroupCallbacks(
            local_partitions=lambda: coordinator.local_partitions(table),
            assigned=lambda partitions, committed, trim_to: coordinator.assign_partitions(
                table, list(partitions), committed, trim_to),
            revoke=lambda partitions, seal: self._revoke(table, partitions, seal),
            trim=lambda committed: self._trim(table, committed),
        )

    def _revoke(self, table: str, partitions: tuple[int, ...], seal: bool) -> tuple[dict[int, int], set[int]]:
        """(each revoked partition's checkpoint, the partitions whose worker did not answer in time)."""
        coordinator = self._coordinator
        rendezvous, pool = coordinator.rendezvous, coordinator.pool
        request_id = rendezvous.open()
        by_worker = coordinator.revoke_partitions(table, partitions)
        sent = [w for w in by_worker if pool.is_alive(w)]  # a dead one's restart settles its partitions
        for worker_id in sent:
            pool.send(worker_id, RevokePartitions(request_id, table, by_worker[worker_id], seal))
        deadline = time.monotonic() + REVOKE_TIMEOUT_S
        replies: list[RevokeReply] = rendezvous.wait(request_id, len(sent), deadline)
        silent = {p for w in set(sent) - {reply.worker_id for reply in replies} for p in by_worker[w]}
        if silent:
            log.warning("table %s: the revocation of partitions %s was not confirmed in time", table,
                        sorted(silent))
        return {p: offset for reply in replies for p, offset in reply.checkpoints.items()}, silent

    def _trim(self, table: str, committed: dict[int, int]) -> None:
        coordinator = self._coordinator
        rendezvous, pool = coordinator.rendezvous, coordinator.pool
        workers: dict[int, dict[int, int]] = {}
        for partition, offset in committed.items():
            workers.setdefault(partition % coordinator.settings.worker_count, {})[partition] = offset
        request_id = rendezvous.open()
        alive = [w for w in workers if pool.is_alive(w)]
        for worker_id in alive:
            pool.send(worker_id, TrimPartitions(request_id, table, workers[worker_id]))
        acked: list[Ack] = rendezvous.wait(request_id, len(alive), time.monotonic() + REVOKE_TIMEOUT_S)
        if len(acked) < len(alive):
            log.warning("table %s: %d worker(s) did not confirm dropping uncommitted segments", table,
                        len(alive) - len(acked))
