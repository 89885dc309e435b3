"""Worker memory in MMAP vs HEAP load mode as sealed data grows (issue: segments per Pinot).

    python -m perf.memory [--gigabytes 2] [--quick]

Publishes ~1 KB messages until the topic holds the asked-for volume, then, for each load mode, ingests it
with one worker and samples that worker's RSS (psutil) against the bytes of sealed segments. MMAP maps
sealed files (their pages belong to the page cache, not the worker), so its RSS should stay flat; HEAP
reads them into the worker, so its RSS should grow with them. Writes perf/results/<date>-memory.json.
"""

from __future__ import annotations

import argparse
import random
import string
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psutil

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.seed import seed_configs
from ingestd.devtools.server_process import IngestdServer
from ingestd.ingest.recovery import live_segments
from ingestd.ledger import read_ledger
from perf.measures import discard, write_result
from perf.workload import publish_values

PAYLOAD_BYTES = 1_000


def publish(kafka: KafkaBroker, topic: str, count: int, partitions: int) -> None:
    rng = random.Random(1)
    pool = ["".join(rng.choices(string.ascii_letters, k=PAYLOAD_BYTES)) for _ in range(64)]
    values = (orjson.dumps({"studentID": i % 1000, "firstName": pool[i % 64], "subject": "Maths",
                            "score": 1.0, "timestamp": 1_700_000_000_000 + i}) for i in range(count))
    publish_values(kafka.bootstrap, topic, values, partitions)


def sealed(data_dir: Path) -> tuple[int, int]:
    """Bytes and rows of the live sealed segments under `data_dir`."""
    ledgers = data_dir.rglob("ledger.bin")
    records = [r for ledger in ledgers for r in live_segments(read_ledger(ledger).records)]
    return sum(r.size_bytes for r in records), sum(r.rows for r in records)


def measure(kafka: KafkaBroker, topic: str, count: int, mode: str, rows_per_segment: int) -> dict[str, Any]:
    server = IngestdServer(Path(tempfile.mkdtemp(prefix=f"ingestd-mem-{mode.lower()}-")), workers=1)
    server.start()
    schema, table = seed_configs("mem", **{
        "stream.kafka.topic.name": topic, "stream.kafka.broker.list": kafka.bootstrap,
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
        "realtime.segment.flush.threshold.rows": str(rows_per_segment)})
    table["tableIndexConfig"] |= {"loadMode": mode, "noDictionaryColumns": ["firstName"]}  # the 1 KB payload
    assert server.post("/schemas", schema).status_code == 200
    assert server.post("/tables", table).status_code == 200
    pid = None
    while pid is None:
        workers = server.get("/tables/mem/status")["workers"]
        pid = next((w["pid"] for w in workers.values()), None)
        time.sleep(0.1)
    worker = psutil.Process(pid)
    samples = []
    target = count // rows_per_segment * rows_per_segment
    while True:
        size, rows = sealed(server.data_dir)
        rss = worker.memory_info().rss
        samples.append({"sealed_mb": round(size / 2**20, 1), "rss_mb": round(rss / 2**20, 1)})
        if rows >= target:
            break
        time.sleep(0.5)
    rows = server.count("mem")
    discard(server)
    return {"mode": mode, "rows": rows, "final_sealed_mb": samples[-1]["sealed_mb"],
            "final_rss_mb": samples[-1]["rss_mb"], "peak_rss_mb": max(s["rss_mb"] for s in samples),
            "samples": samples[:: max(1, len(samples) // 20)]}


def main() -> None:
    parser = argparse.ArgumentParser(description="MMAP vs HEAP worker memory")
    parser.add_argument("--gigabytes", type=float, default=2.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    volume = 0.05 if args.quick else args.gigabytes
    count = int(volume * 2**30 / (PAYLOAD_BYTES + 80))
    rows_per_segment = max(1_000, count // 20)
    kafka = KafkaBroker.start()
    try:
        kafka.create_topic("mem", 2)
        publish(kafka, "mem", count, 2)
        results = [measure(kafka, "mem", count, mode, rows_per_segment) for mode in ("MMAP", "HEAP")]
    finally:
        kafka.stop()
    report = {"when": datetime.now(UTC).isoformat(), "messages": count, "rows_per_segment": rows_per_segment,
              "results": results}
    path = write_result(report, f"memory{'-quick' * args.quick}")
    for r in results:
        print(f"{r['mode']:<5} sealed {r['final_sealed_mb']:>8} MB   worker RSS {r['final_rss_mb']:>8} MB "
              f"(peak {r['peak_rss_mb']} MB), {r['rows']:,} rows")
        trace = ", ".join(f"{s['sealed_mb']}→{s['rss_mb']}" for s in r["samples"])
        print(f"      sealed MB → RSS MB: {trace}")
    print(f"written {path}")


if __name__ == "__main__":
    main()
