"""Kinesis: rows/s ingested from a moto Kinesis stream against the raw GetRecords rate of the same stream.

    python -m perf.kinesis [--records N] [--shards S] [--runs R] [--rps LIMIT] [--quick]

Each run starts moto's server (in this process, made to behave like AWS: tests/support/moto_server.py,
with 56-digit sequence numbers), creates a stream of S shards and puts N seed-shaped JSON records. Then:
  * raw GetRecords: a spawned process reads every shard from TRIM_HORIZON, `get_records(Limit=10000)`
    in turn over the shards until all N are read (boto3 parses and base64-decodes: the consumer's own
    cost), its clock from the first request;
  * ingestd: a server with one worker ingests the stream (JSON decoder, `requests_per_second_limit`
    LIMIT per shard: by default high enough not to pace the reads, so the path is what is measured;
    Pinot's default of 1 request/s would cap a shard at 10,000 records/s), from `POST /tables` until
    every row is in a sealed segment, and from the first shard's start (its "resuming at" log line).
Before the bulk table, on the same server: the time from `POST /tables` to the first queryable row of a
table whose stream already holds a few records (Pinot's default of 1 GetRecords a second per shard),
COUNT(*) polled every 10 ms. moto serves every request from this process, so both rates are bounded by
moto itself; they compare ingestd's path with a bare client on the same server, no target. The median
of R runs with the spread (min-max). Writes perf/results/<time>-kinesis.json.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

from ingestd.devtools.seed import student_record
from ingestd.devtools.server_process import IngestdServer
from perf.measures import RESULTS, discard, first_partition_started, sealed_rows, write_result
from perf.runs import figure, summarize
from tests.support.kinesis_tables import create_stream, kinesis_seed_configs, put_records
from tests.support.moto_server import REGION, moto_kinesis


def raw_get_records(endpoint: str, stream: str, shards: list[str], count: int) -> float:
    """Records/s of plain GetRecords over every shard in turn (run in a spawned process)."""
    import boto3

    client = boto3.client("kinesis", region_name=REGION, endpoint_url=endpoint,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    iterators = {shard: client.get_shard_iterator(StreamName=stream, ShardId=shard,
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                 for shard in shards}
    seen, started = 0, time.perf_counter()
    while seen < count:
        for shard, iterator in iterators.items():
            answer = client.get_records(ShardIterator=iterator, Limit=10_000)
            seen += sum(len(record["Data"]) > 0 for record in answer["Records"])
            iterators[shard] = answer["NextShardIterator"]
    return count / (time.perf_counter() - started)


def _raw_in_process(endpoint: str, stream: str, shards: list[str], count: int) -> float:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return float(pool.apply(raw_get_records, (endpoint, stream, shards, count)))


def first_row_ms(client: Any, server: IngestdServer, endpoint: str, shards: int) -> float:
    """POST /tables → the first queryable row, on a stream already holding a few records (Pinot's default
    request rate of 1 GetRecords a second per shard), COUNT(*) polled every 10 ms."""
    stream = f"perf-first-{time.time_ns()}"
    create_stream(client, stream, shards)
    put_records(client, stream, [student_record(i) for i in range(4 * shards)])
    schema, table = kinesis_seed_configs("perffirst", endpoint, **{
        "stream.kinesis.topic.name": stream, "requests_per_second_limit": "1.0"})
    assert server.post("/schemas", schema).status_code == 200
    started = time.perf_counter()
    assert server.post("/tables", table).status_code == 200
    while server.count("perffirst") == 0:
        if time.perf_counter() - started > 60:
            raise RuntimeError("no row within 60 s")
        time.sleep(0.01)
    elapsed = (time.perf_counter() - started) * 1000
    client.delete_stream(StreamName=stream)
    return round(elapsed, 1)


def ingest(client: Any, endpoint: str, stream: str, count: int, shards: int, rps: float) -> dict[str, Any]:
    server = IngestdServer(Path(tempfile.mkdtemp(prefix="ingestd-perf-kinesis-")), workers=1)
    server.start()
    try:
        first = first_row_ms(client, server, endpoint, shards)
        schema, table = kinesis_seed_configs("perf", endpoint, **{
            "stream.kinesis.topic.name": stream, "requests_per_second_limit": str(rps),
            "realtime.segment.flush.threshold.segment.rows": str(max(1, count // shards // 2))})
        assert server.post("/schemas", schema).status_code == 200
        started = time.perf_counter()
        assert server.post("/tables", table).status_code == 200
        while server.count("perf") < count:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        finished_at = time.time()
        # shards hold uneven shares, so the last segments are sealed on demand (outside the clock)
        assert server.http.post(server.url + "/tables/perf/forceCommit").status_code == 200
        deadline = time.monotonic() + 60
        while sealed_rows(server) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sealed_rows(server) == server.count("perf") == count, "row count mismatch"
        started_at = first_partition_started(server.log, "perf")
        consuming = finished_at - started_at if started_at else None
        return {"first_row_ms": first, "rows_per_s_from_create": round(count / elapsed),
                "rows_per_s_from_first_shard": round(count / consuming) if consuming else None,
                "seconds_from_create": round(elapsed, 2)}
    finally:
        discard(server)


def one_run(count: int, shards: int, rps: float) -> dict[str, Any]:
    with moto_kinesis() as moto:
        client = moto.kinesis()
        stream = f"perf-kinesis-{time.time_ns()}"  # moto's state outlives its server in this process
        create_stream(client, stream, shards)
        started = time.perf_counter()
        put_records(client, stream, [student_record(i, student=i % 1000) for i in range(count)])
        put_rate = count / (time.perf_counter() - started)
        shard_ids = [s["ShardId"] for s in client.list_shards(StreamName=stream)["Shards"]]
        raw = _raw_in_process(moto.endpoint, stream, shard_ids, count)
        result = ingest(client, moto.endpoint, stream, count, shards, rps)
        client.delete_stream(StreamName=stream)
    steady = result["rows_per_s_from_first_shard"] or result["rows_per_s_from_create"]
    return {"put_records_per_s": round(put_rate), "raw_get_records_per_s": round(raw), **result,
            "ratio_to_raw": round(steady / raw, 3),
            "ratio_from_create_to_raw": round(result["rows_per_s_from_create"] / raw, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description="Kinesis ingestion against raw GetRecords (moto)")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rps", type=float, default=1000.0, help="requests_per_second_limit per shard")
    parser.add_argument("--quick", action="store_true", help="a small run: checks it completes")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.records, args.runs = 5_000, 1
    runs = []
    for number in range(args.runs):
        print(f"run {number + 1}/{args.runs}: {args.records:,} records over {args.shards} shards", flush=True)
        runs.append(one_run(args.records, args.shards, args.rps))
    summary = summarize(runs)
    print(f"\nmedian (min-max) of {len(runs)} run(s), one worker, {args.records:,} records, "
          f"{args.shards} shards, "
          f"requests_per_second_limit {args.rps:g}")
    for label, path, digits in (("PutRecords records/s", "put_records_per_s", 0),
                                ("raw GetRecords records/s", "raw_get_records_per_s", 0),
                                ("ingest rows/s (from first shard)", "rows_per_s_from_first_shard", 0),
                                ("ingest rows/s (from POST /tables)", "rows_per_s_from_create", 0),
                                ("ratio to raw", "ratio_to_raw", 2),
                                ("ratio from creation to raw", "ratio_from_create_to_raw", 2),
                                ("POST /tables -> first row, ms", "first_row_ms", 0)):
        print(f"  {label:<36}{figure(summary, path, digits):>30}")
    path = write_result({"runs": runs, "summary": summary, "records": args.records, "shards": args.shards,
                         "requests_per_second_limit": args.rps, "unix_time": time.time()},
                        "kinesis" + "-quick" * args.quick, args.output)
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
