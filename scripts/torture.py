"""Crash torture: publish M uniquely numbered messages at a steady rate while kill -9'ing a random worker
or the whole server K times at random moments (restarting the server each time), then check through SQL
that exactly M rows arrived, each sequence number once, with matching payload checksums.

    python scripts/torture.py --messages 50000 --kills 5 [--partitions 4] [--rate 1000] [--seed 1]

Prints the figures and exits 1 on any loss or duplicate.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from confluent_kafka import Producer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.server_process import IngestdServer

TABLE = "torture"
SCHEMA = {
    "schemaName": TABLE,
    "dimensionFieldSpecs": [{"name": "seq", "dataType": "LONG"}, {"name": "payload", "dataType": "STRING"}],
    "metricFieldSpecs": [{"name": "amount", "dataType": "DOUBLE"}],
    "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH",
                            "granularity": "1:MILLISECONDS"}],
}


def amount(seq: int) -> float:
    return float(seq * 31 % 1009)  # integral, so sums are exact in a double


def payload(seq: int) -> str:
    return f"p{seq}-{seq * 7919 % 1_000_003}"


def table_config(bootstrap: str, topic: str) -> dict[str, Any]:
    return {
        "tableName": TABLE, "tableType": "REALTIME",
        "segmentsConfig": {"timeColumnName": "ts", "schemaName": TABLE},
        "tableIndexConfig": {"loadMode": "MMAP", "streamConfigs": {
            "streamType": "kafka", "stream.kafka.topic.name": topic, "stream.kafka.broker.list": bootstrap,
            "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.inputformat.json.JSONMessageDecoder",
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
            "realtime.segment.flush.threshold.rows": "2000",
            "realtime.segment.flush.threshold.time": "3s",
        }},
    }


@dataclass
class Report:
    messages: int
    kills_planned: int
    worker_kills: int = 0
    server_kills: int = 0
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        f = self.figures
        return bool(f) and f["rows"] == f["distinct_seq"] == self.messages and f["checksums_match"]


def publish(bootstrap: str, topic: str, messages: int, rate: float, partitions: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    started = time.monotonic()
    for seq in range(messages):
        while seq > (time.monotonic() - started) * rate:
            producer.poll(0.002)
        value = orjson.dumps({"seq": seq, "payload": payload(seq), "amount": amount(seq),
                              "ts": 1_600_000_000_000 + seq})
        while True:
            try:
                producer.produce(topic, key=str(seq).encode(), value=value, partition=seq % partitions)
                break
            except BufferError:  # the broker is behind (it shares the CPUs): wait for deliveries
                producer.poll(0.05)
    if producer.flush(60) != 0:
        raise RuntimeError("the producer could not deliver every message")


def kill_one(server: IngestdServer, rng: random.Random, report: Report) -> None:
    """kill -9 a random worker (the coordinator restarts it) or the whole server (restarted here)."""
    if rng.random() < 0.5:
        workers = _workers(server)
        if workers:
            try:
                os.kill(rng.choice(workers), signal.SIGKILL)
            except ProcessLookupError:  # the status is up to a second old: that worker just died anyway
                pass
            else:
                report.worker_kills += 1
                return
    server.kill9()
    server.start()
    report.server_kills += 1


def _workers(server: IngestdServer) -> list[int]:
    """Worker pids, waiting up to 3 s for them to report after a restart (0 pids if they do not)."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            pids = [w["pid"] for w in server.get(f"/tables/{TABLE}/status")["workers"].values()]
        except httpx.HTTPError:
            pids = []
        if pids:
            return pids
        time.sleep(0.1)
    return []


def check(server: IngestdServer, messages: int) -> dict[str, Any]:
    answer = server.query(f"SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq), SUM(amount), "
                          f"SUM(LENGTH(payload)), COUNT(DISTINCT payload) FROM {TABLE}")
    rows, distinct, low, high, total, length, payloads = answer["resultTable"]["rows"][0]
    expected_total = sum(amount(s) for s in range(messages))
    expected_length = sum(len(payload(s)) for s in range(messages))
    duplicates = server.query(f"SELECT seq, COUNT(*) AS n FROM {TABLE} GROUP BY seq HAVING COUNT(*) > 1 "
                              "ORDER BY seq LIMIT 10")["resultTable"]["rows"]
    return {
        "rows": rows, "distinct_seq": distinct, "min_seq": low, "max_seq": high,
        "duplicates": rows - distinct, "missing": messages - distinct, "duplicate_examples": duplicates,
        "checksums_match": total == expected_total and length == expected_length and payloads == messages,
        "amount_sum": total, "expected_amount_sum": expected_total,
    }


def _count(server: IngestdServer) -> int:
    try:
        return server.count(TABLE)
    except (httpx.HTTPError, AssertionError, KeyError):
        return 0


def torture(messages: int, kills: int, partitions: int, rate: float, seed: int, workers: int) -> Report:
    rng = random.Random(seed)
    report = Report(messages, kills)
    kafka = KafkaBroker.start()
    server = IngestdServer(Path(tempfile.mkdtemp(prefix="ingestd-torture-")), workers=workers)
    try:
        topic = "torture-topic"
        kafka.create_topic(topic, partitions)
        server.start()
        assert server.post("/schemas", SCHEMA).status_code == 200
        assert server.post("/tables", table_config(kafka.bootstrap, topic)).status_code == 200
        publisher = threading.Thread(target=publish,
                                     args=(kafka.bootstrap, topic, messages, rate, partitions))
        started = time.monotonic()
        publisher.start()
        for moment in sorted(rng.uniform(0.05, 0.95) * messages / rate for _ in range(kills)):
            time.sleep(max(0.0, moment - (time.monotonic() - started)))
            kill_one(server, rng, report)
        publisher.join()
        wait_until(lambda: _count(server) >= messages, timeout_s=120, interval_s=0.5,
                   what=f"{messages} rows")
        time.sleep(2)  # a settle period: anything consumed twice would show up as extra rows now
        report.figures = check(server, messages)
    finally:
        server.stop()
        kafka.stop()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description="ingestd crash torture test")
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=1_000.0, help="messages per second")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report = torture(args.messages, args.kills, args.partitions, args.rate, args.seed, args.workers)
    f = report.figures
    print(f"kills survived: {report.worker_kills} worker, {report.server_kills} whole server "
          f"(of {report.kills_planned} planned)")
    print(f"rows expected {report.messages:,}, found {f.get('rows', 0):,}; distinct sequence numbers "
          f"{f.get('distinct_seq', 0):,}; duplicates {f.get('duplicates')}; missing {f.get('missing')}")
    print(f"checksums match: {f.get('checksums_match')}; duplicate examples: {f.get('duplicate_examples')}")
    print("PASS" if report.ok else "FAIL")
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
