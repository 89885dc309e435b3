"""The broker: reads a query's options, plans it, gathers the workers' answers and merges them.

Every query runs under a deadline (its `timeoutMs`, else the server's default) and can be cancelled
(the client went away): both interrupt the workers' DuckDB runs and the broker's own merge. Planning
only binds the query to the table's schema to learn its result's names and types; nothing the user
wrote is evaluated in the coordinator except the merge over the workers' answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from ingestd.errors import QueryError
from ingestd.messages import QueryReply
from ingestd.peers import encode_partial
from ingestd.query.engine import ArrowSqlEngine
from ingestd.query.plan import QueryPlan
from ingestd.query.planner import plan_query
from ingestd.query.request import parse_request
from ingestd.query.response import error_response, explain_response, result_table
from ingestd.query.table_info import TableInfo
from ingestd.rendezvous import new_request_id

log = logging.getLogger(__name__)
REPLY_GRACE_S = 1.0  # workers interrupt themselves at the deadline; their answer may take this long


@dataclass
class QueryContext:
    """One query's identity, deadline and cancellation, shared by the threads that work on it."""

    request_id: int = field(default_factory=new_request_id)
    deadline: float = float("inf")  # time.monotonic()
    cancelled: threading.Event = field(default_factory=threading.Event)
    sql: str = ""  # as planned (peers plan the same text)
    local_only: bool = False  # a peer's request: this server's workers only (peers.py)
    delta_version: int | None = None  # a peer's request: the Delta version the asking server read


@dataclass(frozen=True)
class Gathered:
    replies: list[QueryReply]
    queried: int  # workers asked; fewer replies means some did not answer in time
    deep_store_version: int | None = None  # the Delta table version the answer read, if any
    peers: int = 0  # peer servers asked (consumer-group tables with [cluster] peers)


class Cluster(Protocol):
    def table_info(self, name: str) -> TableInfo | None:
        """The table called `name` (case-insensitively, as in Pinot), or None if there is none."""
        ...

    def scatter(self, plan: QueryPlan, context: QueryContext) -> Gathered:
        """Every worker's part of `plan`, waiting until all answered, the deadline (plus a grace) passed,
        or the query was cancelled; workers still running are told to stop."""
        ...


@dataclass(frozen=True)
class _Prepared:
    plan: QueryPlan
    table: TableInfo  # the table when planned: a changed table is planned again
    result_schema: pa.Schema  # names and types of the answer over one table


