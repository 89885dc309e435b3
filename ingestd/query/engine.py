"""Running SQL over Arrow tables with DuckDB: read-only, no file or network access, bounded in
threads and memory, and interruptible.

Used by workers (over their own segments) and by the broker (over the workers' answers). One engine
is shared by the threads of a process: each run gets its own cursor (a DuckDB connection of its own
to the same in-memory database, so the memory and thread limits apply to all of them together).
A run can be interrupted from another thread (a timeout, a cancelled request) by its query id.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ingestd.errors import QueryError
from ingestd.query.deadlines import DeadlineWatch

if TYPE_CHECKING:
    from ingestd.query.plan import QueryPlan


class ArrowSqlEngine:
    def __init__(self, threads: int = 1, memory_limit_mb: int = 1024) -> None:
        self._connection = duckdb.connect(config={
            "enable_external_access": False,
            "threads": threads,
            "memory_limit": f"{memory_limit_mb}MB",
            "max_temp_directory_size": "0B",  # nothing spills to disk: over the limit is an error
        })
        self._connection.execute("SET lock_configuration = true")
        self._lock = threading.Lock()
        self._running: dict[object, list[duckdb.DuckDBPyConnection]] = {}
        self._interrupted: dict[object, float] = {}  # query id → when (pruned after an hour)
        self._deadlines = DeadlineWatch()

    def run(self, sql: str, table_name: str, data: pa.Table, query_id: object = None,
            deadline: float | None = None) -> pa.Table:
        """Run `sql` with `data` visible (only) as `table_name`; QueryError with Pinot's code on failure.

        `deadline` (time.monotonic()) interrupts the run when it passes; `interrupt(query_id)` from
        another thread does too. Either ends as QueryError(EXECUTION_TIMEOUT or CANCELLED)."""
        cursor = self._connection.cursor()
        key = query_id if query_id is not None else object()
        with self._lock:
            if key in self._interrupted:
                cursor.close()
                raise QueryError(QueryError.QUERY_CANCELLED, "the query was cancelled")
            self._running.setdefault(key, []).append(cursor)
        watch = None
        if deadline is not None:
            if deadline <= time.monotonic():
                self._forget(key, cursor)
                raise QueryError(QueryError.EXECUTION_TIMEOUT, "the query timed out")
            watch = self._deadlines.add(deadline, cursor.interrupt)
        try:
            cursor.register(table_name, data)
            return cursor.sql(sql).to_arrow_table()
        except duckdb.InterruptException as exc:
            if key in self._interrupted:
                raise QueryError(QueryError.QUERY_CANCELLED, "the query was cancelled") from exc
            raise QueryError(QueryError.EXECUTION_TIMEOUT, "the query timed out") from exc
        except duckdb.Error as exc:
            raise _query_error(exc) from exc
        finally:
            if watch is not None:
                self._deadlines.cancel(watch)
            self._forget(key, cursor)

    def result_schema(self, typed_sql: str, named_sql: str, table_name: str, schema: pa.Schema) -> pa.Schema:
        """The answer's names (from `named_sql`: the query as written) and types (from `typed_sql`: with
        Pinot's conventions) over a table of `schema`, found by binding only: nothing the user wrote is
        evaluated."""
        cursor = self._connection.cursor()
        try:
            cursor.register(table_name, schema.empty_table())
            names = cursor.sql(named_sql).columns
            types = [str(t) for t in cursor.sql(typed_sql).types]
            probe = ", ".join(f'CAST(NULL AS {t}) AS "c{i}"' for i, t in enumerate(types))
            arrow = cursor.sql(f"SELECT {probe} LIMIT 0").to_arrow_table().schema if types else pa.schema([])
            return pa.schema([pa.field(name, field.type) for name, field in zip(names, arrow, strict=True)])
        except duckdb.Error as exc:
            raise _query_error(exc) from exc
        finally:
            cursor.close()

    def interrupt(self, query_id: object) -> None:
        """Stop every run of `query_id`, now and (until `forget_interrupted`) any that starts later."""
        now = time.monotonic()
        with self._lock:
            self._interrupted = {k: t for k, t in self._interrupted.items() if now - t < 3600}
            self._interrupted[query_id] = now
            cursors = list(self._running.get(query_id, []))
        for cursor in cursors:
            cursor.interrupt()

    def forget_interrupted(self, query_id: object) -> None:
        with self._lock:
            self._interrupted.pop(query_id, None)

    def _forget(self, key: object, cursor: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            cursors = self._running.get(key, [])
            if cursor in cursors:
                cursors.remove(cursor)
            if not cursors:
                self._running.pop(key, None)
        cursor.close()

    def run_part(self, plan: QueryPlan, data: pa.Table, query_id: object = None,
                 deadline: float | None = None) -> tuple[pa.Table, int]:
        """A worker's part of a scattered query over its `data`: the worker SQL's result, and how many
        rows matched the WHERE (numDocsScanned), from the partial counts, a COUNT(*), or every row."""
        if plan.row_count_columns:  # COUNT(*) of every row: known without a scan
            rows = pa.array([data.num_rows], pa.int64())
            return pa.table({name: rows for name in plan.row_count_columns}), data.num_rows
        result = self.run(plan.worker_sql, plan.table, data, query_id, deadline)
        if plan.matched_column:
            return result, int(pc.sum(result.column(plan.matched_column)).as_py() or 0)
        if plan.count_sql:
            counted = self.run(plan.count_sql, plan.table, data, query_id, deadline)
            return result, int(counted.column(0)[0].as_py())
        return result, data.num_rows

    def close(self) -> None:
        self._connection.close()


def _query_error(exc: duckdb.Error) -> QueryError:
    """DuckDB's exception as Pinot's error code."""
    message = str(exc)
    if isinstance(exc, duckdb.ParserException):
        return QueryError(QueryError.SQL_PARSING, message)
    if isinstance(exc, duckdb.BinderException):
        unknown = "column" in message.lower() and ("not found" in message.lower()
                                                   or "does not have a column" in message.lower())
        return QueryError(QueryError.UNKNOWN_COLUMN if unknown else QueryError.QUERY_EXECUTION, message)
    if isinstance(exc, duckdb.CatalogException):
        if "function" in message.lower():
            return QueryError(QueryError.QUERY_VALIDATION, message)
        return QueryError(QueryError.TABLE_DOES_NOT_EXIST, message)
    if isinstance(exc, duckdb.OutOfMemoryException):
        return QueryError(QueryError.RESOURCE_LIMIT, f"the query needs more memory than allowed: {message}")
    return QueryError(QueryError.QUERY_EXECUTION, message)
