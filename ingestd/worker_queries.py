"""A worker's query service: runs its part of each query on threads of its own, so ingestion never
waits for a query (DuckDB releases the GIL while it works).

The worker's ingest thread takes a snapshot of the table's partitions (each an immutable view) when a
query arrives and hands it over; a query thread concatenates it, runs the plan's worker SQL with the
query's deadline, and replies. Every failure in that path, whatever it is, becomes a query exception
in the reply: a query can never take a worker down.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from ingestd.errors import QueryError
from ingestd.ingest.view import PartitionView
from ingestd.messages import QueryReply, RunQuery
from ingestd.query.engine import ArrowSqlEngine
from ingestd.query.pieces import gather

log = logging.getLogger(__name__)


class WorkerQueryService:
    def __init__(self, worker_id: int, replies: Any, threads: int, engine: ArrowSqlEngine) -> None:
        self._worker_id = worker_id
        self._replies = replies
        self._engine = engine
        self._executor = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="query")

    def submit(self, request: RunQuery, schema: pa.Schema | None, views: Sequence[PartitionView]) -> None:
        """Answer `request` over `views` (taken by the ingest thread) on a query thread."""
        self._executor.submit(self._answer, request, schema, tuple(views))

    def cancel(self, request_id: int) -> None:
        self._engine.interrupt(request_id)

    def _answer(self, request: RunQuery, schema: pa.Schema | None, views: tuple[PartitionView, ...]) -> None:
        try:
            reply = self._run(request, schema, views)
        except QueryError as exc:
            if exc.code in (QueryError.QUERY_CANCELLED, QueryError.EXECUTION_TIMEOUT):
                log.info("worker %d: query %d stopped: %s", self._worker_id, request.request_id, exc)
            reply = self._error(request, exc.code, str(exc))
        except Exception as exc:  # never let a query kill the worker: it is the query's error
            log.exception("worker %d: query %d failed", self._worker_id, request.request_id)
            reply = self._error(request, QueryError.QUERY_EXECUTION, f"{type(exc).__name__}: {exc}")
        finally:
            self._engine.forget_interrupted(request.request_id)
        try:
            self._replies.put(reply)
        except Exception:
            log.exception("worker %d: cannot send the answer to query %d", self._worker_id,
                          request.request_id)

    def _run(self, request: RunQuery, schema: pa.Schema | None, views: tuple[PartitionView, ...]
             ) -> QueryReply:
        if schema is None:
            return self._error(request, QueryError.TABLE_DOES_NOT_EXIST, "no partitions of this table here")
        if time.monotonic() >= request.deadline:
            raise QueryError(QueryError.EXECUTION_TIMEOUT, "the query timed out before it started")
        data = gather(views, schema, request.plan, request.exclude)
        result, matched = self._engine.run_part(request.plan, data.table, request.request_id,
                                                request.deadline)
        return QueryReply(
            request.request_id, self._worker_id, result=result, matched_docs=matched,
            total_docs=data.total_docs, segments=data.segments, consuming_segments=data.consuming,
            segments_processed=data.segments_processed,
            segments_matched=data.segments_processed if matched else 0, freshness_ms=data.freshness_ms,
        )

    def _error(self, request: RunQuery, code: int, message: str) -> QueryReply:
        return QueryReply(request.request_id, self._worker_id, error=(code, message))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
