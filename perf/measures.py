"""Each perf measurement as one function over a running broker; all figures come from the same run."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import psutil
import pyarrow as pa
from confluent_kafka import Consumer, TopicPartition

from ingestd.config.table import LoadMode
from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.seed import seed_configs
from ingestd.devtools.server_process import IngestdServer
from ingestd.ledger import read_ledger
from ingestd.segment.loader import load_segment
from ingestd.stream.kafka import CONSUMER_DEFAULTS
from perf.workload import publish_at_rate

RESULTS = Path(__file__).resolve().parent / "results"
QUERIES = {
    "count": "SELECT COUNT(*) FROM {t}",
    "group_by_subject": "SELECT subject, COUNT(*), AVG(score) FROM {t} GROUP BY subject ORDER BY subject",
    "filter_student": "SELECT COUNT(*), MAX(score) FROM {t} WHERE studentID = 205",
    "time_range": 'SELECT COUNT(*) FROM {t} WHERE "timestamp" BETWEEN 1571900500000 AND 1571900900000',
}


def raw_consume(bootstrap: str, topic: str, partitions: int, count: int,
                decode: Callable[[list[bytes]], object] | None = None) -> float:
    """The Python ceiling: one confluent-kafka consumer (with ingestd's client settings, so the comparison
    is fair), consume(10000) + value(), all partitions, and
    `decode` applied to each batch's values when given. The clock starts once the first batch is in, so
    connection set-up does not count against the ceiling (nor do the first batch's messages)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"perf-raw-{topic}",
                         "enable.auto.commit": False, **CONSUMER_DEFAULTS})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    first = []
    while not first:
        first = consumer.consume(10_000, 1.0)
    seen = len(first)
    started = time.perf_counter()
    while seen < count:
        values = [m.value() for m in consumer.consume(10_000, 1.0)]
        if decode is not None and values:
            decode(values)
        seen += len(values)
    elapsed = time.perf_counter() - started
    consumer.close()
    return max(count - len(first), 1) / max(elapsed, 1e-9)


