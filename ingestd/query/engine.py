"""Running SQL over Arrow tables with DuckDB, read-only and without file or network access.

Used by workers (over their own segments) and by the broker (over the workers' answers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ingestd.errors import QueryError

if TYPE_CHECKING:
    from ingestd.query.plan import QueryPlan


class ArrowSqlEngine:
    def __init__(self) -> None:
        self._connection = duckdb.connect(config={"enable_external_access": False})
        self._connection.execute("SET lock_configuration = true")

    def run(self, sql: str, table_name: str, data: pa.Table) -> pa.Table:
        """Run `sql` with `data` visible (only) as `table_name`; QueryError with Pinot's code on failure."""
        cursor = self._connection.cursor()
        try:
            cursor.register(table_name, data)
            return cursor.sql(sql).to_arrow_table()
        except duckdb.ParserException as exc:
            raise QueryError(QueryError.SQL_PARSING, str(exc)) from exc
        except duckdb.BinderException as exc:
            code = QueryError.UNKNOWN_COLUMN if "column" in str(exc).lower() else QueryError.QUERY_EXECUTION
            raise QueryError(code, str(exc)) from exc
        except duckdb.CatalogException as exc:
            raise QueryError(QueryError.TABLE_DOES_NOT_EXIST, str(exc)) from exc
        except duckdb.Error as exc:
            raise QueryError(QueryError.QUERY_EXECUTION, str(exc)) from exc
        finally:
            cursor.close()

    def run_part(self, plan: QueryPlan, data: pa.Table) -> tuple[pa.Table, int]:
        """A worker's part of a scattered query over its `data`: the worker SQL's result, and how many
        rows matched the WHERE (numDocsScanned), from the partial counts, a COUNT(*), or every row."""
        result = self.run(plan.worker_sql, plan.table, data)
        if plan.matched_column:
            return result, int(pc.sum(result.column(plan.matched_column)).as_py() or 0)
        if plan.count_sql:
            return result, int(self.run(plan.count_sql, plan.table, data).column(0)[0].as_py())
        return result, data.num_rows

    def close(self) -> None:
        self._connection.close()