class Broker:
    PLAN_CACHE_SIZE = 256

    def __init__(self, cluster: Cluster, engine: ArrowSqlEngine | None = None,
                 default_timeout_ms: int = 10_000, max_sql_bytes: int = 256 << 10) -> None:
        self._cluster = cluster
        self._engine = engine or ArrowSqlEngine()
        self._default_timeout_ms = default_timeout_ms
        self._max_sql_bytes = max_sql_bytes
        self._prepared: OrderedDict[str, _Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def execute(self, sql: str, query_options: Any = None, context: QueryContext | None = None
                ) -> dict[str, Any]:
        """Pinot's broker response for `sql`; every failure is an answer with `exceptions`, never a raise."""
        started = time.monotonic()
        context = context or QueryContext()
        try:
            if len(sql.encode()) > self._max_sql_bytes:
                raise QueryError(QueryError.SQL_PARSING, f"the query is longer than the server's limit of "
                                 f"{self._max_sql_bytes} bytes ([query] max_sql_bytes)")
            request = parse_request(sql, query_options)
            timeout_ms = request.timeout_ms(self._default_timeout_ms)
            context.deadline = started + timeout_ms / 1000
            if request.explain:
                return explain_response(self._prepare(request.sql).plan, _elapsed_ms(started),
                                        context.request_id)
            return self._execute(request.sql, context, started, timeout_ms)
        except QueryError as exc:
            return error_response(exc.code, str(exc), _elapsed_ms(started), context.request_id)
        except Exception as exc:  # a bug of ours: the client still gets an answer, the log the traceback
            log.exception("query %d failed: %s", context.request_id, sql[:200])
            return error_response(QueryError.QUERY_EXECUTION, f"{type(exc).__name__}: {exc}",
                                  _elapsed_ms(started), context.request_id)
        finally:
            self._engine.forget_interrupted(context.request_id)

    def partial(self, sql: str, timeout_ms: int, delta_version: int | None) -> dict[str, Any]:
        """A peer's request (peers.py): this server's workers' part of `sql`, unmerged."""
        context = QueryContext(deadline=time.monotonic() + timeout_ms / 1000, sql=sql, local_only=True,
                               delta_version=delta_version)
        try:
            if len(sql.encode()) > self._max_sql_bytes:
                raise QueryError(QueryError.SQL_PARSING, "the query is longer than the server's limit")
            gathered = self._cluster.scatter(self._prepare(sql).plan, context)
            return encode_partial(gathered.replies, gathered.queried - len(gathered.replies))
        except QueryError as exc:
            return {"missing": 0, "error": [exc.code, str(exc)]}
        finally:
            self._engine.forget_interrupted(context.request_id)

    def cancel(self, context: QueryContext) -> None:
        """The client went away: stop the query wherever it runs."""
        context.cancelled.set()
        self._engine.interrupt(context.request_id)

    def _prepare(self, sql: str) -> _Prepared:
        """The plan and result schema of `sql`, from the cache while the table is unchanged."""
        with self._lock:
            cached = self._prepared.get(sql)
        if cached is not None and self._cluster.table_info(cached.table.name) == cached.table:
            return cached
        tables: list[TableInfo] = []

        def lookup(name: str) -> TableInfo | None:
            info = self._cluster.table_info(name)
            tables.extend([info] if info is not None else [])
            return info

        plan = plan_query(sql, lookup)
        table = tables[-1]
        result = self._engine.result_schema(plan.pinot_sql, plan.named_sql, plan.table,
                                            table.with_virtual(plan.virtual_columns))
        prepared = _Prepared(plan, table, result)
        with self._lock:
            self._prepared[sql] = prepared
            if len(self._prepared) > self.PLAN_CACHE_SIZE:
                self._prepared.popitem(last=False)
        return prepared

    def _execute(self, sql: str, context: QueryContext, started: float, timeout_ms: int) -> dict[str, Any]:
        prepared = self._prepare(sql)
        plan = prepared.plan
        _check_alive(context, timeout_ms)
        context.sql = sql
        gathered = self._cluster.scatter(plan, context)
        if context.cancelled.is_set():
            raise QueryError(QueryError.QUERY_CANCELLED, "the query was cancelled")
        replies = gathered.replies
        for reply in replies:
            if reply.error is not None:
                code, message = reply.error
                if code == QueryError.EXECUTION_TIMEOUT:
                    message = f"the query timed out after {timeout_ms} ms (timeoutMs)"
                raise QueryError(code, message)
        if not replies and gathered.queried:
            raise QueryError(QueryError.EXECUTION_TIMEOUT, f"no worker answered within {timeout_ms} ms "
                             "(timeoutMs)")
        partials = [reply.result for reply in replies if reply.result is not None]
        if not partials:
            empty = prepared.table.with_virtual(plan.virtual_columns).empty_table()
            partials = [self._engine.run(plan.worker_sql, plan.table, empty)]
        # the merge gets a grace beyond the deadline: waiting out a worker that never answered may have
        # used it all, and the answered part is still worth giving (marked partial)
        merge_deadline = max(context.deadline, time.monotonic()) + REPLY_GRACE_S
        try:
            merged = self._engine.run(plan.broker_sql, plan.table,
                                      pa.concat_tables(partials, promote_options="permissive"),
                                      context.request_id, merge_deadline)
        except QueryError as exc:
            if context.cancelled.is_set():
                raise QueryError(QueryError.QUERY_CANCELLED, "the query was cancelled") from exc
            if exc.code == QueryError.EXECUTION_TIMEOUT:
                raise QueryError(exc.code, f"the query timed out after {timeout_ms} ms (timeoutMs)") from exc
            raise
        missing = gathered.queried - len(replies)
        table = result_table(_conform(merged, prepared.result_schema), plan.json_columns)
        docs = sum(r.matched_docs for r in replies)
        response: dict[str, Any] = {
            "resultTable": table,
            "exceptions": [],
            "partialResult": missing > 0,
            "numRowsResultSet": len(table["rows"]),
            "numServersQueried": gathered.queried,
            "numServersResponded": len(replies),
            "numDocsScanned": docs,
            "totalDocs": sum(r.total_docs for r in replies),
            "numEntriesScannedInFilter": sum(r.total_docs for r in replies) * plan.filter_columns,
            "numEntriesScannedPostFilter": docs * plan.projected_columns,
            "numSegmentsQueried": sum(r.segments for r in replies),
            "numSegmentsProcessed": sum(r.segments_processed for r in replies),
            "numSegmentsMatched": sum(r.segments_matched for r in replies),
            "numConsumingSegmentsQueried": sum(r.consuming_segments for r in replies),
            "minConsumingFreshnessTimeMs": min((r.freshness_ms for r in replies if r.freshness_ms),
                                               default=0),
            "numGroupsLimitReached": False,
            "requestId": str(context.request_id),
            "timeUsedMs": _elapsed_ms(started),
        }
        if gathered.deep_store_version is not None:  # what a deep-store answer covers (docs/deep-store.md)
            response["deepStore"] = {"deltaVersion": gathered.deep_store_version, "freshRows": (
                f"this server's and its {gathered.peers} peers'" if gathered.peers
                else "this server's only (no [cluster] peers)")}
        if missing:
            response["exceptions"].append({
                "errorCode": QueryError.SERVER_NOT_RESPONDING,
                "message": f"{missing} of {gathered.queried} workers did not respond: the rows are "
                           "computed from the others only (partialResult)",
            })
        return response


def _check_alive(context: QueryContext, timeout_ms: int) -> None:
    if context.cancelled.is_set():
        raise QueryError(QueryError.QUERY_CANCELLED, "the query was cancelled")
    if time.monotonic() > context.deadline:
        raise QueryError(QueryError.EXECUTION_TIMEOUT,
                         f"the query timed out after {timeout_ms} ms (timeoutMs)")


def _conform(table: pa.Table, expected: pa.Schema) -> pa.Table:
    """The merged answer with the names and types the query has over one table."""
    if table.num_columns != len(expected):
        return table
    columns = []
    for column, field_ in zip(table.columns, expected, strict=True):
        try:
            columns.append(column if column.type == field_.type else column.cast(field_.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            columns.append(column)
    return pa.Table.from_arrays(columns, names=[_pinot_name(name) for name in expected.names])


def _pinot_name(name: str) -> str:
    """DuckDB calls an unaliased COUNT(*) `count_star()`; Pinot calls it `count(*)`."""
    return name.replace("count_star()", "count(*)")


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