def raw_consume_layout(bootstrap: str, topic: str, partitions: int, count: int, processes: int) -> float:
    """The ceiling for ingestd's own client layout: `processes` spawned processes, each with one
    assign()ed consumer per partition it owns (partition i goes to process i mod processes), polled in
    turn with consume(10000) + value(). The clock runs from the first message any process sees until
    the last process has all of its messages."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    owned = [[p for p in range(partitions) if p % processes == i] for i in range(processes)]
    per_partition = count // partitions
    children = [context.Process(target=_consume_partitions,
                                args=(bootstrap, topic, parts, per_partition * len(parts), results))
                for parts in owned if parts]
    for child in children:
        child.start()
    spans = [results.get(timeout=600) for _ in children]
    for child in children:
        child.join()
    return per_partition * partitions / (max(end for _, end in spans) - min(start for start, _ in spans))


def _consume_partitions(bootstrap: str, topic: str, parts: list[int], count: int,
                        results: multiprocessing.Queue) -> None:
    consumers = []
    for partition in parts:
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "perf-layout",
                             "enable.auto.commit": False, **CONSUMER_DEFAULTS})
        consumer.assign([TopicPartition(topic, partition, 0)])
        consumers.append(consumer)
    seen, started = 0, 0.0
    while seen < count:
        for consumer in consumers:
            values = [m.value() for m in consumer.consume(10_000, 0.05)]
            if values and not started:
                started = time.time()
            seen += len(values)
    results.put((started, time.time()))
    for consumer in consumers:
        consumer.close()


def start_table(kafka: KafkaBroker, workers: int, topic: str, table: str, rows_threshold: int,
                load_mode: str = "MMAP", stream: dict[str, str] | None = None) -> IngestdServer:
    """A server with the seed schema uploaded and the table config to post; `stream`: more stream
    config keys (another decoder and its properties, say)."""
    server = IngestdServer(Path(tempfile.mkdtemp(prefix="ingestd-perf-")), workers=workers)
    server.start()
    schema, config = seed_configs(table, **{
        "stream.kafka.topic.name": topic, "stream.kafka.broker.list": kafka.bootstrap,
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
        "realtime.segment.flush.threshold.rows": str(rows_threshold),
    } | (stream or {}))
    config["tableIndexConfig"]["loadMode"] = load_mode
    assert server.post("/schemas", schema).status_code == 200
    return server, config  # type: ignore[return-value]


def sealed_rows(server: IngestdServer) -> int:
    return sum(r.rows for ledger in server.data_dir.rglob("ledger.bin") for r in read_ledger(ledger).records)


def end_to_end(kafka: KafkaBroker, topic: str, count: int, partitions: int, workers: int,
               load_mode: str = "MMAP", keep: bool = False, stream: dict[str, str] | None = None
               ) -> dict[str, Any]:
    """From table creation until COUNT(*) == count and every row sits in a sealed segment."""
    threshold = max(1, count // partitions // 2)
    server, config = start_table(kafka, workers, topic, "perf", threshold, load_mode, stream)
    processes = _cpu_accounts(kafka, server)
    cpu_before = {name: _cpu_seconds(process) for name, process in processes.items()}
    started = time.perf_counter()
    assert server.post("/tables", config).status_code == 200
    while sealed_rows(server) < count:
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    finished_at = time.time()
    cores_used = {name: round((_cpu_seconds(process) - cpu_before[name]) / elapsed, 2)
                  for name, process in processes.items()}
    consuming_from = first_partition_started(server.log, "perf")
    assert server.count("perf") == count, "row count mismatch"
    time.sleep(1.2)  # one status period, so the RSS figures are current
    workers_status = server.get("/tables/perf/status")["workers"]
    consuming = finished_at - consuming_from if consuming_from else None
    result = {"workers": workers, "load_mode": load_mode, "seconds": round(elapsed, 3),
              "msg_per_s": round(count / elapsed), "cores_used": cores_used,
              "seconds_from_first_partition": round(consuming, 3) if consuming else None,
              "msg_per_s_from_first_partition": round(count / consuming) if consuming else None,
              "worker_rss_mb": {w: round(s["rssBytes"] / 2**20, 1) for w, s in workers_status.items()}}
    if keep:
        result["server"] = server
    else:
        discard(server)
    return result


def first_partition_started(log: Path, table: str) -> float | None:
    """When the first of the table's partitions started consuming (its "resuming at" log line), as a
    Unix time: the table's set-up (HTTP, assignment, worker start) is over by then, as the raw baselines
    leave their connection set-up out of their clock."""
    stamps = []
    for line in log.read_text(errors="replace").splitlines():
        if f" {table}[" in line and ": resuming at " in line:
            try:
                stamps.append(datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp())
            except ValueError:
                continue
    return min(stamps) if stamps else None


def _cpu_accounts(kafka: KafkaBroker, server: IngestdServer) -> dict[str, psutil.Process]:
    """The processes whose CPU time an ingest run spends: broker, coordinator, each worker."""
    assert server.process is not None
    coordinator = psutil.Process(server.process.pid)
    workers = {f"worker_pid_{child.pid}": child for child in coordinator.children()
               if "resource_tracker" not in " ".join(child.cmdline())}
    return {"broker": psutil.Process(kafka.process.pid), "coordinator": coordinator} | workers


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class CpuWindow:
    """CPU cores used from its creation until `cores()`: by the measurement's own processes (broker,
    coordinator, workers, this process) and by everything else on the machine, the load that makes a
    run less comparable with another."""

    def __init__(self, kafka: KafkaBroker, server: IngestdServer) -> None:
        self.processes = [*_cpu_accounts(kafka, server).values(), psutil.Process()]
        self.start = self._now()

    def _now(self) -> tuple[float, float, float]:
        machine = psutil.cpu_times()
        busy = sum(getattr(machine, field, 0.0) for field in ("user", "nice", "system", "irq", "softirq"))
        return time.monotonic(), sum(_cpu_seconds(p) for p in self.processes), busy

    def cores(self) -> dict[str, float]:
        (t0, ours0, busy0), (t1, ours1, busy1) = self.start, self._now()
        return {"measured": round((ours1 - ours0) / (t1 - t0), 2),
                "other_processes": round(max(0.0, (busy1 - busy0) - (ours1 - ours0)) / (t1 - t0), 2)}


def discard(server: IngestdServer) -> None:
    """Stop a perf server and delete its work directory (a full run seals gigabytes)."""
    server.stop()
    shutil.rmtree(server.workdir, ignore_errors=True)


def query_latency(server: IngestdServer, repeats: int) -> dict[str, Any]:
    """p50/p99 of each query through the HTTP API, next to DuckDB over the same Arrow data directly."""
    files = sorted(server.data_dir.rglob("*.arrow"))
    data = pa.concat_tables([load_segment(f, LoadMode.MMAP) for f in files])
    direct = duckdb.connect()
    direct.register("perf", data)
    results: dict[str, Any] = {"rows": data.num_rows}
    for name, template in QUERIES.items():
        sql = template.format(t="perf")
        via_api = _timed(lambda sql=sql: server.query(sql), repeats)
        via_duckdb = _timed(lambda sql=sql: direct.execute(sql).fetchall(), repeats)
        results[name] = {"ingestd_ms": via_api, "duckdb_direct_ms": via_duckdb,
                         "ratio_p50": round(via_api["p50"] / max(via_duckdb["p50"], 1e-6), 2)}
    return results


def freshness(kafka: KafkaBroker, topic: str, rate: int, seconds: float, partitions: int,
              workers: int) -> dict[str, Any]:
    """Publish at a steady rate with the publish time in each message; poll COUNT(*) meanwhile.
    Message i counts as visible at the first poll whose count exceeds i (partitions are consumed in
    parallel, so this is an estimate of per-message visibility, good to a poll interval)."""
    server, config = start_table(kafka, workers, topic, "fresh", 5_000_000)
    assert server.post("/tables", config).status_code == 200
    time.sleep(1.5)  # assignment done before the clock starts
    polls: list[tuple[int, int]] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            count = server.count("fresh")
            polls.append((time.time_ns() // 1_000_000, count))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    published = publish_at_rate(kafka.bootstrap, topic, rate, seconds, partitions)
    deadline = time.monotonic() + 30
    while (not polls or polls[-1][1] < len(published)) and time.monotonic() < deadline:
        time.sleep(0.05)
    done.set()
    poller.join()
    discard(server)
    lags = []
    poll_index = 0
    for sequence, sent_ms in enumerate(published):
        while poll_index < len(polls) and polls[poll_index][1] <= sequence:
            poll_index += 1
        if poll_index == len(polls):
            break
        lags.append(polls[poll_index][0] - sent_ms)
    return {"rate": rate, "messages": len(published), "visible": len(lags),
            "p50_ms": percentile(lags, 50), "p99_ms": percentile(lags, 99),
            "polls": len(polls)}


def _timed(call: Any, repeats: int) -> dict[str, float | None]:
    call()  # warm-up
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return spread(samples)


def write_result(result: dict[str, Any], label: str, output: Path = RESULTS) -> Path:
    """Write a measurement's result as `<output>/<UTC date and time>-<label>.json`; returns the path."""
    path = output / f"{datetime.now(UTC):%Y-%m-%dT%H%M%S}-{label}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    return path


def spread(samples: list[float]) -> dict[str, float | None]:
    """p50, p99 and max of `samples` (None each when there are none)."""
    if not samples:
        return {"p50": None, "p99": None, "max": None}
    return {"p50": round(statistics.median(samples), 2), "p99": round(percentile(samples, 99), 2),
            "max": round(max(samples), 2)}


def percentile(values: list[float] | list[int], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))])
