"""Rows/s one server ingests in consumer-group mode (highLevel) vs lowLevel, over the same backlog.

    python -m perf.group_mode [--runs 3] [--messages 1000000]

Each run starts its own broker and one 2-worker server, and publishes `--messages` seed rows over a
4-partition topic. Then, one after the other on that topic (which goes first alternates between runs), a
lowLevel table and a highLevel table (its own group) are created with `smallest` and 250,000 rows per
segment (so both seal and, in group mode, commit while they catch up); the clock starts before
`POST /tables` and stops when `COUNT(*)` reaches the backlog (polled every 0.2 s). Reported: rows/s from the
POST, and rows/s from the first queryable row (in group mode the time to join the group comes before it,
and is reported too). Across runs: the median with the runs' min-max. Writes
perf/results/<time>-group-mode.json.
"""

from __future__ import annotations

import argparse
import shutil
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
SEGMENT_ROWS = 250_000


def ingest(kafka: KafkaBroker, server: IngestdServer, topic: str, name: str, messages: int,
           group: bool) -> dict[str, float]:
    extra = {"stream.kafka.consumer.type": "highLevel", "stream.kafka.hlc.group.id": f"perf-{name}",
             "stream.kafka.consumer.prop.session.timeout.ms": "6000"} if group else {}
    schema, table = seed_configs(name, **{
        "stream.kafka.topic.name": topic, "stream.kafka.broker.list": kafka.bootstrap,
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
        "realtime.segment.flush.threshold.rows": str(SEGMENT_ROWS * PARTITIONS), **extra})
    assert server.post("/schemas", schema).status_code == 200
    started = time.perf_counter()
    response = server.post("/tables", table)
    assert response.status_code == 200, response.text
    first = None
    while (count := server.count(name)) < messages:
        if first is None and count > 0:
            first = time.perf_counter()
        if time.perf_counter() - started > 600:
            raise RuntimeError(f"{name}: {count} of {messages} rows after 600 s")
        time.sleep(0.2)
    done = time.perf_counter()
    first = first if first is not None else done
    response = server.http.delete(f"{server.url}/tables/{name}")
    assert response.status_code == 200, response.text
    return {"rows_per_s": messages / (done - started), "rows_per_s_after_first_row": messages / max(
        done - first, 1e-3), "first_row_s": first - started}


def one_run(run: int, messages: int) -> dict[str, Any]:
    kafka = KafkaBroker.start()
    workdir = Path(tempfile.mkdtemp(prefix="ingestd-perf-group-"))
    server = IngestdServer(workdir, workers=2)
    topic = f"group_mode_{run}"
    try:
        kafka.create_topic(topic, PARTITIONS)
        kafka.publish(topic, (student_record(i) for i in range(messages)), partitions=PARTITIONS)
        server.start()
        order = [False, True] if run % 2 == 0 else [True, False]  # neither mode always goes first
        return {"highLevel" if group else "lowLevel": ingest(
            kafka, server, topic, f"{'high' if group else 'low'}_{run}", messages, group) for group in order}
    finally:
        server.stop()
        kafka.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args()
    runs = [one_run(run, args.messages) for run in range(args.runs)]
    summary = summarize(runs)
    for mode in ("lowLevel", "highLevel"):
        print(f"{mode:>9}: {figure(summary, f'{mode}.rows_per_s')} rows/s from POST /tables, "
              f"{figure(summary, f'{mode}.rows_per_s_after_first_row')} rows/s after the first row "
              f"(first row after {figure(summary, f'{mode}.first_row_s', 1)} s); median of {args.runs} runs")
    path = write_result({"runs": runs, "summary": summary, "messages": args.messages}, "group-mode")
    print(f"result: {path}")


if __name__ == "__main__":
    main()
