"""A worker's deep-store committer: a background thread that commits the worker's sealed segments to their
tables' Delta tables (DeltaSegmentLog), in offset order per stream partition, exactly once.

The ingest loop only hands a sealed segment over (`submit`, never blocking); the thread does the I/O. While
the store cannot be reached, a partition's oldest pending segment is retried with back-off (FailureBackoff:
0.25 s doubling to 30 s, one ERROR line per streak) and the ones behind it wait in order: a segment is never
reported committed before its Delta commit is, and "sealed, not yet in the deep store" is visible per
partition (`partition_status`: pending segments, the committed offset, the last error). The outcome of each
commit goes to `on_outcome` (the worker acts on STALE: another server moved the partition on). Every error
in the thread is caught, reported in the status, and the loop goes on. Unreferenced files (an upload whose
commit never came, e.g. a crash in between) are swept from each table every `orphan_age`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.ipc as ipc

from ingestd.deepstore.config import DeepStoreSettings
from ingestd.deepstore.query_source import file_label
from ingestd.ingest.backoff import FailureBackoff

log = logging.getLogger(__name__)

IDLE_WAIT_S = 0.5
SWEEP_EVERY_MIN_S = 60.0


@dataclass(frozen=True)
class SealedSegment:
    """A sealed segment to commit: its file and the stream offsets it settles, [first, last] inclusive.
    `first` is where the partition's previous checkpoint left off (the segment's own start, or before an
    offset reset that skipped what the stream no longer had)."""

    table: str
    topic: str
    partition: int
    name: str
    path: Path
    first: int
    last: int
    sealed_at: float  # time.time() when sealed: the commit latency is measured from it
    allow_gap: bool = True  # commit past offsets the log lacks (lowLevel: an offset reset skipped them)


@dataclass
class _PartitionState:
    pending: deque[SealedSegment] = field(default_factory=deque)
    backoff: FailureBackoff | None = None
    committed_offset: int | None = None  # the last offset known to be in the deep store
    committed_segments: int = 0
    last_latency_ms: float | None = None
    last_outcome: str | None = None


Outcome = Callable[[SealedSegment, Any], None]  # (segment, CommitOutcome)


class DeepStoreCommitter:
    def __init__(self, settings: DeepStoreSettings, on_outcome: Outcome | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._on_outcome = on_outcome
        self._clock = clock
        self._lock = threading.Condition()
        self._partitions: dict[tuple[str, int], _PartitionState] = {}
        self._logs: dict[str, Any] = {}  # table → DeltaSegmentLog
        self._next_sweep: dict[str, float] = {}
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="deep-store-committer", daemon=True)
        self.loop_errors = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def submit(self, segment: SealedSegment) -> None:
        with self._lock:
            state = self._state(segment.table, segment.partition)
            state.pending.append(segment)
            self._lock.notify_all()

    def forget(self, table: str, partition: int | None = None) -> None:
        """Drop what is pending for a table (dropped) or one partition (revoked and dropped locally)."""
        with self._lock:
            for key in [k for k in self._partitions if k[0] == table and partition in (None, k[1])]:
                del self._partitions[key]

    def partition_status(self, table: str, partition: int) -> dict[str, Any] | None:
        with self._lock:
            state = self._partitions.get((table, partition))
            if state is None:
                return None
            backoff = state.backoff
            return {"pendingSegments": len(state.pending), "committedOffset": state.committed_offset,
                    "committedSegments": state.committed_segments,
                    "lastCommitLatencyMs": state.last_latency_ms, "lastOutcome": state.last_outcome,
                    "lastError": backoff.error if backoff is not None and backoff.failing else None}

    def stored_offset(self, table: str, app_id: str) -> int | None:
        """The last offset the table's Delta log holds for `app_id` (a read of the log; raises when the
        store cannot be reached)."""
        return self._log(table).committed_offset(app_id)  # type: ignore[no-any-return]

    def pending(self) -> int:
        with self._lock:
            return sum(len(s.pending) for s in self._partitions.values())

    def _state(self, table: str, partition: int) -> _PartitionState:
        state = self._partitions.get((table, partition))
        if state is None:
            state = self._partitions[(table, partition)] = _PartitionState()
            state.backoff = FailureBackoff(f"{table}[{partition}]", "committing to the deep store", log,
                                           self._clock)
        return state

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopping:
                    return
                due = self._due()
                if due is None:
                    self._lock.wait(IDLE_WAIT_S)
            try:
                if due is not None:
                    self._commit(*due)
                self._sweep()
            except Exception:  # never let the thread die: the next round tries again
                self.loop_errors += 1
                log.exception("deep-store committer: unexpected error; going on")
                time.sleep(IDLE_WAIT_S)

    def _due(self) -> tuple[SealedSegment, _PartitionState] | None:
        """The oldest pending segment of a partition whose back-off allows an attempt now."""
        for state in self._partitions.values():
            if state.pending and state.backoff is not None and state.backoff.ready():
                return state.pending[0], state
        return None

    def _commit(self, segment: SealedSegment, state: _PartitionState) -> None:
        from ingestd.deepstore.delta_log import CommitOutcome, application_id

        assert state.backoff is not None
        try:
            if state.committed_offset is None and not state.committed_segments:
                state.committed_offset = self._log(segment.table).committed_offset(
                    application_id(segment.table, segment.topic, segment.partition))
            if state.committed_offset is not None and segment.last <= state.committed_offset:
                self._finish(segment, state, CommitOutcome.DUPLICATE)  # known from the log: not even read
                return
            rows = _read_rows(segment.path)
            outcome = self._log(segment.table).commit(
                application_id(segment.table, segment.topic, segment.partition), segment.first, segment.last,
                rows, allow_gap=segment.allow_gap,
                label=file_label(segment.name, segment.first, segment.last + 1))
        except Exception as exc:  # the store is down, a file is unreadable...: retried with back-off
            with self._lock:
                state.backoff.failed(f"{segment.name}: {type(exc).__name__}: {exc}")
            return
        self._finish(segment, state, outcome)

    def _finish(self, segment: SealedSegment, state: _PartitionState, outcome: Any) -> None:
        from ingestd.deepstore.delta_log import CommitOutcome

        assert state.backoff is not None
        with self._lock:
            state.backoff.succeeded()
            if state.pending and state.pending[0] is segment:
                state.pending.popleft()
            state.last_outcome = outcome.value
            if outcome is CommitOutcome.STALE:
                state.pending.clear()  # the rest of this server's run of the partition is stale too
            else:
                state.committed_offset = max(segment.last, state.committed_offset or segment.last)
                state.committed_segments += outcome is CommitOutcome.COMMITTED
                state.last_latency_ms = round((time.time() - segment.sealed_at) * 1000, 1)
        level = logging.WARNING if outcome is CommitOutcome.STALE else logging.DEBUG
        log.log(level, "%s[%d]: segment %s (offsets %d-%d) %s in the deep store", segment.table,
                segment.partition, segment.name, segment.first, segment.last, outcome.value)
        if self._on_outcome is not None:
            self._on_outcome(segment, outcome)

    def _log(self, table: str) -> Any:
        found = self._logs.get(table)
        if found is None:
            from ingestd.deepstore.delta_log import DeltaSegmentLog

            found = self._logs[table] = DeltaSegmentLog(self._settings.table_uri(table),
                                                        self._settings.storage_options)
            self._next_sweep.setdefault(table, self._clock() + self._sweep_every_s())
        return found

    def _sweep_every_s(self) -> float:
        return max(SWEEP_EVERY_MIN_S, self._settings.orphan_age_ms / 1000)

    def _sweep(self) -> None:
        now = self._clock()
        for table, when in list(self._next_sweep.items()):
            if now < when:
                continue
            self._next_sweep[table] = now + self._sweep_every_s()
            try:
                swept = self._logs[table].sweep_orphans(self._settings.orphan_age_ms)
            except Exception as exc:  # the store is down: the next sweep tries again
                log.warning("%s: sweeping unreferenced deep-store files failed: %s", table, exc)
                continue
            if swept:
                log.warning("%s: swept %d unreferenced deep-store file(s) (uploads whose commit never came)",
                            table, len(swept))


def _read_rows(path: Path) -> Any:
    with ipc.open_file(str(path)) as reader:
        return reader.read_all()
