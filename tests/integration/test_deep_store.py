"""Sealed segments land exactly once in a Delta Lake table on moto's S3 server, read back with `deltalake`
(not with ingestd): through a kill -9 mid-ingestion and a restart, and while the store is unreachable
(segments stay pending, visible in the status, and are committed once it is back)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
from deltalake import DeltaTable
from moto.server import ThreadedMotoServer

from ingestd.devtools.local_broker import KafkaBroker, free_port
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import student_record
from ingestd.devtools.server_process import IngestdServer
from tests.support.group_tables import add_group_table, consumed, stop_all
from tests.support.tables import create_table

BUCKET = "lake"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}


class S3:
    """moto's S3 on a fixed port, so it can be stopped and started again (its data lives in this process)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def options(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ALLOW_HTTP": "true", **CREDENTIALS}


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)  # the server reads its credentials from the environment
    store = S3()
    store.start()
    boto3.client("s3", endpoint_url=store.endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    yield store
    store.stop()


def lake_server(tmp_path: Path, s3: S3, prefix: str) -> IngestdServer:
    store = {"uri": f"s3://{BUCKET}/{prefix}", "endpoint": s3.endpoint, "region": "us-east-1",
             "allow_http": True}
    server = IngestdServer(tmp_path, workers=2, toml={"deep_store": store})
    server.start()
    return server


def lake_students(s3: S3, prefix: str, table: str) -> list[int]:
    try:
        rows = DeltaTable(f"s3://{BUCKET}/{prefix}/{table}", storage_options=s3.options).to_pyarrow_table()
    except Exception:  # not created yet
        return []
    return sorted(rows.column("studentID").to_pylist())


def partition_reports(server: IngestdServer, table: str) -> list[dict[str, Any]]:
    return list(server.get(f"/tables/{table}/status")["partitions"])


def test_every_sealed_row_lands_once_through_a_kill_and_restart(
    kafka: KafkaBroker, tmp_path: Path, s3: S3, unique_name: str
) -> None:
    server = lake_server(tmp_path, s3, "kill")
    try:
        create_table(server, kafka, unique_name, 4, **{
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
            "realtime.segment.flush.threshold.rows": "200"})
        kafka.publish(unique_name, (student_record(i, student=i) for i in range(0, 1000)), partitions=4)
        wait_until(lambda: len(lake_students(s3, "kill", unique_name)) >= 400, timeout_s=90,
                   what="segments in the Delta table")
        server.kill9()  # mid-ingestion: some sealed, some committed, some neither
        kafka.publish(unique_name, (student_record(i, student=i) for i in range(1000, 2000)), partitions=4)
        server.start()
        wait_until(lambda: len(lake_students(s3, "kill", unique_name)) >= 2000, timeout_s=120,
                   what="every row in the Delta table")
        time.sleep(2.0)  # a duplicate commit would land now
        assert lake_students(s3, "kill", unique_name) == list(range(2000))
        reports = partition_reports(server, unique_name)
        assert all(r["deepStore"]["pendingSegments"] == 0 and r["deepStore"]["lastError"] is None
                   for r in reports), reports
        # ingestd answers from the Delta table plus the rows it does not hold: the same rows, once
        assert server.count(unique_name) == 2000
        kafka.publish(unique_name, (student_record(i, student=i) for i in range(2000, 2010)), partitions=4)
        wait_until(lambda: server.count(unique_name) == 2010, timeout_s=30, what="fresh rows on top")
        sql = (f"SELECT subject, COUNT(*), SUM(studentID), MIN(score) FROM {unique_name} "
               "WHERE studentID < 2000 GROUP BY subject ORDER BY subject")
        direct = duckdb.connect()
        direct.register("lake", DeltaTable(f"s3://{BUCKET}/kill/{unique_name}",
                                           storage_options=s3.options).to_pyarrow_dataset())
        expected = direct.execute(sql.replace(unique_name, "lake")).fetchall()
        assert [tuple(row) for row in server.query(sql)["resultTable"]["rows"]] == [
            (subject, count, float(total), low) for subject, count, total, low in expected]
    finally:
        server.stop()


def test_an_unreachable_store_holds_segments_pending_then_commits_them(
    kafka: KafkaBroker, tmp_path: Path, s3: S3, unique_name: str
) -> None:
    server = lake_server(tmp_path, s3, "outage")
    try:
        create_table(server, kafka, unique_name, 2, **{
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
            "realtime.segment.flush.threshold.rows": "50"})
        kafka.publish(unique_name, (student_record(i, student=i) for i in range(100)), partitions=2)
        wait_until(lambda: len(lake_students(s3, "outage", unique_name)) == 100, timeout_s=90,
                   what="the first rows in the Delta table")
        s3.stop()
        kafka.publish(unique_name, (student_record(i, student=i) for i in range(100, 300)), partitions=2)

        def pending() -> bool:
            reports = partition_reports(server, unique_name)
            return any(r.get("deepStore", {}).get("pendingSegments") and r["deepStore"]["lastError"]
                       for r in reports)

        wait_until(pending, timeout_s=60, what="pending segments and the store's error in the status")
        metrics = server.http.get(f"{server.url}/metrics").text
        assert any(line.startswith("ingestd_deep_store_pending_segments{") and not line.endswith(" 0.0")
                   for line in metrics.splitlines()), "pending segments in /metrics"
        assert server.count(unique_name) == 300  # queries go on from local segments meanwhile
        time.sleep(30)  # unreachable for 30 s, as the issue asks
        s3.start()
        wait_until(lambda: len(lake_students(s3, "outage", unique_name)) >= 300, timeout_s=120,
                   what="the pending segments committed once the store is back")
        time.sleep(2.0)
        assert lake_students(s3, "outage", unique_name) == list(range(300))
        wait_until(lambda: not pending(), timeout_s=30, what="no pending segments")
    finally:
        server.stop()


def test_two_servers_in_group_mode_commit_every_row_once_also_through_a_kill(
    kafka: KafkaBroker, tmp_path: Path, s3: S3, unique_name: str
) -> None:
    """Both servers share a 4-partition topic through the group protocol and one Delta table; one is
    killed -9 while rows arrive, the other takes its partitions over from where the Delta log stops."""
    table = unique_name
    kafka.create_topic(table, 4)
    servers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        servers.append(lake_server(tmp_path / name, s3, "group"))
    first, second = servers
    try:
        for server in servers:
            add_group_table(server, kafka, table, rows=400)
        wait_until(lambda: consumed(first, table) and consumed(second, table)
                   and len(consumed(first, table) | consumed(second, table)) == 4, timeout_s=60,
                   what="the group to split the partitions between both servers")
        kafka.publish(table, (student_record(i, student=i) for i in range(2000)), partitions=4)
        wait_until(lambda: len(lake_students(s3, "group", table)) >= 1200, timeout_s=60,
                   what="sealed segments of both servers in the Delta table")
        first.kill9()
        kafka.publish(table, (student_record(i, student=i) for i in range(2000, 3000)), partitions=4)
        wait_until(lambda: consumed(second, table) == {0, 1, 2, 3}, timeout_s=60,
                   what="the second server to take every partition over")
        wait_until(lambda: second.count(table) > 0 and second.post(f"/tables/{table}/forceCommit", {})
                   .status_code == 200 and len(lake_students(s3, "group", table)) >= 3000, timeout_s=90,
                   what="every row in the Delta table")
        time.sleep(2.0)
        assert lake_students(s3, "group", table) == list(range(3000))
        # the surviving server answers every committed row, its own and the killed one's, once
        answer = second.query(f"SELECT COUNT(*) FROM {table}")
        assert answer["resultTable"]["rows"] == [[3000]]
        assert answer["deepStore"]["freshRows"].startswith("this server's only")
    finally:
        stop_all(servers)


def test_local_copies_of_committed_segments_go_and_answers_stay(
    kafka: KafkaBroker, tmp_path: Path, s3: S3, unique_name: str
) -> None:
    store = {"uri": f"s3://{BUCKET}/retained", "endpoint": s3.endpoint, "region": "us-east-1",
             "allow_http": True, "local_retention": "1s"}
    server = IngestdServer(tmp_path, workers=2, toml={"deep_store": store})
    server.start()
    try:
        create_table(server, kafka, unique_name, 2, **{
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
            "realtime.segment.flush.threshold.rows": "100"})
        kafka.publish(unique_name, (student_record(i, student=i) for i in range(1010)), partitions=2)
        wait_until(lambda: len(lake_students(s3, "retained", unique_name)) == 1000, timeout_s=60,
                   what="the sealed rows in the Delta table")
        local_files = lambda: list(server.data_dir.rglob("*.arrow"))  # noqa: E731
        wait_until(lambda: not local_files(), timeout_s=30, what="the local copies to be dropped")
        sql = f"SELECT COUNT(*), SUM(studentID) FROM {unique_name}"
        assert server.query(sql)["resultTable"]["rows"] == [[1010, float(sum(range(1010)))]]
        server.restart()
        wait_until(lambda: server.count(unique_name) == 1010, timeout_s=30, what="the answer after restart")
        assert server.query(sql)["resultTable"]["rows"] == [[1010, float(sum(range(1010)))]]
        assert lake_students(s3, "retained", unique_name) == list(range(1000))
    finally:
        server.stop()


def test_peers_and_the_deep_store_together_answer_each_row_once(
    kafka: KafkaBroker, tmp_path: Path, s3: S3, unique_name: str
) -> None:
    """Committed rows come from the Delta table, fresh ones from each server: asked through either server,
    every row once (a peer leaves out what the asking server's Delta version holds)."""
    table = unique_name
    kafka.create_topic(table, 4)
    ports = [free_port(), free_port()]
    store = {"uri": f"s3://{BUCKET}/peers", "endpoint": s3.endpoint, "region": "us-east-1",
             "allow_http": True}
    servers = []
    for index, name in enumerate(("a", "b")):
        (tmp_path / name).mkdir()
        servers.append(IngestdServer(tmp_path / name, workers=1, port=ports[index], toml={
            "deep_store": store, "cluster": {"peers": [f"http://127.0.0.1:{ports[1 - index]}"]}}))
    try:
        for server in servers:
            server.start()
            add_group_table(server, kafka, table, rows=400)
        wait_until(lambda: all(consumed(server, table) for server in servers), timeout_s=60,
                   what="the group to split the partitions between both servers")
        kafka.publish(table, (student_record(i, student=i) for i in range(1500)), partitions=4)
        wait_until(lambda: len(lake_students(s3, "peers", table)) >= 400, timeout_s=60,
                   what="some segments in the Delta table")
        sql = f"SELECT COUNT(*), COUNT(DISTINCT studentID) FROM {table}"
        for server in servers:
            wait_until(lambda server=server: server.query(sql)["resultTable"]["rows"] == [[1500, 1500]],
                       timeout_s=30, what="every row once from either server")
        assert len(lake_students(s3, "peers", table)) < 1500  # some rows were fresh, not committed
    finally:
        stop_all(servers)
