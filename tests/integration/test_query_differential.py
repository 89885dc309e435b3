"""The query path never answers wrong: generated SELECTs (tests/support/query_grammar.py) go through a
real 2-worker server over 3,000 awkward rows in 4 partitions (sealed and consuming segments), and
through DuckDB in this process over the same rows stored with the same Arrow types; the answers must
agree — values (floats within a tolerance), row order when the query orders totally, column types, and
column names where Pinot fixes them (`count(*)`; SUM as DOUBLE; a missing LIMIT is LIMIT 10).

CI runs INGESTD_DIFFERENTIAL_EXAMPLES (default 300) examples, derandomized so a run is reproducible
(about 30 s). A long run explores new queries every time (failures found before are replayed from
.hypothesis/ first; `--hypothesis-seed=N` repeats a run; `--timeout=0` lifts pytest's 600 s limit):

    INGESTD_DIFFERENTIAL_EXAMPLES=20000 INGESTD_DIFFERENTIAL_RANDOM=1 \\
        python -m pytest tests/integration/test_query_differential.py -q --timeout=0

tests/unit/test_query_oracle.py checks the oracle itself: every generated query has one answer.

A failure prints the SQL sent, the reference SQL, both answers and their first difference; hypothesis
then shrinks it to a small query and prints `@reproduce_failure` to replay it exactly.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import duckdb
import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.server_process import IngestdServer
from tests.support.answers import (
    Answer,
    first_difference,
    reference_answer,
    reference_rows,
    server_answer,
)
from tests.support.query_grammar import GeneratedQuery, queries
from tests.support.query_table import arrow_table, make_rows, running_server

EXAMPLES = int(os.environ.get("INGESTD_DIFFERENTIAL_EXAMPLES", "300"))
RANDOM = os.environ.get("INGESTD_DIFFERENTIAL_RANDOM", "") not in ("", "0")
ROWS = make_rows()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, kafka: KafkaBroker) -> Iterator[IngestdServer]:
    topic = f"differential_{uuid.uuid4().hex[:8]}"
    yield from running_server(tmp_path_factory.mktemp("differential"), kafka, topic, ROWS)


@pytest.fixture(scope="module")
def reference() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.register("t", arrow_table(ROWS))
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def client(loaded: IngestdServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=loaded.url, timeout=60) as http:
        yield http


def _report(query: GeneratedQuery, problem: str, got: Any, want: Answer | str) -> str:
    shown = got.show() if isinstance(got, Answer) else repr(got)[:3000]
    expected = want.show() if isinstance(want, Answer) else want
    return (f"\n{problem}\nSQL:           {query.sql}\nreference SQL: {query.reference_sql}\n"
            f"ordered: {query.ordered}\nserver answered:  {shown}\nDuckDB answered:  {expected}\n")


def check(client: httpx.Client, reference: duckdb.DuckDBPyConnection, query: GeneratedQuery) -> None:
    response = client.post("/query/sql", json={"sql": query.sql})
    try:
        want: Answer | str = reference_answer(reference, query.sql, query.reference_sql)
    except duckdb.Error as exc:
        want = f"error: {exc}"
    assert response.status_code == 200, _report(query, f"HTTP {response.status_code}", response.text, want)
    body = response.json()
    if isinstance(want, str):  # DuckDB rejects it: the server must answer an exception, not rows
        assert body.get("exceptions"), _report(query, "DuckDB failed, the server did not", body, want)
        return
    assert not body.get("exceptions"), _report(query, "server exception", body["exceptions"], want)
    got = server_answer(body)
    full = None if query.ordered else reference_rows(reference, query.full_reference_sql)
    difference = first_difference(got, want, query.ordered, full)
    assert difference is None, _report(query, f"ROWS DIFFER: {difference}", got, want)
    assert got.types == want.types, _report(query, "COLUMN TYPES DIFFER", got, want)
    assert got.names == want.names, _report(query, "COLUMN NAMES DIFFER", got, want)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(query=queries())
def test_server_answers_like_duckdb(client: httpx.Client, reference: duckdb.DuckDBPyConnection,
                                    query: GeneratedQuery) -> None:
    check(client, reference, query)


def test_the_reference_holds_what_the_server_holds(loaded: IngestdServer,
                                                   reference: duckdb.DuckDBPyConnection) -> None:
    """Guards the oracle itself: same row count and same per-subject sums through both."""
    sql = "SELECT subject, COUNT(*), SUM(score) FROM t GROUP BY subject ORDER BY subject LIMIT 100"
    got = loaded.query(sql)["resultTable"]["rows"]
    assert [tuple(r) for r in got] == [tuple(r) for r in reference.execute(sql).fetchall()]
    assert loaded.count("t") == len(ROWS) == reference.execute("SELECT COUNT(*) FROM t").fetchone()[0]

