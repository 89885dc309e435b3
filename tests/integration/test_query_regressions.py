"""Reported wrong answers and failures of the query path, each checked through a real 2-worker server
over the 3,000 rows of tests/support/query_table.py (4 partitions, sealed and consuming segments)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.server_process import IngestdServer
from tests.support.query_table import make_rows, running_server, worker_health

ROWS = make_rows()
ALL_ROWS = Counter(tuple(row.values()) for row in ROWS)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, kafka: KafkaBroker) -> Iterator[IngestdServer]:
    topic = f"regressions_{uuid.uuid4().hex[:8]}"
    yield from running_server(tmp_path_factory.mktemp("regressions"), kafka, topic, ROWS)


def rows_of(server: IngestdServer, sql: str) -> list[list[Any]]:
    response = server.http.post(server.url + "/query/sql", json={"sql": sql})
    assert response.status_code == 200, (sql, response.status_code, response.text[:500])
    body = response.json()
    assert not body.get("exceptions"), (sql, body["exceptions"])
    return list(body["resultTable"]["rows"])


COLUMNS = 'studentID, firstName, lastName, gender, subject, score, "timestamp"'  # as the rows hold them


def are_real_rows(rows: list[list[Any]]) -> bool:
    """Every row (all seven columns) is one of the loaded rows, none used more often than it exists."""
    return not Counter(tuple(row) for row in rows) - ALL_ROWS


def test_count_over_the_whole_table_window_is_the_row_count(loaded: IngestdServer) -> None:
    assert rows_of(loaded, "SELECT COUNT(*) OVER () AS n FROM t LIMIT 1") == [[len(ROWS)]]


def test_qualify_top_one_per_group_returns_one_row_per_group(loaded: IngestdServer) -> None:
    rows = rows_of(loaded, "SELECT subject, score FROM t QUALIFY ROW_NUMBER() OVER (PARTITION BY subject "
                           'ORDER BY score DESC, "timestamp", studentID, firstName) = 1 '
                           "ORDER BY subject LIMIT 100")
    best: dict[str, float] = {}
    for row in ROWS:
        best[row["subject"]] = max(best.get(row["subject"], float("-inf")), row["score"])
    assert rows == [[subject, score] for subject, score in sorted(best.items())]


def test_limit_percent_returns_that_share_of_the_rows(loaded: IngestdServer) -> None:
    rows = rows_of(loaded, f"SELECT {COLUMNS} FROM t LIMIT 50%")
    assert len(rows) == len(ROWS) // 2
    assert are_real_rows(rows)


def test_tablesample_rows_samples_that_many_rows_of_the_whole_table(loaded: IngestdServer) -> None:
    rows = rows_of(loaded, f"SELECT {COLUMNS} FROM t TABLESAMPLE 5 ROWS LIMIT 100")
    assert len(rows) == 5
    assert are_real_rows(rows)


def test_case_aggregates_differing_only_in_literal_case_answer_each_their_own(loaded: IngestdServer) -> None:
    exact, upper = (sum(row["subject"] == s for row in ROWS) for s in ("Maths", "MATHS"))
    assert exact != upper  # the data tells them apart
    rows = rows_of(loaded, "SELECT COUNT(CASE WHEN subject = 'Maths' THEN 1 END) AS exact, "
                           "COUNT(CASE WHEN subject = 'MATHS' THEN 1 END) AS upper FROM t LIMIT 10")
    assert rows == [[exact, upper]]
    grouped = rows_of(loaded, "SELECT gender, COUNT(CASE WHEN subject = 'MATHS' THEN 1 END) AS upper, "
                              "COUNT(CASE WHEN subject = 'Maths' THEN 1 END) AS exact FROM t "
                              "GROUP BY gender ORDER BY gender LIMIT 100")
    expected = {g: [g, 0, 0] for g in {row["gender"] for row in ROWS}}
    for row in ROWS:
        if row["subject"] in ("MATHS", "Maths"):
            expected[row["gender"]][1 if row["subject"] == "MATHS" else 2] += 1
    assert grouped == [expected[g] for g in sorted(expected)]


def test_group_by_all_groups_by_the_plain_columns(loaded: IngestdServer) -> None:
    rows = rows_of(loaded, "SELECT subject, gender, COUNT(*) AS n FROM t GROUP BY ALL "
                           "ORDER BY subject, gender LIMIT 100")
    counts = Counter((row["subject"], row["gender"]) for row in ROWS)
    assert rows == [[s, g, n] for (s, g), n in sorted(counts.items())]


def test_a_type_error_in_a_worker_is_a_query_exception_and_the_workers_live_on(loaded: IngestdServer) -> None:
    before = worker_health(loaded)
    sql = "SELECT CAST(firstName AS INT) FROM t LIMIT 5"
    response = loaded.http.post(loaded.url + "/query/sql", json={"sql": sql})
    assert response.status_code == 200, response.text[:500]
    assert [e["errorCode"] for e in response.json()["exceptions"]] == [200], response.json()
    time.sleep(2)  # long enough for a dead worker to be noticed and restarted
    assert rows_of(loaded, "SELECT COUNT(*) FROM t") == [[len(ROWS)]]
    after = worker_health(loaded)
    assert after == before, f"workers changed: before {before}, after {after}"
    assert all(restarts == 0 and exit_code is None for _, restarts, exit_code in after.values()), after
    assert all(psutil.pid_exists(pid) for pid, _, _ in after.values()), after


def test_a_cte_cannot_stand_in_for_the_table(loaded: IngestdServer) -> None:
    """Either rejected as SQL Pinot does not take (150), or answered over the real table — never 42."""
    response = loaded.http.post(loaded.url + "/query/sql",
                                json={"sql": "WITH t AS (SELECT 42 AS studentID) SELECT studentID FROM t"})
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    if body.get("exceptions"):
        assert [e["errorCode"] for e in body["exceptions"]] == [150], body["exceptions"]
    else:
        rows = body["resultTable"]["rows"]
        assert len(rows) == 10, f"not the real table's first 10 (default LIMIT) student IDs: {rows}"
        assert {r[0] for r in rows} <= {row["studentID"] for row in ROWS}, rows


@pytest.mark.parametrize("sql", ["SELECT to_days(1) AS d FROM t LIMIT 1",
                                 "SELECT INTERVAL 1 DAY AS d FROM t LIMIT 1"])
def test_a_result_type_pinot_has_no_name_for_is_a_value_or_an_exception_never_a_500(
        loaded: IngestdServer, sql: str) -> None:
    response = loaded.http.post(loaded.url + "/query/sql", json={"sql": sql})
    assert response.status_code == 200, (response.status_code, response.text[:500])
    body = response.json()
    if not body.get("exceptions"):
        rows = body["resultTable"]["rows"]
        assert len(rows) == 1 and rows[0][0] is not None, rows
