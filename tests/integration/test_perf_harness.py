"""The perf harnesses' --quick modes run end to end and write their results. They assert nothing about
speed: timings are measured in perf/, never asserted in tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_perf_quick_completes_and_writes_a_result(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "perf", "--quick", "--output", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [result_file] = list(tmp_path.glob("*-quick.json"))
    result = json.loads(result_file.read_text())
    assert result["messages"] == 40_000
    for key in ("raw_consume_msg_per_s", "raw_consume_per_partition_1_process_msg_per_s",
                "raw_consume_per_partition_2_processes_msg_per_s", "ingest_1_worker", "ingest_2_workers",
                "ingest_2_workers_heap", "query_latency", "freshness", "avro_variant"):
        assert key in result, key
    assert result["ingest_2_workers"]["msg_per_s"] > 0
    assert result["freshness"][0]["visible"] == result["freshness"][0]["messages"]
    assert "raw consume, 1 consumer (baseline)" in done.stdout


def test_query_load_quick_completes_and_writes_a_result(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "perf.query_load", "--quick", "--output", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [result_file] = list(tmp_path.glob("*-query-load-quick.json"))
    result = json.loads(result_file.read_text())
    [run] = result["runs"]
    for phase in ("idle", "heavy"):
        assert run["freshness"][phase]["markers"] > 0, run["freshness"]
        assert run["freshness"][phase]["ingest_rows_per_s"] > 0, run["freshness"]
    assert run["freshness"]["heavy"]["heavy_queries"]["answers"], run["freshness"]
    for level in ("clients_1", "clients_16"):
        assert run["concurrency"][level]["answers"] > 0, run["concurrency"]
        assert run["concurrency"][level]["wrong"] == 0, run["concurrency"]  # correctness, not speed
    assert "concurrency.clients_16.latency_ms.p50" in result["summary"]
    assert "wrong answers" in done.stdout
