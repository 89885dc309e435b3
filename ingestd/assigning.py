"""The coordinator's side of partition assignment: which worker consumes which partition of a table, and
which only serves a partition's sealed segments (a mixin of Coordinator, which owns the state: the
assignments, their lock, the pool, the catalog). Every partition stays with worker p mod count, where its
ledger is; a worker no longer given a partition it consumes revokes it (worker.py)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ingestd.assignment import partitions_of, split_assignment
from ingestd.messages import AssignPartitions

if TYPE_CHECKING:
    from ingestd.coordinator import Coordinator

log = logging.getLogger("ingestd.coordinator")


class Assigning:
    def local_partitions(self: Coordinator, table: str) -> list[int]:
        """The table's partitions with data in this server's data_dir."""
        spec = self.catalog.tables.get(table)
        return [] if spec is None else [p for p, _ in self.paths.partitions_of(spec.name, spec.uid)]

    def assign_partitions(self: Coordinator, table: str, partitions: list[int],
                          committed: dict[int, int] | None, trim_to: dict[int, int] | None = None,
                          announce: bool = False) -> None:
        """Send each worker the table's partitions it consumes and those whose sealed segments it only
        serves (local data of partitions no longer consumed here: vanished from the stream, or given to
        another server by the consumer group); a worker that consumed one it is not given revokes it.
        `committed`, `trim_to`: the group's offsets, and where to cut sealed segments (group mode)."""
        with self._lock:
            spec = self.catalog.tables.get(table)
            if spec is None:
                return  # dropped meanwhile
            previous, earlier = self._assignments.get(table, {}), self._held.get(table, {})
            served = set(self.local_partitions(table)) | partitions_of(previous) | partitions_of(earlier)
            assignment, held = split_assignment(partitions, served, self.settings.worker_count)
            if announce or previous != assignment:
                log.info("table %s: %d partition(s) assigned: %s", table, len(partitions), ", ".join(
                    f"worker {w} {list(owned)}" for w, owned in sorted(assignment.items())) or "none")
            self._assignments[table], self._held[table] = assignment, held
            paused = self.catalog.is_paused(table)
            for w in sorted({*assignment, *held, *previous}):
                self.pool.send(w, AssignPartitions(spec, assignment.get(w, ()), len(partitions), paused,
                                                   held.get(w, ()), committed, trim_to))

    def revoke_partitions(self: Coordinator, table: str, partitions: tuple[int, ...]
                          ) -> dict[int, tuple[int, ...]]:
        """Take these partitions from the table's assignment (their data stays served): which worker
        consumed which of them (the caller tells those workers, and waits for their checkpoints)."""
        with self._lock:
            assignment = self._assignments.get(table, {})
            by_worker = {w: kept for w, owned in assignment.items()
                         if (kept := tuple(p for p in owned if p in partitions))}
            remaining = sorted(partitions_of(assignment) - set(partitions))
            served = partitions_of(self._held.get(table, {})) | set(partitions)
            self._assignments[table], self._held[table] = split_assignment(
                remaining, served, self.settings.worker_count)
            return by_worker

    def _reassign_worker(self: Coordinator, worker_id: int) -> None:
        """A restarted worker gets its partitions again (in group mode, with the offsets committed after
        any commit under way: asked outside the assignment lock, as a commit may take a while)."""
        with self._lock:
            self._status.pop(worker_id, None)
            mine = {name: (*self._assignments.get(name, {}).get(worker_id, ()),
                           *self._held.get(name, {}).get(worker_id, ()))
                    for name in {*self._assignments, *self._held}}
            tables = [name for name, owned in mine.items() if owned]
        committed = {name: self._groups.committed_for_restart(name, mine[name]) for name in tables}
        with self._lock:
            for name in tables:
                assignment, held = self._assignments.get(name, {}), self._held.get(name, {})
                spec = self.catalog.tables.get(name)
                if spec is None:
                    continue
                self.pool.send(worker_id, AssignPartitions(
                    spec, assignment.get(worker_id, ()), len(partitions_of(assignment)),
                    self.catalog.is_paused(name), held.get(worker_id, ()), committed[name]))
