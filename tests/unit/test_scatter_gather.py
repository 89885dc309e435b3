"""Scatter/gather is invisible: for any split of the rows across workers, the broker's merged answer
equals DuckDB running the same SQL over all the rows. Workers here are in-process engines over slices
(pure logic; the multi-process path is covered by the integration tests)."""

from __future__ import annotations

import itertools
import math
import random
import re
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestd.config import parse_schema
from ingestd.devtools.seed import seed_schema
from ingestd.messages import QueryReply
from ingestd.query.broker import Broker, Gathered, QueryContext
from ingestd.query.engine import ArrowSqlEngine
from ingestd.query.plan import QueryPlan
from ingestd.query.table_info import TableInfo

SCHEMA = parse_schema(seed_schema())
SUBJECTS = ["Maths", "History", "English", "Physics", None]


def make_rows(count: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    return pa.table({
        "studentID": pa.array([rng.randint(1, 40) for _ in range(count)], pa.int32()),
        "firstName": pa.array([f"n{rng.randint(0, 30)}" for _ in range(count)], pa.string()),
        "lastName": pa.array(["L"] * count, pa.string()),
        "gender": pa.array([rng.choice(["Female", "Male"]) for _ in range(count)], pa.string()),
        "subject": pa.array([rng.choice(SUBJECTS) or "null" for _ in range(count)], pa.string()),
        "score": pa.array([round(rng.uniform(0, 4), 1) for _ in range(count)], pa.float32()),
        "timestamp": pa.array([1_571_900_400_000 + rng.randint(0, 10**6) for _ in range(count)], pa.int64()),
    })


class SlicedCluster:
    """Each 'worker' holds one slice of the rows; scatter runs the worker SQL over each slice."""

    def __init__(self, slices: list[pa.Table]) -> None:
        self.slices = slices
        self.engine = ArrowSqlEngine()
        self.kinds: list[str] = []

    def table_info(self, name: str) -> TableInfo | None:
        if name.lower() != "transcript":
            return None
        return TableInfo("transcript", self.slices[0].schema, SCHEMA, "timestamp")

    def scatter(self, plan: QueryPlan, context: QueryContext) -> Gathered:
        self.kinds.append(plan.kind)
        replies = []
        for i, part in enumerate(self.slices):
            result, matched = self.engine.run_part(plan, part)
            replies.append(QueryReply(1, i, result=result, matched_docs=matched, total_docs=part.num_rows))
        return Gathered(replies, len(self.slices))


QUERIES = {
    "count": ("SELECT COUNT(*) FROM transcript", "aggregate"),
    "group": ('SELECT subject, COUNT(*), SUM(score), MIN(studentID), MAX("timestamp"), AVG(score) '
              "FROM transcript WHERE studentID > 3 GROUP BY subject ORDER BY subject LIMIT 100", "aggregate"),
    "having": ("SELECT subject, COUNT(DISTINCT studentID) AS d FROM transcript GROUP BY 1 "
               "HAVING COUNT(*) > 2 ORDER BY d DESC, subject LIMIT 5", "aggregate"),
    "expression_group": ("SELECT studentID % 3 AS bucket, AVG(score) * 2 FROM transcript_REALTIME "
                         "GROUP BY bucket ORDER BY bucket", "aggregate"),
    "selection": ('SELECT firstName, "timestamp" FROM transcript WHERE subject = \'Maths\' '
                  'ORDER BY "timestamp" DESC, firstName LIMIT 7 OFFSET 2', "selection"),
    "star": ('SELECT * FROM transcript ORDER BY "timestamp", firstName, studentID LIMIT 5', "selection"),
    "alias_order": ("SELECT score * 2 AS s, studentID FROM transcript ORDER BY s, studentID LIMIT 4",
                    "selection"),
    "distinct": ("SELECT DISTINCT subject FROM transcript ORDER BY subject", "generic"),
    "median": ("SELECT median(score), COUNT(*) FROM transcript WHERE gender = 'Male'", "generic"),
    "empty": ("SELECT COUNT(*), SUM(score), MIN(score), MAX(score), AVG(score) FROM transcript "
              "WHERE studentID > 1000", "aggregate"),
    "sum_int": ("SELECT subject, SUM(studentID) FROM transcript GROUP BY subject ORDER BY subject",
                "aggregate"),
    "window": ("SELECT COUNT(*) OVER () AS n FROM transcript LIMIT 1", "generic"),
    "qualify": ("SELECT subject, firstName FROM transcript QUALIFY ROW_NUMBER() OVER "
                "(PARTITION BY subject ORDER BY score DESC, firstName, studentID, \"timestamp\") = 1 "
                "ORDER BY subject LIMIT 100", "generic"),
    "case_literals": ("SELECT COUNT(CASE WHEN subject = 'Maths' THEN 1 END), "
                      "COUNT(CASE WHEN subject = 'MATHS' THEN 1 END) FROM transcript", "aggregate"),
    "group_by_all": ("SELECT subject, COUNT(*) FROM transcript GROUP BY ALL ORDER BY ALL LIMIT 100",
                     "aggregate"),
    "distinct_limit": ("SELECT DISTINCT gender FROM transcript ORDER BY gender LIMIT 1", "generic"),
}


# Where Pinot's conventions differ from DuckDB's: over no rows at all (no GROUP BY) SUM is 0, MIN
# +Infinity, MAX and AVG -Infinity; `SELECT *` lists the columns alphabetically.
PINOT_REFERENCE = {
    "star": 'SELECT firstName, gender, lastName, score, studentID, subject, "timestamp" FROM transcript '
            'ORDER BY "timestamp", firstName, studentID LIMIT 5',
    "empty": "SELECT COUNT(*), COALESCE(SUM(score), 0), COALESCE(MIN(score), 'Infinity'), "
                           "COALESCE(MAX(score), '-Infinity'), COALESCE(AVG(score), '-Infinity') "
                           "FROM transcript WHERE studentID > 1000",
}


def expected_rows(sql: str, data: pa.Table) -> list[tuple[Any, ...]]:
    connection = duckdb.connect()
    connection.register("transcript", data)
    connection.register("transcript_REALTIME", data)
    return [tuple(row) for row in connection.execute(sql).fetchall()]


def same_value(got: Any, want: Any) -> bool:
    if got is None or want is None:
        return got is None and want is None
    if isinstance(want, float) and math.isinf(want):
        return got == ("Infinity" if want > 0 else "-Infinity")
    if isinstance(got, float) or isinstance(want, float):
        return math.isclose(float(got), float(want), rel_tol=1e-6)
    return bool(got == want)


def same(actual: list[list[Any]], expected: list[tuple[Any, ...]]) -> bool:
    return len(actual) == len(expected) and all(
        len(got) == len(want) and all(same_value(g, w) for g, w in zip(got, want, strict=True))
        for got, want in zip(actual, expected, strict=True)
    )


@pytest.mark.parametrize("name", sorted(QUERIES))
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), workers=st.integers(1, 4), rows=st.integers(0, 300))
def test_merged_answer_equals_single_node_duckdb(name: str, seed: int, workers: int, rows: int) -> None:
    sql, kind = QUERIES[name]
    data = make_rows(rows, seed)
    rng = random.Random(seed)
    cuts = sorted(rng.randint(0, rows) for _ in range(workers - 1))
    bounds = [0, *cuts, rows]
    cluster = SlicedCluster([data.slice(a, b - a) for a, b in itertools.pairwise(bounds)])
    answer = Broker(cluster).execute(sql)
    assert answer["exceptions"] == [], answer["exceptions"]
    assert cluster.kinds == [kind]
    expected = expected_rows(PINOT_REFERENCE.get(name, sql), data)
    assert same(answer["resultTable"]["rows"], expected), (answer["resultTable"]["rows"], expected)
    assert answer["totalDocs"] == rows
    where = re.search(r" WHERE (.+?)(?: GROUP| ORDER|$)", sql)
    matching = "SELECT COUNT(*) FROM transcript" + (f" WHERE {where.group(1)}" if where else "")
    assert answer["numDocsScanned"] == expected_rows(matching, data)[0][0]


def test_unknown_column_and_table_and_non_select_are_pinot_errors() -> None:
    broker = Broker(SlicedCluster([make_rows(5, 1)]))
    assert broker.execute("SELECT nosuch FROM transcript")["exceptions"][0]["errorCode"] == 710
    assert broker.execute("SELECT 1 FROM other")["exceptions"][0]["errorCode"] == 190
    assert broker.execute("DROP TABLE transcript")["exceptions"][0]["errorCode"] == 150
    assert broker.execute("SELECT * FROM read_csv('/etc/passwd')")["exceptions"][0]["errorCode"] == 150
    cte = "WITH transcript AS (SELECT 42 AS studentID) SELECT studentID FROM transcript"
    assert broker.execute(cte)["exceptions"][0]["errorCode"] == 150
    subquery = "SELECT * FROM transcript WHERE studentID IN (SELECT 1)"
    assert broker.execute(subquery)["exceptions"][0]["errorCode"] == 150
    assert broker.execute("SELECT * FROM transcript LIMIT studentID")["exceptions"][0]["errorCode"] == 150
