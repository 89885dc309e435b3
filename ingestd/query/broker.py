"""The broker: plans a query, validates it, gathers the workers' answers and merges them.

Validation runs the user's query (with Pinot's defaults) over an empty table of the right schema;
that also fixes the result's column names and types, which the merged answer is conformed to.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from ingestd.errors import QueryError
from ingestd.messages import QueryReply
from ingestd.query.engine import ArrowSqlEngine
from ingestd.query.plan import QueryPlan
from ingestd.query.planner import plan_query
from ingestd.query.response import error_response, result_table


class Cluster(Protocol):
    def table_schema(self, table: str) -> pa.Schema | None:
        """The table's Arrow schema as its segments store it, or None if there is no such table."""
        ...

    def scatter(self, plan: QueryPlan) -> tuple[list[QueryReply], int]: ...


@dataclass(frozen=True)
class _Prepared:
    plan: QueryPlan
    table_schema: pa.Schema  # the table's schema when planned: a changed table is planned again
    result_schema: pa.Schema  # names and types of the answer over one table


class Broker:
    PLAN_CACHE_SIZE = 256

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._engine = ArrowSqlEngine()
        self._prepared: OrderedDict[str, _Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def execute(self, sql: str) -> dict[str, Any]:
        started = time.monotonic()
        try:
            return self._execute(sql, started)
        except QueryError as exc:
            return error_response(exc.code, str(exc), _elapsed_ms(started))

    def _prepare(self, sql: str) -> _Prepared:
        """The plan and result schema of `sql`, from the cache while the table's schema is unchanged."""
        with self._lock:
            cached = self._prepared.get(sql)
        if cached is not None:
            current = self._cluster.table_schema(cached.plan.table)
            if current is not None and current == cached.table_schema:
                return cached
        schemas: dict[str, pa.Schema] = {}

        def resolve(name: str) -> str | None:
            schema = self._cluster.table_schema(name)
            if schema is not None:
                schemas[name] = schema
                return name
            return None

        plan = plan_query(sql, resolve, lambda table: schemas[table].names)
        table_schema = schemas[plan.table]
        expected = self._engine.run(plan.pinot_sql, plan.table, table_schema.empty_table())
        prepared = _Prepared(plan, table_schema, expected.schema)
        with self._lock:
            self._prepared[sql] = prepared
            if len(self._prepared) > self.PLAN_CACHE_SIZE:
                self._prepared.popitem(last=False)
        return prepared

    def _execute(self, sql: str, started: float) -> dict[str, Any]:
        prepared = self._prepare(sql)
        plan = prepared.plan
        empty = prepared.table_schema.empty_table()
        replies, queried = self._cluster.scatter(plan)
        failed = [reply.error for reply in replies if reply.error is not None]
        if failed:
            raise QueryError(*failed[0])
        partials = [reply.result for reply in replies if reply.result is not None]
        if not partials:
            partials = [self._engine.run(plan.worker_sql, plan.table, empty)]
        merged = self._engine.run(plan.broker_sql, plan.table,
                                  pa.concat_tables(partials, promote_options="permissive"))
        response: dict[str, Any] = {
            "resultTable": result_table(_conform(merged, prepared.result_schema)),
            "exceptions": [],
            "numServersQueried": queried,
            "numServersResponded": len(replies),
            "numDocsScanned": sum(r.matched_docs for r in replies),
            "totalDocs": sum(r.total_docs for r in replies),
            "numSegmentsQueried": sum(r.segments for r in replies),
            "numConsumingSegmentsQueried": sum(r.consuming_segments for r in replies),
            "timeUsedMs": _elapsed_ms(started),
        }
        if len(replies) < queried:
            response["exceptions"].append({
                "errorCode": QueryError.SERVER_NOT_RESPONDING,
                "message": f"{queried - len(replies)} of {queried} workers did not respond in time",
            })
        return response


def _conform(table: pa.Table, expected: pa.Schema) -> pa.Table:
    """The merged answer with the names and types the query has over one table."""
    if table.num_columns != len(expected):
        return table
    columns = []
    for column, field in zip(table.columns, expected, strict=True):
        try:
            columns.append(column if column.type == field.type else column.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            columns.append(column)
    return pa.Table.from_arrays(columns, names=[_pinot_name(name) for name in expected.names])


def _pinot_name(name: str) -> str:
    """DuckDB calls an unaliased COUNT(*) `count_star()`; Pinot calls it `count(*)`."""
    return name.replace("count_star()", "count(*)")


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
