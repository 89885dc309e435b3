"""Concurrent queries never see each other: 16 clients, each with its own HTTP connection, send queries
that differ only in their literals (so each is planned anew, not served from the plan cache) for 30
rounds, and every answer is checked against the value computed from the loaded rows in Python. The
server must answer no HTTP 5xx, no exception, and its workers must stay the same processes.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psutil
import pytest

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.server_process import IngestdServer
from tests.support.query_table import SUBJECTS, make_rows, running_server, worker_health

CLIENTS = 16
ROUNDS = 30
ROWS = make_rows()
STUDENTS = sorted({row["studentID"] for row in ROWS} | {999, -99})
SUBJECT_WORDS = [*SUBJECTS, "Biology", "mAths"]
THRESHOLDS = [k / 8 for k in range(-48, 808)]

Query = tuple[str, Any]  # (sql, the rows it must answer)
WRONG = "WRONG ANSWER with HTTP 200"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, kafka: KafkaBroker) -> Iterator[IngestdServer]:
    topic = f"concurrency_{uuid.uuid4().hex[:8]}"
    yield from running_server(tmp_path_factory.mktemp("concurrency"), kafka, topic, ROWS)


def count_of_student(rng: random.Random) -> Query:
    k = rng.choice(STUDENTS)
    return f"SELECT COUNT(*) FROM t WHERE studentID = {k}", [[sum(r["studentID"] == k for r in ROWS)]]


def genders_in_subject(rng: random.Random) -> Query:
    s = rng.choice(SUBJECT_WORDS)
    counts = Counter(r["gender"] for r in ROWS if r["subject"] == s)
    return (f"SELECT gender, COUNT(*) AS n FROM t WHERE subject = '{s}' GROUP BY gender ORDER BY gender "
            "LIMIT 100", [[g, n] for g, n in sorted(counts.items())])


def above_threshold(rng: random.Random) -> Query:
    x = rng.choice(THRESHOLDS)
    hits = [r for r in ROWS if r["score"] > x]
    return (f"SELECT COUNT(*), SUM(score), MAX(studentID) FROM t WHERE score > {x} LIMIT 10",
            [[len(hits), sum(r["score"] for r in hits) if hits else None,
              max((r["studentID"] for r in hits), default=None)]])


def case_counts(rng: random.Random) -> Query:
    a = rng.choice(SUBJECT_WORDS)  # b differs beyond letter case: that case has its own regression test
    b = rng.choice([s for s in SUBJECT_WORDS if s.lower() != a.lower()])
    return (f"SELECT COUNT(CASE WHEN subject = '{a}' THEN 1 END) AS a, "
            f"COUNT(CASE WHEN subject = '{b}' THEN 1 END) AS b FROM t LIMIT 10",
            [[sum(r["subject"] == a for r in ROWS), sum(r["subject"] == b for r in ROWS)]])


def names_of_student(rng: random.Random) -> Query:
    k, s = rng.choice(STUDENTS), rng.choice(SUBJECT_WORDS)
    rows = sorted([r["firstName"], r["score"]] for r in ROWS if r["studentID"] == k and r["subject"] == s)
    return (f"SELECT firstName, score FROM t WHERE studentID = {k} AND subject = '{s}' ORDER BY ALL "
            "LIMIT 100000", rows)


SHAPES: list[Callable[[random.Random], Query]] = [count_of_student, genders_in_subject, above_threshold,
                                                   case_counts, names_of_student]


def same_rows(got: list[list[Any]], want: list[list[Any]]) -> bool:
    def same(g: Any, w: Any) -> bool:
        if isinstance(w, float) and isinstance(g, int | float):
            return abs(g - w) <= 1e-9 * max(1.0, abs(w))
        return bool(g == w)

    return len(got) == len(want) and all(
        len(g) == len(w) and all(same(a, b) for a, b in zip(g, w, strict=True))
        for g, w in zip(got, want, strict=True)
    )


def client_loop(url: str, seed: int, start: threading.Barrier, problems: list[tuple[str, str]]) -> None:
    """Appends (kind, what) to `problems` for each query that went wrong."""
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=60) as http:
        start.wait()
        for _ in range(ROUNDS):
            sql, want = rng.choice(SHAPES)(rng)
            try:
                response = http.post("/query/sql", json={"sql": sql})
            except httpx.HTTPError as exc:
                problems.append(("transport error", f"{sql}\n    {exc!r}"))
                continue
            if response.status_code != 200:
                problems.append((f"HTTP {response.status_code}", f"{sql}\n    {response.text[:200]}"))
                continue
            body = response.json()
            got = body.get("resultTable", {}).get("rows")
            if body.get("exceptions"):
                problems.append(("query exception", f"{sql}\n    {body['exceptions']}"[:400]))
            elif got is None or not same_rows(got, want):
                problems.append((WRONG, f"{sql}\n    expected {want!r}\n    got      {got!r}"))


def summary(problems: list[tuple[str, str]]) -> str:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, what in problems:
        by_kind[kind].append(what)
    lines = []
    for kind, found in sorted(by_kind.items(), key=lambda item: item[0] != WRONG):
        lines.append(f"{len(found)} x {kind}, e.g.:")
        lines.extend(f"  {example}" for example in found[:3])
    return "\n".join(lines)


def test_the_same_queries_one_at_a_time_are_right(loaded: IngestdServer) -> None:
    """Control: the shapes and their expected values are right when nothing runs concurrently."""
    rng = random.Random(99)
    for _ in range(60):
        sql, want = rng.choice(SHAPES)(rng)
        body = loaded.query(sql)
        assert not body.get("exceptions"), (sql, body["exceptions"])
        assert same_rows(body["resultTable"]["rows"], want), (sql, want, body["resultTable"]["rows"])


def test_sixteen_clients_with_different_literals_each_get_their_own_answer(loaded: IngestdServer) -> None:
    before = worker_health(loaded)
    problems: list[tuple[str, str]] = []
    start = threading.Barrier(CLIENTS)
    threads = [threading.Thread(target=client_loop, args=(loaded.url, seed, start, problems))
               for seed in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not any(thread.is_alive() for thread in threads), "clients still running after 300 s"
    try:
        after: Any = worker_health(loaded)
    except httpx.HTTPError as exc:
        after = f"no status: {exc!r}"
    healthy = after == before and all(restarts == 0 and exit_code is None and psutil.pid_exists(pid)
                                      for pid, restarts, exit_code in after.values())
    assert not problems and healthy, (
        f"{len(problems)} of {CLIENTS * ROUNDS} queries failed or answered wrong:\n"
        f"{summary(problems)}\nworkers (pid, restarts, lastExitCode) before: {before}\nafter: {after}")
