"""Two servers against one on the same topic, in consumer-group mode with the deep store on (moto's S3):
how long until the Delta table holds every row of a backlog.

    python -m perf.deep_store_servers [--runs 3] [--messages 1000000]

Each run starts a broker and moto's S3, publishes `--messages` seed rows over 4 partitions, then (the order
alternates between runs) one server with 2 workers, and two servers with 1 worker each, consume the backlog
as one highLevel group each (`smallest`, 50,000-row segments) with the same Delta table location per
setup. The clock starts before the first `POST /tables` and stops when the Delta table holds every sealed
row; the group join (a few seconds on Tansu) is inside it and reported apart (until both servers, or the
one, consume). Both setups share this machine's two cores with the broker and moto: the comparison says
what a second process buys here, not what a second machine would. Writes
perf/results/<time>-deep-store-servers.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from ingestd.devtools.local_broker import KafkaBroker, free_port
from ingestd.devtools.seed import seed_configs
from ingestd.devtools.server_process import IngestdServer
from perf.deep_store import CREDENTIALS, PARTITIONS, SEGMENT_ROWS, lake_rows
from perf.measures import write_result
from perf.runs import figure, summarize
from perf.workload import publish_fast


def setup(kafka: KafkaBroker, endpoint: str, topic: str, messages: int, servers: int, run: int
          ) -> dict[str, Any]:
    prefix = f"s3://perf/run{run}-{servers}"
    toml = {"deep_store": {"uri": prefix, "endpoint": endpoint, "region": "us-east-1", "allow_http": True}}
    started_servers = []
    for _ in range(servers):
        server = IngestdServer(Path(tempfile.mkdtemp(prefix="ingestd-perf-servers-")), workers=2 // servers,
                               toml=toml)
        server.start()
        started_servers.append(server)
    name = "perf"
    options = {"AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true", **CREDENTIALS}
    try:
        schema, table = seed_configs(name, **{
            "stream.kafka.topic.name": topic, "stream.kafka.broker.list": kafka.bootstrap,
            "stream.kafka.consumer.type": "highLevel", "stream.kafka.hlc.group.id": f"perf-{run}-{servers}",
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
            "stream.kafka.consumer.prop.session.timeout.ms": "6000",
            "realtime.segment.flush.threshold.rows": str(SEGMENT_ROWS * PARTITIONS // servers)})
        started = time.perf_counter()
        for server in started_servers:
            assert server.post("/schemas", schema).status_code == 200
            assert server.post("/tables", table).status_code == 200
        joined = None
        sealed_rows = (messages // SEGMENT_ROWS) * SEGMENT_ROWS
        while lake_rows(f"{prefix}/{name}", options) < sealed_rows:
            if time.perf_counter() - started > 900:
                raise RuntimeError("not in the Delta table within 900 s")
            if joined is None and all(server.get(f"/tables/{name}/status")["partitions"]
                                      for server in started_servers):
                joined = time.perf_counter() - started
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        return {"seconds_to_delta": elapsed, "join_s": joined or elapsed,
                "rows_per_s_after_join": sealed_rows / max(1e-3, elapsed - (joined or 0))}
    finally:
        for server in started_servers:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    runs = []
    for run in range(args.runs):
        kafka = KafkaBroker.start()
        s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port())
        s3.start()
        try:
            host, port = s3.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="perf")
            kafka.create_topic("perf-servers", PARTITIONS)
            publish_fast(kafka.bootstrap, "perf-servers", args.messages, PARTITIONS)
            order = [1, 2] if run % 2 == 0 else [2, 1]
            runs.append({f"servers_{n}": setup(kafka, endpoint, "perf-servers", args.messages, n, run)
                         for n in order})
        finally:
            s3.stop()
            kafka.stop()
    summary = summarize(runs)
    for n in (1, 2):
        to_delta = figure(summary, f"servers_{n}.seconds_to_delta", 1)
        print(f"{n} server(s): every row in Delta after {to_delta} s "
              f"(group join {figure(summary, f'servers_{n}.join_s', 1)} s; "
              f"{figure(summary, f'servers_{n}.rows_per_s_after_join')} rows/s after it)")
    print(f"result: {write_result({'runs': runs, 'summary': summary}, 'deep-store-servers')}")


if __name__ == "__main__":
    main()
