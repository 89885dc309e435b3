"""Query speed over a loaded table: ingestd (2 workers, through HTTP) next to DuckDB directly over the very
same sealed Arrow segments, in one run, per query; and a time-range query with and without time pruning.

    python -m perf.query_speed [--messages 10000000] [--runs 3] [--repeats 30] [--quick]

Every row is sealed before measuring (the row threshold is the messages / 8, which Pinot's rule
divides among the 4 partitions: each partition seals 8 segments), so both sides read the same rows.
The unpruned variant writes the same time range as `"timestamp" + 0 BETWEEN ...`, which bounds nothing
the planner reads. Reports, per query, the median over runs of each run's p50 (with the runs' min-max)
and the ratio and difference of the medians; writes perf/results/<time>-query-speed.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import duckdb
import pyarrow as pa

from ingestd.config.table import LoadMode
from ingestd.devtools.local_broker import KafkaBroker
from ingestd.segment.loader import load_segment
from perf.measures import _timed, discard, sealed_rows, start_table, write_result
from perf.runs import figure
from perf.runs import summarize as across_runs
from perf.workload import publish_fast

RANGE = "1571900500000 AND 1571900900000"
QUERIES = {
    "count": "SELECT COUNT(*) FROM {t}",
    "group_by_subject": "SELECT subject, COUNT(*), AVG(score) FROM {t} GROUP BY subject ORDER BY subject",
    "filter_student": "SELECT COUNT(*), MAX(score) FROM {t} WHERE studentID = 205",
    "time_range_pruned": f'SELECT COUNT(*) FROM {{t}} WHERE "timestamp" BETWEEN {RANGE}',
    "time_range_unpruned": f'SELECT COUNT(*) FROM {{t}} WHERE "timestamp" + 0 BETWEEN {RANGE}',
}


def load(kafka: KafkaBroker, count: int, partitions: int) -> Any:
    topic = "perf-query-speed"
    kafka.create_topic(topic, partitions)
    publish_fast(kafka.bootstrap, topic, count, partitions)
    server, config = start_table(kafka, 2, topic, "perf", rows_threshold=max(1, count // 8))
    assert server.post("/tables", config).status_code == 200
    while sealed_rows(server) < count:
        time.sleep(0.05)
    assert server.count("perf") == count, "row count mismatch"
    return server


def one_run(server: Any, direct: duckdb.DuckDBPyConnection, repeats: int) -> dict[str, Any]:
    measured: dict[str, Any] = {}
    for name, template in QUERIES.items():
        sql = template.format(t="perf")
        answer = server.query(sql)
        assert not answer.get("exceptions"), answer["exceptions"]
        measured[name] = {
            "ingestd_p50_ms": _timed(lambda sql=sql: server.query(sql), repeats)["p50"],
            "duckdb_p50_ms": _timed(lambda sql=sql: direct.execute(sql).fetchall(), repeats)["p50"],
            "segments_processed": answer.get("numSegmentsProcessed"),
            "segments_queried": answer.get("numSegmentsQueried"),
        }
    return measured


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per query: ingestd's and DuckDB's p50 as `median (min-max)` over the runs, their ratio and
    difference (of the medians), and the segments read of those queried."""
    spread = across_runs(runs)
    summary: dict[str, Any] = {}
    for name in QUERIES:
        ours = statistics.median(run[name]["ingestd_p50_ms"] for run in runs)
        theirs = statistics.median(run[name]["duckdb_p50_ms"] for run in runs)
        summary[name] = {
            "ingestd_ms": figure(spread, f"{name}.ingestd_p50_ms", 1),
            "duckdb_direct_ms": figure(spread, f"{name}.duckdb_p50_ms", 1),
            "ratio": round(ours / max(theirs, 1e-6), 2), "difference_ms": round(ours - theirs, 2),
            "segments_read": f"{runs[-1][name]['segments_processed']}/{runs[-1][name]['segments_queried']}",
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=30, help="queries of each kind per run")
    parser.add_argument("--quick", action="store_true", help="200k messages, 1 run, 5 repeats")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.runs, args.repeats = 200_000, 1, 5
    kafka = KafkaBroker.start()
    try:
        server = load(kafka, args.messages, args.partitions)
        try:
            files = sorted(server.data_dir.rglob("*.arrow"))
            direct = duckdb.connect()
            direct.register("perf", pa.concat_tables([load_segment(f, LoadMode.MMAP) for f in files]))
            runs = [one_run(server, direct, args.repeats) for _ in range(args.runs)]
        finally:
            discard(server)
    finally:
        kafka.stop()
    summary = summarize(runs)
    result = {"messages": args.messages, "partitions": args.partitions, "runs": args.runs,
              "repeats": args.repeats, "summary": summary, "per_run": runs}
    path = write_result(result, "query-speed")
    print(f"{'query':<20} {'ingestd p50 ms':>22} {'DuckDB direct p50 ms':>22} {'ratio':>6} {'diff':>7}  read")
    for name, row in summary.items():
        print(f"{name:<20} {row['ingestd_ms']:>22} {row['duckdb_direct_ms']:>22} {row['ratio']:>6} "
              f"{row['difference_ms']:>7}  {row['segments_read']}")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
