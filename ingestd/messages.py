"""What the coordinator and workers say to each other over multiprocessing queues (all picklable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ingestd.ingest.table_spec import TableSpec
from ingestd.query.plan import QueryPlan


# coordinator → worker
@dataclass(frozen=True)
class AssignPartitions:
    spec: TableSpec
    partitions: tuple[int, ...]
    server_partitions: int = 1  # how many of the table's partitions this server consumes (all workers)
    paused: bool = False  # the table's consumption is paused (pauseConsumption, persisted in the catalog)
    # Partitions whose sealed segments this worker serves without consuming them (a partition the worker
    # consumed before and no longer owns, or local data of a partition owned elsewhere). A partition the
    # worker consumes that is in neither list is revoked: its consuming segment sealed, its consumer closed.
    held: tuple[int, ...] = ()
    # Consumer-group mode: the group's committed offset of each partition (of `partitions` and `held`) as
    # this server knows it, None in lowLevel mode. Local sealed segments ending beyond it were never
    # committed and are dropped; a consumed partition starts at max(committed, local checkpoint).
    committed: dict[int, int] | None = None
    # Consumer-group mode: where to drop local sealed segments beyond, when it is not `committed` (the
    # handover log showed that the next owner after this server started below the committed offset).
    trim_to: dict[int, int] | None = None


@dataclass(frozen=True)
class RevokePartitions:
    """Stop consuming these partitions of a table: seal each consuming segment (`seal`; else, or if the
    seal fails, drop it: its rows are read again by the next owner) and close the consumer; the sealed
    segments stay served here. Answered by a RevokeReply."""

    request_id: int
    table: str
    partitions: tuple[int, ...]
    seal: bool = True


@dataclass(frozen=True)
class TrimPartitions:
    """Consumer-group mode: drop the sealed segments of these partitions that end beyond the given
    offset (the group never got their commit); answered by an Ack."""

    request_id: int
    table: str
    committed: dict[int, int]


@dataclass(frozen=True)
class UpdateTable:
    """A live table's config or schema changed: apply `spec` to its partitions here (acknowledged)."""

    request_id: int
    spec: TableSpec
    server_partitions: int = 1


@dataclass(frozen=True)
class ControlTable:
    """An operation on a table's partitions here: `pause`, `resume` (from `consume_from`: None for the
    last consumed offset, `smallest` or `largest`) or `forceCommit`; answered by a ControlReply."""

    request_id: int
    table: str
    action: str
    consume_from: str | None = None
    partitions: tuple[int, ...] | None = None  # forceCommit: only these partitions (None: all)


@dataclass(frozen=True)
class DropTable:
    request_id: int
    table: str


@dataclass(frozen=True)
class RunQuery:
    request_id: int
    plan: QueryPlan  # each worker runs its worker part (QueryPlan.worker_sql and the docs count)
    deadline: float = float("inf")  # time.monotonic() (one clock for all processes on the machine)
    # sealed segments (name, start, end offsets) the query reads from the deep store instead
    exclude: frozenset[tuple[str, int, int]] = frozenset()


@dataclass(frozen=True)
class CancelQuery:
    request_id: int  # stop this query's part now (timed out or the client went away)


@dataclass(frozen=True)
class Shutdown:
    pass


# worker → coordinator
@dataclass(frozen=True)
class Ack:
    request_id: int
    worker_id: int


@dataclass(frozen=True)
class ControlReply:
    request_id: int
    worker_id: int
    committed: tuple[str, ...] = ()  # consuming segments sealed by the operation
    pending: tuple[str, ...] = ()  # consuming segments whose seal failed (retried with back-off)


@dataclass(frozen=True)
class RevokeReply:
    request_id: int
    worker_id: int
    table: str
    checkpoints: dict[int, int]  # each revoked partition's checkpoint: the end of its last sealed segment


@dataclass(frozen=True)
class Checkpointed:
    """Consumer-group mode: a partition's checkpoint moved (a segment sealed and recorded in the ledger):
    the coordinator commits `offset` to the group."""

    table: str
    partition: int
    offset: int
    worker_id: int = 0
    worker_pid: int = 0  # a report of a worker process since replaced is stale: ignored


@dataclass(frozen=True)
class QueryReply:
    request_id: int
    worker_id: int
    result: pa.Table | None = None
    matched_docs: int = 0
    total_docs: int = 0
    segments: int = 0
    consuming_segments: int = 0
    segments_processed: int = 0  # segments read after time pruning
    segments_matched: int = 0  # segments read when some row matched the filter
    freshness_ms: int = 0  # the oldest "last consumed" time of the consuming segments (epoch ms)
    error: tuple[int, str] | None = None


@dataclass(frozen=True)
class WorkerStatus:
    worker_id: int
    pid: int
    rss_bytes: int
    partitions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    cpu_seconds: float = 0.0  # user + system CPU time of the worker process
