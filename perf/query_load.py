"""Queries under load: does a heavy query still hold back ingestion, and how do ordinary queries fare with
16 concurrent clients?

    python -m perf.query_load [--runs 3] [--quick] [--output DIR]

1. Freshness while heavy queries run. A table is fed at a steady rate (seed-shaped JSON, 4 partitions,
   2 workers). A probe publishes one marker row at a time (a studentID no other row has) and polls
   `SELECT COUNT(*) ... WHERE studentID = <marker>` on its own connection until it answers 1; the time
   from publishing to that answer is the marker's visibility latency. Measured (a) with no other load
   and (b) while clients loop a CPU-heavy worker-side query, with the ingestion rate over each phase
   (partitions' `rowsIndexed` in the table status) next to the publish rate (the topic's end offsets).
2. Query latency under concurrency. Over a loaded table, 1 and then 16 clients (each with its own HTTP
   connection) run queries that differ only in their literals; every answer is checked against the
   value computed from the known rows (perf/workload.py's `message`).

Each run has its own broker and servers; every figure is the median of --runs runs, printed with its
min-max spread. Writes perf/results/<date>-query-load.json. It asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import platform
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from confluent_kafka import Consumer, Producer, TopicPartition

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.server_process import IngestdServer
from perf.measures import RESULTS, CpuWindow, discard, end_to_end, spread, start_table, write_result
from perf.runs import counts, figure, print_table, summarize
from perf.workload import BASE_TIME_MS, NAMES, SUBJECTS, message, publish_at_rate, publish_fast

HEAVY_SQL = ("SELECT SUM(levenshtein(repeat(firstName, 150), repeat(lastName || firstName, 150))) "
             "FROM {table}")
MARKER_BASE = 10_000_000  # marker studentIDs; the fed rows have 200..1199
MARKER_GIVE_UP_S = 120.0
POLL_PAUSE_S = 0.02  # between polls of one marker: ~20 ms resolution, and the probe loads the server less
FRESH_SEGMENT_ROWS = 100_000  # per partition: at 20k msg/s over 4 partitions, a seal every ~20 s
Answer = tuple[list[list[Any]] | None, str | None]  # rows, or why there are none


@dataclass(frozen=True)
class Sizes:
    rate: int = 20_000  # msg/s fed during the freshness phases
    partitions: int = 4
    workers: int = 2
    warmup_s: float = 5.0  # feeding before the first phase (assignment, first fetches)
    phase_s: float = 60.0  # each freshness phase
    heavy_clients: int = 2
    rows: int = 2_000_000  # the concurrency table
    level_s: float = 20.0  # each concurrency level
    clients: int = 16


QUICK = Sizes(rate=5_000, warmup_s=3.0, phase_s=4.0, rows=40_000, level_s=3.0)


def ask(http: httpx.Client, sql: str) -> Answer:
    """POST `sql`: the result rows, or the reason there are none (the first exception's Pinot errorCode,
    an HTTP status, or a transport error)."""
    try:
        response = http.post("/query/sql", json={"sql": sql})
    except httpx.HTTPError as exc:
        return None, type(exc).__name__
    if response.status_code != 200:
        return None, f"http {response.status_code}"
    answer = response.json()
    if answer.get("exceptions"):
        return None, str(answer["exceptions"][0]["errorCode"])
    return answer["resultTable"]["rows"], None


# 1. Freshness while heavy queries run

class MarkerProbe:
    """Publishes one marker row at a time and polls, on its own connection, until SQL sees it."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, url: str, table: str) -> None:
        self.topic, self.partitions, self.table = topic, partitions, table
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        self.http = httpx.Client(base_url=url, timeout=MARKER_GIVE_UP_S)
        self.sent = 0
        self.rng = random.Random(7)

    def run(self, seconds: float) -> dict[str, Any]:
        visible_ms: list[float] = []
        last_query_ms: list[float] = []
        errors: Counter[str] = Counter()
        missed = polls = 0
        started = time.monotonic()
        deadline = started + seconds
        while time.monotonic() < deadline:
            self.sent += 1
            student = MARKER_BASE + self.sent
            sql = f"SELECT COUNT(*) FROM {self.table} WHERE studentID = {student}"
            published = time.perf_counter()
            self.producer.produce(self.topic, message(self.sent, time.time_ns() // 1_000_000, student),
                                  partition=self.sent % self.partitions)
            self.producer.flush(10)
            while True:
                asked = time.perf_counter()
                rows, error = ask(self.http, sql)
                answered = time.perf_counter()
                polls += 1
                errors.update([error] if error else [])
                if rows and rows[0][0] >= 1:
                    visible_ms.append((answered - published) * 1000)
                    last_query_ms.append((answered - asked) * 1000)
                    break
                if answered - published > MARKER_GIVE_UP_S:
                    missed += 1
                    break
                time.sleep(POLL_PAUSE_S)
            time.sleep(self.rng.uniform(0, 0.1))  # no lockstep with the workers' poll loop
        return {"markers": len(visible_ms) + missed, "missed": missed, "visible_ms": spread(visible_ms),
                "probe_query_ms": spread(last_query_ms), "errors": dict(errors),
                "probe_polls_per_s": round(polls / (time.monotonic() - started), 1)}

    def close(self) -> None:
        self.http.close()


def rows_indexed(server: IngestdServer, table: str) -> int:
    return sum(p.get("rowsIndexed", 0) for p in server.get(f"/tables/{table}/status")["partitions"])


def topic_end(bootstrap: str, topic: str, partitions: int) -> int:
    """Messages published to `topic` so far (the sum of its partitions' end offsets)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "perf-query-load-watermarks"})
    try:
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                   for p in range(partitions))
    finally:
        consumer.close()


def phase(kafka: KafkaBroker, server: IngestdServer, probe: MarkerProbe, seconds: float) -> dict[str, Any]:
    """Markers' visibility over `seconds`, with the publish and ingestion rates over the same window."""

    def counters() -> tuple[float, int, int]:
        return (time.monotonic(), rows_indexed(server, probe.table),
                topic_end(kafka.bootstrap, probe.topic, probe.partitions))

    cpu = CpuWindow(kafka, server)
    started, indexed, published = counters()
    result = probe.run(seconds)
    ended, indexed_after, published_after = counters()
    return result | {"published_msg_per_s": round((published_after - published) / (ended - started)),
                     "ingest_rows_per_s": round((indexed_after - indexed) / (ended - started)),
                     "cpu_cores": cpu.cores()}


def loop_heavy(url: str, table: str, stop: threading.Event, outcomes: list[tuple[str, float]]) -> None:
    with httpx.Client(base_url=url, timeout=300) as http:
        while not stop.is_set():
            started = time.perf_counter()
            _, error = ask(http, HEAVY_SQL.format(table=table))
            outcomes.append((error or "ok", time.perf_counter() - started))


def freshness_under_load(kafka: KafkaBroker, sizes: Sizes) -> dict[str, Any]:
    topic, table = "query-load-fresh", "fresh"
    kafka.create_topic(topic, sizes.partitions)
    server, config = start_table(kafka, sizes.workers, topic, table, FRESH_SEGMENT_ROWS)
    stop_feed, stop_heavy = threading.Event(), threading.Event()
    feeder = threading.Thread(target=publish_at_rate, daemon=True, args=(
        kafka.bootstrap, topic, sizes.rate, 3600, sizes.partitions, stop_feed))
    outcomes: list[tuple[str, float]] = []
    heavy = [threading.Thread(target=loop_heavy, args=(server.url, table, stop_heavy, outcomes), daemon=True)
             for _ in range(sizes.heavy_clients)]
    probe = MarkerProbe(kafka.bootstrap, topic, sizes.partitions, server.url, table)
    try:
        assert server.post("/tables", config).status_code == 200
        feeder.start()
        time.sleep(sizes.warmup_s)
        idle = phase(kafka, server, probe, sizes.phase_s)
        for thread in heavy:
            thread.start()
        time.sleep(1.0)  # the heavy queries have reached the workers
        loaded = phase(kafka, server, probe, sizes.phase_s)
        stop_heavy.set()
        for thread in heavy:
            thread.join()
    finally:
        stop_feed.set()
        stop_heavy.set()
        if feeder.is_alive():
            feeder.join()
        probe.close()
        discard(server)
    loaded["heavy_queries"] = {"answers": dict(Counter(outcome for outcome, _ in outcomes)),
                               "seconds_p50": spread([seconds for _, seconds in outcomes])["p50"]}
    return {"idle": idle, "heavy": loaded}


# 2. Query latency under concurrency, every answer checked

Query = tuple[str, list[list[Any]]]  # the SQL and the rows it must answer


def count_of_student(rng: random.Random, rows: int) -> Query:
    student = rng.randrange(200, 1300)  # 1200..1299 match nothing
    j = student - 200
    count = rows // 1000 + (j < rows % 1000) if j < 1000 else 0
    return f"SELECT COUNT(*) FROM perf WHERE studentID = {student}", [[count]]


def subjects_above(rng: random.Random, rows: int) -> Query:
    step = rng.randrange(-1, 41)  # score = (sequence % 41) / 10 > step / 10 + 0.05  ⇔  sequence % 41 > step
    counts: Counter[str] = Counter()
    for residue in range(246):  # subject and score repeat every lcm(6, 41) = 246 rows
        if residue % 41 > step:
            counts[SUBJECTS[residue % 6]] += rows // 246 + (residue < rows % 246)
    return (f"SELECT subject, COUNT(*) FROM perf WHERE score > {step / 10 + 0.05:.2f} GROUP BY subject "
            "ORDER BY subject", [[s, n] for s, n in sorted(counts.items()) if n])


def latest_of_student(rng: random.Random, rows: int) -> Query:
    student, limit = rng.randrange(200, 1200), rng.randint(1, 10)
    j = student - 200
    sequences = range(j + (rows - 1 - j) // 1000 * 1000, -1, -1000)[:limit] if j < rows else range(0)
    return (f'SELECT studentID, firstName, subject, "timestamp" FROM perf WHERE studentID = {student} '
            f'ORDER BY "timestamp" DESC LIMIT {limit}',
            [[200 + i % 1000, NAMES[i % 5][0], SUBJECTS[i % 6], BASE_TIME_MS + i] for i in sequences])


SHAPES: list[Callable[[random.Random, int], Query]] = [count_of_student, subjects_above, latest_of_student]


def run_clients(url: str, clients: int, rows: int, seconds: float) -> dict[str, Any]:
    """`clients` threads, each with its own connection, send SHAPES in turn for `seconds`."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    wrong = 0
    lock = threading.Lock()
    window: list[float] = []  # [start, end], set as the clients are released
    start = threading.Barrier(clients + 1, action=lambda: window.extend(
        [time.monotonic(), time.monotonic() + seconds]))

    def client(index: int) -> None:
        nonlocal wrong
        rng = random.Random(index)
        with httpx.Client(base_url=url, timeout=120) as http:
            for shape in SHAPES:  # warm-up: the connection and each query shape once
                ask(http, shape(rng, rows)[0])
            start.wait()
            sent = 0
            while time.monotonic() < window[1]:
                sql, want = SHAPES[sent % len(SHAPES)](rng, rows)
                sent += 1
                asked = time.perf_counter()
                got, error = ask(http, sql)
                took_ms = (time.perf_counter() - asked) * 1000
                with lock:
                    if error:
                        errors[error] += 1
                    else:
                        latencies.append(took_ms)
                        wrong += got != want

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join()
    per_s = len(latencies) / (time.monotonic() - window[0])
    return {"clients": clients, "answers": len(latencies), "queries_per_s": round(per_s, 1),
            "latency_ms": spread(latencies), "errors": dict(errors), "wrong": wrong}


def concurrency(kafka: KafkaBroker, sizes: Sizes) -> dict[str, Any]:
    topic = "query-load-bulk"
    kafka.create_topic(topic, sizes.partitions)
    publish_fast(kafka.bootstrap, topic, sizes.rows, sizes.partitions)
    loaded = end_to_end(kafka, topic, sizes.rows, sizes.partitions, sizes.workers, keep=True)
    server = loaded.pop("server")
    levels = {}
    try:
        for n in (1, sizes.clients):
            cpu = CpuWindow(kafka, server)
            levels[f"clients_{n}"] = run_clients(server.url, n, sizes.rows, sizes.level_s) | {
                "cpu_cores": cpu.cores()}
    finally:
        discard(server)
    return {"rows": sizes.rows} | levels


# Runs and the report

def one_run(sizes: Sizes) -> dict[str, Any]:
    kafka = KafkaBroker.start()
    try:
        return {"freshness": freshness_under_load(kafka, sizes), "concurrency": concurrency(kafka, sizes)}
    finally:
        kafka.stop()


CPU_ROWS = [("CPU cores, measured", "cpu_cores.measured", 2),
            ("CPU cores, other procs", "cpu_cores.other_processes", 2)]  # other load on the machine
FRESHNESS_ROWS = [("visible p50, ms", "visible_ms.p50", 0), ("visible p99, ms", "visible_ms.p99", 0),
                  ("visible max, ms", "visible_ms.max", 0), ("markers", "markers", 0),
                  ("missed", "missed", 0), ("probe query p50, ms", "probe_query_ms.p50", 0),
                  ("ingested rows/s", "ingest_rows_per_s", 0), ("published msg/s", "published_msg_per_s", 0),
                  ("probe polls/s", "probe_polls_per_s", 0), *CPU_ROWS]
CONCURRENCY_ROWS = [("p50, ms", "latency_ms.p50", 0), ("p99, ms", "latency_ms.p99", 0),
                    ("max, ms", "latency_ms.max", 0), ("queries/s", "queries_per_s", 0),
                    ("wrong answers", "wrong", 0), *CPU_ROWS]


def print_report(result: dict[str, Any]) -> None:
    summary, sizes = result["summary"], result["sizes"]
    print(f"\n{len(result['runs'])} run(s); each figure is the median (min-max) over the runs")
    phases = {"freshness.idle.": "no other load",
              "freshness.heavy.": f"{sizes['heavy_clients']} heavy clients"}
    title = (f"marker rows visible through SQL, table fed at {sizes['rate']:,} msg/s ({sizes['partitions']} "
             f"partitions, {sizes['workers']} workers), {sizes['phase_s']:.0f} s a phase")
    print_table(summary, title, phases, FRESHNESS_ROWS)
    heavy = "freshness.heavy.heavy_queries."
    print(f"  heavy queries answered (ok or errorCode): {counts(summary, heavy + 'answers.')}; "
          f"each took {figure(summary, heavy + 'seconds_p50', 1)} s (p50)")
    levels = {f"concurrency.clients_{n}.": f"{n} client(s)" for n in (1, sizes["clients"])}
    print_table(summary, f"queries differing only in literals over {sizes['rows']:,} rows", levels,
                CONCURRENCY_ROWS)
    for prefix, label in (phases | levels).items():
        print(f"  errors by errorCode, {label}: {counts(summary, prefix + 'errors.')}")


def main() -> None:
    parser = argparse.ArgumentParser(description="ingestd freshness and query latency under query load")
    parser.add_argument("--runs", type=int, help="independent runs, each reported as their median "
                        "and spread (default 3, 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run: the sizes of QUICK")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the JSON result goes")
    args = parser.parse_args()
    sizes = QUICK if args.quick else Sizes()
    runs = [one_run(sizes) for _ in range(args.runs or (1 if args.quick else 3))]
    result = {"when": datetime.now(UTC).isoformat(), "host": socket.gethostname(), "cpus": psutil.cpu_count(),
              "python": platform.python_version(), "sizes": asdict(sizes), "heavy_sql": HEAVY_SQL,
              "runs": runs, "summary": summarize(runs)}
    path = write_result(result, f"query-load{'-quick' * args.quick}", args.output)
    print_report(result)
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
