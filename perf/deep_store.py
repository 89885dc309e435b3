"""The deep store's cost and pace: ingestion with `[deep_store]` off and on (moto's S3 in this process), the
commit rate and the latency from a segment's seal to its commit, over the same backlog in one run.

    python -m perf.deep_store [--runs 3] [--messages 1000000]

Each run starts its own broker and publishes `--messages` seed rows over a 4-partition topic, then, one
after the other (which goes first alternates), a 2-worker server without a deep store and one with it
ingest the backlog with `smallest` and 50,000 rows per segment. Reported per mode: rows/s from `POST
/tables` until `COUNT(*)` reaches the backlog; with the deep store also: the time until the Delta table
holds every sealed row, the commit rate (segments/s and rows/s from the first commit to the last), and the
seal → commit latency of the segments (each partition's `lastCommitLatencyMs`, sampled every 0.1 s: p50 and
max). moto is a Python server sharing the machine's two cores with the broker and ingestd: against a real
S3 the upload costs differ. Across runs: the median with the runs' min-max. Writes
perf/results/<time>-deep-store.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from moto.server import ThreadedMotoServer

from ingestd.devtools.local_broker import KafkaBroker, free_port
from ingestd.devtools.seed import seed_configs
from ingestd.devtools.server_process import IngestdServer
from perf.measures import write_result
from perf.runs import figure, summarize
from perf.workload import publish_fast

PARTITIONS = 4
SEGMENT_ROWS = 50_000
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "perf", "AWS_SECRET_ACCESS_KEY": "perf", "AWS_REGION": "us-east-1"}


def lake_rows(uri: str, options: dict[str, str]) -> int:
    try:
        actions = pa.table(DeltaTable(uri, storage_options=options).get_add_actions(flatten=True))
        return int(pc.sum(actions.column("num_records")).as_py() or 0)
    except Exception:  # no table yet
        return 0


def one_mode(kafka: KafkaBroker, topic: str, messages: int, endpoint: str | None, run: int) -> dict[str, Any]:
    toml = {} if endpoint is None else {"deep_store": {
        "uri": f"s3://perf/run{run}", "endpoint": endpoint, "region": "us-east-1", "allow_http": True}}
    server = IngestdServer(Path(tempfile.mkdtemp(prefix="ingestd-perf-deep-")), workers=2, toml=toml)
    server.start()
    name = "perf"
    try:
        schema, table = seed_configs(name, **{
            "stream.kafka.topic.name": topic, "stream.kafka.broker.list": kafka.bootstrap,
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
            "realtime.segment.flush.threshold.rows": str(SEGMENT_ROWS * PARTITIONS)})
        assert server.post("/schemas", schema).status_code == 200
        started = time.perf_counter()
        assert server.post("/tables", table).status_code == 200
        seen: dict[int, int] = {}  # partition → committed segments last seen
        latencies: list[float] = []
        commits: list[float] = []
        sealed_rows = (messages // SEGMENT_ROWS) * SEGMENT_ROWS
        ingested_at = None
        options = {"AWS_ENDPOINT_URL": endpoint or "", "AWS_ALLOW_HTTP": "true", **CREDENTIALS}
        while True:
            now = time.perf_counter()
            if now - started > 900:
                raise RuntimeError("not done within 900 s")
            if ingested_at is None and server.count(name) >= messages:
                ingested_at = now
            if endpoint is not None:
                for entry in server.get(f"/tables/{name}/status")["partitions"]:
                    store = entry.get("deepStore") or {}
                    committed = store.get("committedSegments") or 0
                    if committed > seen.get(entry["partition"], 0):
                        seen[entry["partition"]] = committed
                        latencies.append(store["lastCommitLatencyMs"])  # the newest of them, sampled
                        commits.append(now)
            done_committing = endpoint is None or lake_rows(f"s3://perf/run{run}/{name}",
                                                            options) >= sealed_rows
            if ingested_at is not None and done_committing:
                break
            time.sleep(0.1)
        result: dict[str, Any] = {"rows_per_s": messages / (ingested_at - started)}
        if endpoint is not None:
            values = sorted(latencies)
            span = max(commits) - min(commits) if len(commits) > 1 else 0.0
            result |= {"all_sealed_rows_in_delta_s": time.perf_counter() - started,
                       "commit_latency_p50_ms": statistics.median(values) if values else None,
                       "commit_latency_max_ms": max(values) if values else None,
                       "segments_per_s": (len(commits) - 1) / span if span else None,
                       "committed_rows_per_s": (len(commits) - 1) * SEGMENT_ROWS / span if span else None}
        return result
    finally:
        server.stop()


def one_run(run: int, messages: int) -> dict[str, Any]:
    kafka = KafkaBroker.start()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port())
    s3.start()
    try:
        host, port = s3.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="perf")
        topic = "perf-deep-store"
        kafka.create_topic(topic, PARTITIONS)
        publish_fast(kafka.bootstrap, topic, messages, PARTITIONS)
        order = [("off", None), ("on", endpoint)]
        if run % 2:
            order.reverse()
        return {mode: one_mode(kafka, topic, messages, where, run) for mode, where in order}
    finally:
        s3.stop()
        kafka.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)  # the servers (child processes) read credentials from the environment
    runs = [one_run(run, args.messages) for run in range(args.runs)]
    summary = summarize(runs)
    print(f"ingest rows/s, deep store off: {figure(summary, 'off.rows_per_s')}; "
          f"on: {figure(summary, 'on.rows_per_s')}")
    print(f"all sealed rows in Delta after {figure(summary, 'on.all_sealed_rows_in_delta_s', 1)} s; "
          f"commits {figure(summary, 'on.segments_per_s', 1)} segments/s = "
          f"{figure(summary, 'on.committed_rows_per_s')} rows/s")
    print(f"seal → commit latency p50 {figure(summary, 'on.commit_latency_p50_ms')} ms, "
          f"max {figure(summary, 'on.commit_latency_max_ms')} ms (median of {args.runs} runs, min-max)")
    path = write_result({"runs": runs, "summary": summary, "messages": args.messages}, "deep-store")
    print(f"result: {path}")


if __name__ == "__main__":
    main()
