"""Queries are isolated and bounded: timeouts interrupt every worker, a client that goes away cancels its
query, a saturated query path never delays `/health`, the status or ingestion, an answer missing a
worker says so, and one broken table cannot stop the coordinator from supervising the others.

The heavy query is a per-row Levenshtein distance over repeated strings: pure CPU in each worker,
little memory, and its cost scales with the repeat factor (about 0.2 ms a row at 100 here, growing
with its square), so a run can be made to take minutes without the test waiting for it.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.devtools.server_process import IngestdServer
from tests.support.tables import create_table

ROWS = 20_000


def heavy(repeat: int) -> str:
    return (f"SELECT SUM(levenshtein(repeat(firstName, {repeat}), repeat(lastName || firstName, {repeat}))) "
            "AS d FROM {table}")


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    started: list[IngestdServer] = []

    def make(query: dict[str, int] | None = None, name: str = "server") -> IngestdServer:
        (tmp_path / name).mkdir(exist_ok=True)
        server = IngestdServer(tmp_path / name, toml={"query": query or {}})
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        try:
            server.stop()
        finally:
            server.kill9()


def loaded_table(server: IngestdServer, kafka: KafkaBroker, name: str) -> str:
    create_table(server, kafka, name, 4, **{"stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
    kafka.publish(name, (student_record(i, student=i % 100) for i in range(ROWS)), partitions=4)
    wait_until(lambda: server.count(name) == ROWS, timeout_s=60, what=f"{ROWS} rows")
    return name


def post_query(server: IngestdServer, sql: str, timeout_s: float = 120, **body: Any) -> dict[str, Any]:
    response = httpx.post(server.url + "/query/sql", json={"sql": sql, **body}, timeout=timeout_s)
    assert response.status_code == 200, response.text
    return dict(response.json())


def error_code(answer: dict[str, Any]) -> int | None:
    return answer["exceptions"][0]["errorCode"] if answer.get("exceptions") else None


def worker_pids(server: IngestdServer, table: str) -> dict[str, int]:
    return {w: info["pid"] for w, info in server.get(f"/tables/{table}/status")["workers"].items()}


def test_timeouts_from_every_source_interrupt_the_workers(
    kafka: KafkaBroker, make_server: Any, unique_name: str
) -> None:
    server = make_server({"timeout_ms": 1500, "threads_per_worker": 2})
    table = loaded_table(server, kafka, unique_name)
    pids = worker_pids(server, table)
    slow = heavy(1000).format(table=table)  # minutes of work per worker if nothing stops it
    started = time.monotonic()
    answers = [
        post_query(server, slow),  # the server's [query] timeout_ms
        post_query(server, slow + " OPTION(timeoutMs=300)"),
        post_query(server, "SET timeoutMs = 300; " + slow),
        post_query(server, slow, queryOptions="timeoutMs=300"),
    ]
    assert [error_code(a) for a in answers] == [250] * 4, answers
    assert "1500 ms" in answers[0]["exceptions"][0]["message"]
    assert "300 ms" in answers[1]["exceptions"][0]["message"]
    assert time.monotonic() - started < 30
    # Four interrupted queries would hold both query threads of both workers for minutes if the
    # interrupt had not reached DuckDB; a plain query answers at once instead.
    assert server.count(table) == ROWS
    assert worker_pids(server, table) == pids
    assert "stopped" in server.log.read_text()


def test_health_status_and_ingestion_stay_live_while_queries_saturate_the_server(
    kafka: KafkaBroker, make_server: Any, unique_name: str
) -> None:
    server = make_server({"max_concurrent": 2, "timeout_ms": 20000, "threads_per_worker": 1})
    table = loaded_table(server, kafka, unique_name)
    slow = heavy(100).format(table=table)  # a second or two per worker each
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        running = [pool.submit(post_query, server, slow) for _ in range(14)]
        time.sleep(0.5)  # let them reach the server: the line (2 running, 8 waiting) is now full
        busy = post_query(server, f"SELECT COUNT(*) FROM {table}")
        assert error_code(busy) == 429, busy
        assert "busy" in busy["exceptions"][0]["message"]
        for _ in range(10):
            started = time.monotonic()
            assert httpx.get(server.url + "/health", timeout=10).text == "OK"
            assert time.monotonic() - started < 2
        before = sum(p["rowsIndexed"] for p in server.get(f"/tables/{table}/status")["partitions"])
        kafka.publish(table, (student_record(ROWS + i) for i in range(1000)), partitions=4)
        wait_until(lambda: sum(p["rowsIndexed"] for p in server.get(f"/tables/{table}/status")["partitions"])
                   >= before + 1000, timeout_s=15, what="ingestion to go on while queries run")
        codes = [error_code(f.result()) for f in running]
    assert set(codes) <= {None, 429, 250}, codes  # answered, busy, or timed out: never wrong, never 5xx
    assert codes.count(429) >= 4, codes  # 14 sent, 2 running + 8 waiting at most
    assert server.count(table) == ROWS + 1000
    workers = server.get(f"/tables/{table}/status")["workers"]
    assert all(w["restarts"] == 0 for w in workers.values()), workers


def test_a_client_that_disconnects_cancels_its_query(
    kafka: KafkaBroker, make_server: Any, unique_name: str
) -> None:
    server = make_server({"timeout_ms": 600000, "threads_per_worker": 1})
    table = loaded_table(server, kafka, unique_name)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.url + "/query/sql", json={"sql": heavy(1000).format(table=table)}, timeout=1.5)
    wait_until(lambda: server.log.read_text().count("the query was cancelled") >= 2, timeout_s=15,
               what="both workers to stop the abandoned query")
    assert server.count(table) == ROWS  # the single query thread of each worker is free again


def test_an_answer_missing_a_worker_is_marked_partial(
    kafka: KafkaBroker, make_server: Any, unique_name: str
) -> None:
    server = make_server()
    table = loaded_table(server, kafka, unique_name)
    pid = next(iter(worker_pids(server, table).values()))
    os.kill(pid, signal.SIGSTOP)  # alive, but answers nothing
    try:
        answer = post_query(server, f"SELECT COUNT(*) FROM {table} OPTION(timeoutMs=1000)")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert answer["partialResult"] is True, answer
    assert error_code(answer) == 427
    assert (answer["numServersQueried"], answer["numServersResponded"]) == (2, 1)
    assert 0 < answer["resultTable"]["rows"][0][0] < ROWS
    wait_until(lambda: server.count(table) == ROWS, what="the full answer once the worker is back")
    complete = post_query(server, f"SELECT COUNT(*) FROM {table}")
    assert complete["partialResult"] is False and complete["exceptions"] == []


def test_a_table_that_cannot_be_assigned_does_not_stop_supervision(
    kafka: KafkaBroker, make_server: Any, tmp_path: Path, unique_name: str
) -> None:
    """A saved config whose client properties librdkafka rejects used to kill the supervisor thread at
    every start: no table was assigned and dead workers were never restarted."""
    broken = f"{unique_name}_broken"
    schema, config = seed_configs(broken, **{"stream.kafka.topic.name": broken,
                                             "stream.kafka.broker.list": kafka.bootstrap,
                                             "stream.kafka.consumer.prop.fetch.wait.max.msz": "5"})
    metadata = tmp_path / "server" / "data" / "metadata"
    (metadata / "schemas").mkdir(parents=True)
    (metadata / "tables").mkdir(parents=True)
    (metadata / "schemas" / f"{broken}.json").write_bytes(orjson.dumps(schema))
    (metadata / "tables" / f"{broken}.json").write_bytes(orjson.dumps({"uid": "u1", "config": config}))
    server = make_server()
    status = wait_until(lambda: (s := server.get(f"/tables/{broken}/status"))["streamError"] and s,
                        what="the broken table's error in its status")
    assert "fetch.wait.max.msz" in status["streamError"]

    table = loaded_table(server, kafka, unique_name)  # other tables are assigned and ingest
    pid = next(iter(worker_pids(server, table).values()))
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: pid not in worker_pids(server, table).values(), timeout_s=30,
               what="the killed worker to be restarted")
    wait_until(lambda: server.count(table) == ROWS, what="all rows again after the restart")
