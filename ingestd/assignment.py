"""Which worker owns which partition of a table: those it consumes, and those whose sealed segments it
only serves (held)."""

from __future__ import annotations


def assign_round_robin(partitions: list[int], worker_count: int) -> dict[int, tuple[int, ...]]:
    """Partition p goes to worker p mod count: stable across restarts and when partitions are added (a
    new partition never moves an existing one), so each partition is always owned by the same worker
    and resumes from its own ledger."""
    assignment: dict[int, tuple[int, ...]] = {}
    for partition in sorted(partitions):
        worker = partition % worker_count
        assignment[worker] = (*assignment.get(worker, ()), partition)
    return assignment


def partitions_of(by_worker: dict[int, tuple[int, ...]]) -> set[int]:
    return {partition for owned in by_worker.values() for partition in owned}


def split_assignment(consumed: list[int], served: set[int], worker_count: int
                     ) -> tuple[dict[int, tuple[int, ...]], dict[int, tuple[int, ...]]]:
    """(worker → partitions it consumes, worker → partitions it only serves the sealed data of): every
    partition stays with worker p mod count either way, where its ledger is."""
    return (assign_round_robin(consumed, worker_count),
            assign_round_robin(sorted(served - set(consumed)), worker_count))
