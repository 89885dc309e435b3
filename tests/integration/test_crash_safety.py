"""Exactly once under crashes and faults: the torture run (kill -9 of workers and of the whole server
while publishing), a frozen broker, and a dead coordinator."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil
from confluent_kafka import Producer

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import student_record
from ingestd.devtools.server_process import IngestdServer
from tests.support.tables import create_table

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import torture


def test_torture_kill9_workers_and_server_while_publishing_loses_and_duplicates_nothing() -> None:
    report = torture.torture(messages=50_000, kills=5, partitions=4, rate=2_000, seed=3, workers=2)
    assert report.figures["missing"] == 0, report.figures
    assert report.figures["duplicates"] == 0, report.figures
    assert report.figures["rows"] == 50_000 and report.figures["checksums_match"], report.figures
    assert report.worker_kills + report.server_kills == 5


def test_a_frozen_broker_stalls_partitions_then_ingestion_resumes_with_nothing_lost(
    server: IngestdServer, unique_name: str
) -> None:
    kafka = KafkaBroker.start()  # its own broker: this test freezes it
    try:
        create_table(server, kafka, unique_name, 2,
                     **{"stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
        kafka.publish(unique_name, (student_record(i) for i in range(1_000)), partitions=2)
        wait_until(lambda: server.count(unique_name) == 1_000, what="1,000 rows")
        kafka.freeze()
        frozen_at = time.monotonic()
        status = wait_until(lambda: (s := server.get(f"/tables/{unique_name}/status"))["state"] == "STALLED"
                            and s, timeout_s=20, what="the table to be reported STALLED")
        assert {p["state"] for p in status["partitions"]} == {"STALLED"}
        assert status["streamError"]
        assert server.count(unique_name) == 1_000  # the API stays up and answers from what it has
        producer = Producer({"bootstrap.servers": kafka.bootstrap, "message.timeout.ms": 120_000})
        for i in range(1_000, 1_500):  # published during the outage: they wait in the producer
            producer.produce(unique_name, value=student_record(i), partition=i % 2)
        time.sleep(max(0.0, 30 - (time.monotonic() - frozen_at)))  # a 30 s outage in all
        kafka.thaw()
        assert producer.flush(60) == 0
        wait_until(lambda: server.count(unique_name) == 1_500, timeout_s=60, what="ingestion to resume")
        wait_until(lambda: server.get(f"/tables/{unique_name}/status")["state"] == "CONSUMING",
                   timeout_s=20, what="the stall to clear")
        answer = server.query(f"SELECT COUNT(DISTINCT firstName) FROM {unique_name}")
        assert answer["resultTable"]["rows"] == [[1_500]]
    finally:
        kafka.stop()


def test_workers_exit_when_the_coordinator_is_killed_and_the_next_start_recovers(
    kafka: KafkaBroker, server: IngestdServer, unique_name: str
) -> None:
    create_table(server, kafka, unique_name, 2, **{
        "realtime.segment.flush.threshold.rows": "200",
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
    kafka.publish(unique_name, (student_record(i) for i in range(700)), partitions=2)
    wait_until(lambda: server.count(unique_name) == 700, what="700 rows")
    pids = [w["pid"] for w in wait_until(
        lambda: server.get(f"/tables/{unique_name}/status")["workers"], what="workers").values()]
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGKILL)  # the coordinator only, not its process group
    server.process.wait(10)
    wait_until(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids),
               timeout_s=15, what="orphaned workers to exit")
    server.start()
    kafka.publish(unique_name, (student_record(i) for i in range(700, 800)), partitions=2)
    wait_until(lambda: server.count(unique_name) == 800, timeout_s=30, what="800 rows after recovery")
    answer = server.query(f"SELECT COUNT(DISTINCT firstName) FROM {unique_name}")
    assert answer["resultTable"]["rows"] == [[800]]
