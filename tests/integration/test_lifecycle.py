"""Table and process lifecycle: delete and re-create a table, a worker killed with -9 is restarted,
and the CLI uploads configs and prints query results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import EXAMPLES, seed_configs, student_record
from ingestd.devtools.server_process import IngestdServer
from tests.support.tables import create_table


def test_deleted_then_recreated_table_starts_from_nothing(
    kafka: KafkaBroker, server: IngestdServer, unique_name: str
) -> None:
    create_table(server, kafka, unique_name, 2, **{
        "realtime.segment.flush.threshold.rows": "100",
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
    })
    kafka.publish(unique_name, (student_record(i) for i in range(500)), partitions=2)
    wait_until(lambda: server.count(unique_name) == 500, what="500 rows")
    table_dir = server.data_dir / "tables" / unique_name
    assert any(table_dir.rglob("*.arrow"))

    response = httpx.delete(f"{server.url}/tables/{unique_name}", timeout=30)
    assert response.status_code == 200
    assert unique_name not in server.get("/tables")["tables"]
    assert not any(table_dir.rglob("*.arrow")) and not any(table_dir.rglob("ledger.bin"))
    assert server.query(f"SELECT COUNT(*) FROM {unique_name}")["exceptions"][0]["errorCode"] == 190

    _, table = seed_configs(unique_name, **{
        "stream.kafka.topic.name": unique_name, "stream.kafka.broker.list": kafka.bootstrap,
        "realtime.segment.flush.threshold.rows": "100",
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
    assert server.post("/tables", table).status_code == 200
    wait_until(lambda: server.count(unique_name) == 500, what="500 rows again, not 1000")
    server.restart()
    wait_until(lambda: server.count(unique_name) == 500, what="500 rows after restart")


def test_a_worker_killed_with_sigkill_is_restarted_and_resumes_from_its_ledger(
    kafka: KafkaBroker, server: IngestdServer, unique_name: str
) -> None:
    create_table(server, kafka, unique_name, 2, **{
        "realtime.segment.flush.threshold.rows": "250",
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
    })
    kafka.publish(unique_name, (student_record(i) for i in range(1_000)), partitions=2)
    wait_until(lambda: server.count(unique_name) == 1_000, what="1,000 rows")
    workers = wait_until(lambda: server.get(f"/tables/{unique_name}/status")["workers"], what="worker pids")
    victim = next(iter(workers.values()))["pid"]
    os.kill(victim, signal.SIGKILL)

    def restarted() -> bool:
        now = server.get(f"/tables/{unique_name}/status")["workers"]
        return any(w["restarts"] >= 1 and w["pid"] != victim for w in now.values())

    wait_until(restarted, timeout_s=30, what="the worker to be restarted")
    kafka.publish(unique_name, (student_record(i) for i in range(1_000, 1_300)), partitions=2)
    wait_until(lambda: server.count(unique_name) == 1_300, timeout_s=30, what="1,300 rows")
    answer = server.query(f"SELECT COUNT(DISTINCT firstName) FROM {unique_name}")
    assert answer["resultTable"]["rows"] == [[1_300]]


def test_cli_add_table_then_query_prints_a_table(kafka: KafkaBroker, server: IngestdServer, tmp_path) -> None:
    kafka.create_topic("cli-topic", 1)
    table = (EXAMPLES / "transcript-table-realtime.json").read_text()
    table = table.replace("localhost:9876", kafka.bootstrap).replace("transcript-topic", "cli-topic")
    (tmp_path / "table.json").write_text(table)
    ingestd = [sys.executable, "-m", "ingestd"]
    added = subprocess.run([*ingestd, "add-table", "--schema-file", str(EXAMPLES / "transcript-schema.json"),
                            "--table-config-file", str(tmp_path / "table.json"), "--url", server.url],
                           capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    assert "Table transcript_REALTIME successfully added" in added.stdout
    kafka.publish("cli-topic", [student_record(1, student=42, subject="Physics")])
    wait_until(lambda: server.count("transcript") == 1, what="1 row")
    sql = "SELECT studentID, subject FROM transcript"
    shown = subprocess.run([*ingestd, "query", sql, "--url", server.url],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["studentID", "|", "subject"]
    assert lines[2].split() == ["42", "|", "Physics"]

    failed = subprocess.run([*ingestd, "query", "SELECT nosuch FROM transcript", "--url", server.url],
                            capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1 and "error 710" in failed.stderr


def test_query_errors_carry_pinot_error_codes(server: IngestdServer) -> None:
    schema, _ = seed_configs("errors")
    assert server.post("/schemas", schema).status_code == 200
    assert server.query("SELECT COUNT(*) FROM nosuchtable")["exceptions"][0]["errorCode"] == 190
    assert server.query("SELEKT 1")["exceptions"][0]["errorCode"] == 150
    assert server.query("DELETE FROM nosuchtable")["exceptions"][0]["errorCode"] == 150
    assert "resultTable" not in server.query("SELECT COUNT(*) FROM nosuchtable")
