"""Which worker owns which partition of a table."""

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
