"""Profile one ingestd worker while it ingests a backlog, with py-spy, and print where its time goes.

    python -m perf.profile_worker [--messages 4000000] [--seconds 8]

Publishes the perf workload, starts a one-worker server, creates the table, then samples the worker
process with `py-spy record --native` (the C frames of librdkafka, pyarrow and DuckDB are shown too) and
prints the top functions by inclusive share of samples. py-spy must be installed (`pip install py-spy`);
the collapsed stacks are kept in perf/results/<date>-profile.txt for a flame graph.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.server_process import IngestdServer
from perf.measures import discard, start_table
from perf.workload import publish_fast

RESULTS = Path(__file__).resolve().parent / "results"
REPO = f"{Path(__file__).resolve().parents[1]}/"
PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


def main() -> None:
    parser = argparse.ArgumentParser(description="profile an ingestd worker with py-spy")
    parser.add_argument("--messages", type=int, default=4_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    kafka = KafkaBroker.start()
    try:
        kafka.create_topic("perf-profile", args.partitions)
        publish_fast(kafka.bootstrap, "perf-profile", args.messages, args.partitions)
        server, config = start_table(kafka, 1, "perf-profile", "perf", args.messages // args.partitions // 2)
        stacks = RESULTS / f"{datetime.now(UTC):%Y-%m-%dT%H%M%S}-profile.txt"
        try:
            assert server.post("/tables", config).status_code == 200
            pid = _worker_pid(server)
            subprocess.run([PY_SPY, "record", "--pid", str(pid), "--duration", str(args.seconds),
                            "--native", "--format", "raw", "--output", str(stacks)],
                           check=True, capture_output=True)
        finally:
            discard(server)
    finally:
        kafka.stop()
    print_top(stacks, args.top)
    print(f"\ncollapsed stacks: {stacks}")


def _worker_pid(server: IngestdServer) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = server.get("/tables/perf/status")
        workers, partitions = status.get("workers", {}), status.get("partitions", [])
        if workers and any(p.get("state") == "CONSUMING" for p in partitions):
            return int(next(iter(workers.values()))["pid"])
        time.sleep(0.1)
    raise TimeoutError("the worker did not start consuming")


def print_top(stacks_file: Path, top: int) -> None:
    """Inclusive share per function (a function counted once per sample however deep it recurses)."""
    inclusive: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    total = 0
    for line in stacks_file.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        leaf[frames[-1]] += count
    print(f"{total} samples\n\n{'inclusive':>9} {'self':>6}  function")
    for frame, count in inclusive.most_common(top):
        print(f"{100 * count / total:8.1f}% {100 * leaf[frame] / total:5.1f}%  {frame}")


def _short(frame: str) -> str:
    """`fetch (ingestd/stream/kafka.py:63)` → `fetch (ingestd/stream/kafka.py)`: merge lines of a function."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", REPO, f"lib/python{sys.version_info.major}.{sys.version_info.minor}/"):
        path = path.split(marker)[-1]
    return f"{name} ({path})" if path else name


if __name__ == "__main__":
    main()
