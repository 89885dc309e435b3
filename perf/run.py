"""The throughput, freshness, query-latency and memory harness. Every figure is compared, in the same run,
with a baseline: the raw consume rate of the same topic, or DuckDB over the same Arrow data.

    python -m perf [--messages N] [--partitions P] [--avro-messages N] [--quick]

Prints a table and writes perf/results/<date>-<host>.json. It asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import platform
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from ingestd.devtools.local_broker import KafkaBroker
from perf.avro_variant import consume_rates, publish_avro
from perf.measures import (
    RESULTS,
    discard,
    end_to_end,
    freshness,
    query_latency,
    raw_consume,
    raw_consume_layout,
    write_result,
)
from perf.workload import publish_fast


def main() -> None:
    parser = argparse.ArgumentParser(description="ingestd perf harness")
    parser.add_argument("--messages", type=int, default=10_000_000,
                        help="JSON messages; also the row count the queries run over")
    parser.add_argument("--avro-messages", type=int, default=2_000_000, help="messages of the Avro variant")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rates", default="50000,100000", help="freshness publish rates, msg/s")
    parser.add_argument("--fresh-seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=20, help="runs of each query")
    parser.add_argument("--quick", action="store_true", help="a small run for CI: checks it completes")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the JSON result goes")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.avro_messages, args.partitions, args.rates = 40_000, 10_000, 2, "5000"
        args.fresh_seconds, args.repeats = 1.0, 3
    result = run(args)
    path = write_result(result, f"{socket.gethostname()}{'-quick' * args.quick}", args.output)
    print_report(result)
    print(f"\nwritten {path}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    kafka = KafkaBroker.start()
    try:
        topic, count, partitions = "perf-bulk", args.messages, args.partitions
        kafka.create_topic(topic, partitions)
        publish_rate = publish_fast(kafka.bootstrap, topic, count, partitions)
        raw = raw_consume(kafka.bootstrap, topic, partitions, count)
        layout_1 = raw_consume_layout(kafka.bootstrap, topic, partitions, count, processes=1)
        layout_2 = raw_consume_layout(kafka.bootstrap, topic, partitions, count, processes=2)
        one = end_to_end(kafka, topic, count, partitions, workers=1)
        two = end_to_end(kafka, topic, count, partitions, workers=2, keep=True)
        server = two.pop("server")
        queries = query_latency(server, args.repeats)
        discard(server)
        heap = end_to_end(kafka, topic, count, partitions, workers=2, load_mode="HEAP")
        fresh = []
        for rate in (int(r) for r in args.rates.split(",")):
            fresh_topic = f"perf-fresh-{rate}"
            kafka.create_topic(fresh_topic, partitions)
            fresh.append(freshness(kafka, fresh_topic, rate, args.fresh_seconds, partitions, workers=2))
        kafka.create_topic("perf-avro", partitions)
        avro = {"publish_msg_per_s": round(publish_avro(kafka.bootstrap, "perf-avro", args.avro_messages,
                                                        partitions))}
        avro |= consume_rates(kafka.bootstrap, "perf-avro", partitions, args.avro_messages)
    finally:
        kafka.stop()
    return {
        "when": datetime.now(UTC).isoformat(), "host": socket.gethostname(), "cpus": psutil.cpu_count(),
        "python": platform.python_version(), "messages": count, "partitions": partitions,
        "publish_msg_per_s": round(publish_rate), "raw_consume_msg_per_s": round(raw),
        "raw_consume_per_partition_1_process_msg_per_s": round(layout_1),
        "raw_consume_per_partition_2_processes_msg_per_s": round(layout_2),
        "raw_2_processes_to_1": round(layout_2 / layout_1, 3),
        "ingest_1_worker": one | {"ratio_to_raw": round(one["msg_per_s"] / raw, 3),
                                  "ratio_to_layout_raw": round(one["msg_per_s"] / layout_1, 3)},
        "ingest_2_workers": two | {"ratio_to_raw": round(two["msg_per_s"] / raw, 3),
                                   "ratio_to_layout_raw": round(two["msg_per_s"] / layout_2, 3),
                                   "ratio_to_1_worker": round(two["msg_per_s"] / one["msg_per_s"], 3)},
        "ingest_2_workers_heap": heap,
        "query_latency": queries, "freshness": fresh, "avro_variant": avro, "unix_time": time.time(),
    }


def print_report(r: dict[str, Any]) -> None:
    print(f"\n{r['messages']:,} messages, {r['partitions']} partitions, {r['cpus']} cpus")
    print(f"{'publish':<34}{r['publish_msg_per_s']:>12,} msg/s")
    print(f"{'raw consume, 1 consumer (baseline)':<34}{r['raw_consume_msg_per_s']:>12,} msg/s   1.00")
    print(f"{'raw, consumer per partition, 1 proc':<34}"
          f"{r['raw_consume_per_partition_1_process_msg_per_s']:>12,} msg/s")
    print(f"{'raw, consumer per partition, 2 proc':<34}"
          f"{r['raw_consume_per_partition_2_processes_msg_per_s']:>12,} msg/s   "
          f"x{r['raw_2_processes_to_1']:.2f} of 1 proc")
    for key, label in (("ingest_1_worker", "ingestd 1 worker, end to end"),
                       ("ingest_2_workers", "ingestd 2 workers, end to end")):
        entry = r[key]
        print(f"{label:<34}{entry['msg_per_s']:>12,} msg/s   {entry['ratio_to_raw']:.2f} of raw, "
              f"{entry['ratio_to_layout_raw']:.2f} of raw in the same layout")
    print(f"{'2 workers / 1 worker':<34}{r['ingest_2_workers']['ratio_to_1_worker']:>12.2f}")
    for key in ("ingest_1_worker", "ingest_2_workers", "ingest_2_workers_heap"):
        entry = r[key]
        label = f"RSS {entry['workers']}w {entry['load_mode']} (MB per worker)"
        print(f"{label:<34}{entry['worker_rss_mb']}")
    q = r["query_latency"]
    print(f"\nqueries over {q['rows']:,} rows: ingestd p50/p99 ms vs DuckDB direct p50/p99 ms (ratio p50)")
    for name, entry in q.items():
        if name != "rows":
            a, d = entry["ingestd_ms"], entry["duckdb_direct_ms"]
            print(f"  {name:<20}{a['p50']:>8} /{a['p99']:>8}   {d['p50']:>8} /{d['p99']:>8}   "
                  f"{entry['ratio_p50']}")
    for entry in r["freshness"]:
        print(f"freshness at {entry['rate']:,} msg/s: p50 {entry['p50_ms']} ms, p99 {entry['p99_ms']} ms "
              f"({entry['visible']:,}/{entry['messages']:,} seen)")
    avro = r["avro_variant"]
    print(f"\navro variant, {avro['messages']:,} messages (no ingestd Avro decoder yet: its ceiling)")
    print(f"{'  raw consume':<34}{avro['raw_consume_msg_per_s']:>12,} msg/s   1.00")
    print(f"{'  consume + fastavro + Arrow':<34}{avro['consume_fastavro_arrow_msg_per_s']:>12,} msg/s   "
          f"{avro['ratio_to_raw']:.2f} of raw")


if __name__ == "__main__":
    main()
