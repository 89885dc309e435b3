"""Which worker owns which partition of a table."""

from __future__ import annotations


def assign_round_robin(partitions: list[int], worker_count: int) -> dict[int, tuple[int, ...]]:
    """Partition i of the sorted list goes to worker i mod count: stable across restarts, so each
    partition is always owned by the same worker and resumes from its own ledger."""
    assignment: dict[int, tuple[int, ...]] = {}
    for index, partition in enumerate(sorted(partitions)):
        assignment[index % worker_count] = (*assignment.get(index % worker_count, ()), partition)
    return assignment
