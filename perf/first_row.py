"""Time from `POST /tables` to the table's first queryable row, on a running 2-worker server.

    python -m perf.first_row [--runs 3] [--tables 5]

Each run starts its own broker and server; per run, `--tables` tables are created one after the other, each
on its own 4-partition topic already holding one message per partition (auto.offset.reset smallest). The
clock starts just before `POST /tables` and stops at the first `COUNT(*)` > 0 (polled every 10 ms over one
HTTP connection); the POST's own duration (the stream check and assignment) is reported too. Per run: the
median over its tables; across runs: the median with the runs' min-max. Writes
perf/results/<time>-first-row.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.devtools.server_process import IngestdServer
from perf.measures import write_result
from perf.runs import figure, summarize

PARTITIONS = 4


def one_table(kafka: KafkaBroker, server: IngestdServer, name: str) -> dict[str, float]:
    kafka.create_topic(name, PARTITIONS)
    kafka.publish(name, (student_record(i) for i in range(PARTITIONS)), partitions=PARTITIONS)
    schema, table = seed_configs(name, **{
        "stream.kafka.topic.name": name, "stream.kafka.broker.list": kafka.bootstrap,
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
    assert server.post("/schemas", schema).status_code == 200
    started = time.perf_counter()
    response = server.post("/tables", table)
    posted = time.perf_counter()
    assert response.status_code == 200, response.text
    while server.count(name) == 0:
        if time.perf_counter() - started > 60:
            raise RuntimeError(f"{name}: no row within 60 s")
        time.sleep(0.01)
    return {"post_ms": (posted - started) * 1000, "first_row_ms": (time.perf_counter() - started) * 1000}


def one_run(run: int, tables: int) -> dict[str, Any]:
    kafka = KafkaBroker.start()
    server = IngestdServer(Path(tempfile.mkdtemp(prefix="ingestd-perf-first-row-")), workers=2)
    try:
        server.start()
        samples = [one_table(kafka, server, f"first_row_{run}_{i}") for i in range(tables)]
    finally:
        server.stop()
        kafka.stop()
    return {key: statistics.median(s[key] for s in samples) for key in ("post_ms", "first_row_ms")} | {
        "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tables", type=int, default=5)
    args = parser.parse_args()
    runs = [one_run(run, args.tables) for run in range(args.runs)]
    summary = summarize([{k: v for k, v in run.items() if k != "samples"} for run in runs])
    print(f"POST /tables → first queryable row: {figure(summary, 'first_row_ms')} ms "
          f"(the POST itself: {figure(summary, 'post_ms')} ms); median of {args.runs} runs (min-max)")
    path = write_result({"runs": runs, "summary": summary, "tables_per_run": args.tables}, "first-row")
    print(f"result: {path}")


if __name__ == "__main__":
    main()
