"""A planned query: what each worker runs over its own segments and what the broker runs over their
answers. Plain data (picklable, no DuckDB): it crosses the process boundary in `RunQuery`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueryPlan:
    table: str
    kind: str  # "aggregate" | "selection" | "generic"
    worker_sql: str  # each worker, over its segments registered as `table`
    count_sql: str  # each worker: rows matching WHERE (numDocsScanned); "" when known without a scan
    broker_sql: str  # the broker, over the workers' answers registered as `table`
    pinot_sql: str  # the user's query with Pinot's defaults, over the raw table (the answer's types)
    named_sql: str  # the user's query as written, over the raw table (the answer's column names)
    matched_column: str = ""  # aggregates: worker_sql's per-group COUNT(*), summed for numDocsScanned
    json_columns: tuple[int, ...] = ()  # answer columns that are a JSON column as stored (typed JSON)
    filter_columns: int = 0  # distinct columns the WHERE reads (numEntriesScannedInFilter)
    projected_columns: int = 0  # distinct columns read after the filter (numEntriesScannedPostFilter)
    virtual_columns: tuple[str, ...] = ()  # $segmentName, $docId, $hostName: workers add them when asked
    time_range: tuple[int | None, int | None] | None = None  # WHERE's bounds on the time column: pruning
    row_count_columns: tuple[str, ...] = ()  # the worker's part is only COUNT(*)s of all its rows: these
