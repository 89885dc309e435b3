"""Queries over a table with a deep store: the Delta table (every partition, whoever sealed it) plus the
rows this server holds that the Delta table does not, with nothing counted twice.

Each Delta file is named after the segment it holds and its offsets (`DeltaSegmentLog`'s file label), so
the snapshot a query reads says exactly which local sealed segments it already covers: the workers leave
those out (RunQuery.exclude) and answer the rest — sealed segments not committed yet, and the consuming
segments. One snapshot per query: the rows and the exclusions come from the same Delta version. Without
`[cluster] peers`, fresh (unsealed or uncommitted) rows of other servers are not in the answer.

The coordinator runs the query's worker part over the snapshot's rows itself, as one more partial answer
for the merge. Rows are read once per Delta version and kept (the newest version per table). A store that
cannot be read leaves the answer to the local rows, as without a deep store, and says so in the log.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass

import pyarrow as pa

from ingestd.deepstore.config import DeepStoreSettings
from ingestd.errors import QueryError
from ingestd.ingest.evolution import conform
from ingestd.ingest.table_spec import TableSpec
from ingestd.messages import QueryReply
from ingestd.query.engine import ArrowSqlEngine
from ingestd.query.pieces import with_virtual
from ingestd.query.plan import QueryPlan

log = logging.getLogger(__name__)

DEEP_STORE_WORKER_ID = -1  # the partial answer computed from the Delta table
_FILE = re.compile(r"ingestd-(?P<segment>.+)\.(?P<start>\d+)-(?P<end>\d+)-[0-9a-f]{32}\.parquet$")
WARN_EVERY_S = 60.0


def file_label(segment: str, start: int, end: int) -> str:
    """What a Delta file's name carries: the segment and its offsets [start, end)."""
    return f"{segment}.{start}-{end}"


@dataclass(frozen=True)
class DeltaSnapshot:
    version: int
    rows: pa.Table  # conformed to the table's schema
    covered: frozenset[tuple[str, int, int]]  # (segment, start, end) of every file in this version


class DeepStoreQueries:
    def __init__(self, settings: DeepStoreSettings) -> None:
        self._settings = settings
        self._engine: ArrowSqlEngine | None = None
        self._cache: dict[str, DeltaSnapshot] = {}
        self._lock = threading.Lock()
        self._warned_at = 0.0

    def snapshot(self, spec: TableSpec) -> DeltaSnapshot | None:
        """The table's current Delta version, read (or cached); None without one or when unreadable."""
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            table = DeltaTable(self._settings.table_uri(spec.name),
                               storage_options=self._settings.storage_options)
            version = table.version()
            with self._lock:
                cached = self._cache.get(spec.name)
            if cached is not None and cached.version == version and cached.rows.schema == spec.arrow_schema:
                return cached
            covered = frozenset(_covered(table.file_uris()))
            rows = conform(table.to_pyarrow_table(), spec.arrow_schema, {})
        except TableNotFoundError:
            return None
        except Exception as exc:  # the store is down: the local rows answer alone
            now = time.monotonic()
            if now - self._warned_at >= WARN_EVERY_S:
                self._warned_at = now
                log.warning("%s: the deep store cannot be read (%s); answering from this server's rows",
                            spec.name, exc)
            return None
        snapshot = DeltaSnapshot(version, rows, covered)
        with self._lock:
            self._cache[spec.name] = snapshot
        return snapshot

    def reply(self, snapshot: DeltaSnapshot, plan: QueryPlan, request_id: int, deadline: float
              ) -> QueryReply:
        """The query's worker part over the snapshot's rows, as a worker would answer it."""
        with self._lock:
            if self._engine is None:
                self._engine = ArrowSqlEngine(1, 1024)
            engine = self._engine
        data = with_virtual(snapshot.rows, f"deepstore@{snapshot.version}", plan.virtual_columns)
        try:
            result, matched = engine.run_part(plan, data, ("deep", request_id), deadline)
        except Exception as exc:  # the query's error, as a worker reports it
            code = getattr(exc, "code", 200)
            return QueryReply(request_id, DEEP_STORE_WORKER_ID, error=(code, str(exc)))
        return QueryReply(request_id, DEEP_STORE_WORKER_ID, result=result, matched_docs=matched,
                          total_docs=data.num_rows, segments=len(snapshot.covered),
                          segments_processed=len(snapshot.covered),
                          segments_matched=len(snapshot.covered) if matched else 0)

    def covered_at(self, table: str, version: int | None) -> frozenset[tuple[str, int, int]]:
        """A peer's request: the segments the asking server's Delta version holds (none without one)."""
        from deltalake import DeltaTable

        if version is None:
            return frozenset()
        try:
            snapshot = DeltaTable(self._settings.table_uri(table), version=version,
                                  storage_options=self._settings.storage_options)
            return frozenset(_covered(snapshot.file_uris()))
        except Exception as exc:  # cannot tell what is covered: this peer's part would double rows
            raise QueryError(QueryError.QUERY_EXECUTION, f"the deep store cannot be read: {exc}") from exc

    def forget(self, table: str) -> None:
        with self._lock:
            self._cache.pop(table, None)


def _covered(files: list[str]) -> list[tuple[str, int, int]]:
    found = []
    for path in files:
        match = _FILE.search(path.rsplit("/", 1)[-1])
        if match:
            found.append((match["segment"], int(match["start"]), int(match["end"])))
    return found


def excluded(snapshot: DeltaSnapshot | None) -> frozenset[tuple[str, int, int]]:
    return frozenset() if snapshot is None else snapshot.covered
