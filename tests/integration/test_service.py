"""ingestd as a systemd service, with real processes and the real broker: the notify protocol (READY only
once /health answers, STATUS, WATCHDOG, STOPPING), clean stops when the whole process group gets SIGTERM
(exit 0, no restart, nothing lost or doubled), SIGHUP, JSON logs and librdkafka's lines routed and
rate-limited through them."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import orjson
import psutil
from confluent_kafka import Producer

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import student_record
from ingestd.devtools.server_process import IngestdServer
from ingestd.stream.kafka_logging import LOGGER_PREFIX, MAX_LINES, WINDOW_S
from tests.support.tables import create_table


@dataclass
class NotifyListener:
    """The service manager's side: an abstract AF_UNIX datagram socket; each message is stamped with
    whether /health answered at once when it arrived."""

    health_url: str
    name: str = field(default_factory=lambda: f"@ingestd-test-{uuid.uuid4().hex}")
    messages: list[tuple[float, str, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name[1:])
        self.sock.settimeout(0.2)
        self._open = True
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while self._open:
            try:
                text = self.sock.recv(65536).decode()
            except (TimeoutError, OSError):
                continue
            healthy = False
            if text.startswith("READY=1"):
                try:
                    healthy = httpx.get(self.health_url, timeout=2).text == "OK"
                except httpx.HTTPError:
                    healthy = False
            self.messages.append((time.monotonic(), text, healthy))

    def texts(self) -> list[str]:
        return [text for _, text, _ in self.messages]

    def close(self) -> None:
        self._open = False
        self._thread.join(2)
        self.sock.close()


def launch(server: IngestdServer, **env: str) -> subprocess.Popen[bytes]:
    """`ingestd start` in its own process group, as systemd runs it (no wait for /health)."""
    with open(server.log, "ab") as log:
        server.process = subprocess.Popen(
            [sys.executable, "-m", "ingestd", "start", "--config", str(server.config)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **env})
    return server.process


def test_notify_socket_gets_ready_after_health_answers_then_status_watchdog_and_stopping(
    kafka: KafkaBroker, tmp_path: Path, unique_name: str
) -> None:
    server = IngestdServer(tmp_path)
    listener = NotifyListener(server.url + "/health")
    try:
        process = launch(server, NOTIFY_SOCKET=listener.name, WATCHDOG_USEC="1000000")
        wait_until(lambda: any(t.startswith("READY=1") for t in listener.texts()), timeout_s=30,
                   what=f"READY (log: {server.log})")
        ready = next(message for message in listener.messages if message[1].startswith("READY=1"))
        assert ready[2], "READY was sent before /health answered"
        assert "STATUS=ready: 0 table(s), 2/2 worker(s) reporting" in ready[1]
        assert [t for t in listener.texts() if t.startswith("READY=1")] == [ready[1]]  # once

        create_table(server, kafka, unique_name, 2,
                     **{"stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
        kafka.publish(unique_name, (student_record(i) for i in range(3_000)), partitions=2)
        wait_until(lambda: server.count(unique_name) == 3_000, what="3,000 rows")
        wait_until(lambda: any(t.startswith("STATUS=") and "1 table(s), 2/2 worker(s)" in t
                               and not t.startswith("STATUS=0 rows/s") for t in listener.texts()),
                   timeout_s=15, what="a STATUS line with the rows/s ingested")
        children = psutil.Process(process.pid).children(recursive=True)  # workers, resource tracker
        assert len(children) >= 2
        assert not [c.pid for c in children if {"NOTIFY_SOCKET", "WATCHDOG_USEC"} & set(c.environ())]
        pings = [at for at, text, _ in listener.messages if text == "WATCHDOG=1"]
        assert len(pings) >= 4
        gaps = sorted(b - a for a, b in itertools.pairwise(pings))
        assert 0.4 < gaps[len(gaps) // 2] < 0.8, gaps  # every half WATCHDOG_USEC

        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(30) == 0
        wait_until(lambda: any(t.startswith("STOPPING=1") for t in listener.texts()), what="STOPPING")
        stopping_at = next(at for at, text, _ in listener.messages if text.startswith("STOPPING=1"))
        assert not [text for at, text, _ in listener.messages if at > stopping_at]
    finally:
        listener.close()
        server.kill9()


def test_sigterm_to_the_process_group_while_ingesting_stops_cleanly_and_loses_nothing(
    kafka: KafkaBroker, tmp_path: Path, unique_name: str
) -> None:
    server = IngestdServer(tmp_path)
    server.start()
    total = 8_000
    try:
        create_table(server, kafka, unique_name, 2, **{
            "realtime.segment.flush.threshold.rows": "700",  # sealed segments and an unsealed tail
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
        publisher = publish_paced(kafka, unique_name, total, per_second=2_000)  # ~4 s of feed
        wait_until(lambda: server.count(unique_name) >= 2_000, what="a sealed segment per partition")
        assert server.process is not None
        os.killpg(server.process.pid, signal.SIGTERM)  # as systemd's KillMode=control-group does
        assert server.process.wait(30) == 0
        publisher.join(60)
        first_run = server.log.read_text()
        assert "received SIGTERM; shutting down" in first_run
        assert "restart" not in first_run, first_run
        assert " ERROR " not in first_run and "Traceback" not in first_run, first_run
        assert " WARNING " not in first_run, first_run  # e.g. a worker that died of the signal
        assert "died" not in first_run and "did not stop" not in first_run, first_run

        server.start()
        wait_until(lambda: server.count(unique_name) == total, timeout_s=60,
                   what=f"{total} rows after restart")
        answer = server.query(f"SELECT COUNT(DISTINCT firstName) FROM {unique_name}")
        assert answer["resultTable"]["rows"] == [[total]]
        log = server.log.read_text()
        assert f"ingestd 0.1.0 starting: config {server.config}, data_dir {server.data_dir}, 2 worker(s), " \
               f"HTTP on {server.url}" in log
        assert f"table {unique_name} created (topic {unique_name})" in log
        assert f"table {unique_name}: 2 partition(s) assigned: worker 0 [0], worker 1 [1]" in log
    finally:
        server.stop()
        server.kill9()


def test_sighup_is_logged_and_ignored_and_json_logs_carry_librdkafka_lines_rate_limited(
    tmp_path: Path, unique_name: str
) -> None:
    kafka = KafkaBroker.start()  # its own broker: this test stops it to make librdkafka complain
    server = IngestdServer(tmp_path, toml={"log": {"format": "json"}})
    server.start()
    try:
        create_table(server, kafka, unique_name, 2, **{  # reconnects every few ms: hundreds of lines a second
            "stream.kafka.consumer.prop.reconnect.backoff.ms": "1",
            "stream.kafka.consumer.prop.reconnect.backoff.max.ms": "10"})
        status_path = f"/tables/{unique_name}/status"
        workers = wait_until(lambda: len(w := server.get(status_path)["workers"]) == 2 and w,
                             what="both workers reporting")
        pids = sorted(w["pid"] for w in workers.values())
        server.config.write_text(server.config.read_text().replace('"format" = "json"',
                                                                   '"format" = "json"\n"level" = "DEBUG"'))
        assert server.process is not None
        os.killpg(server.process.pid, signal.SIGHUP)  # the whole group, as `systemctl kill -s HUP` does
        wait_until(lambda: "received SIGHUP" in server.log.read_text(), what="the SIGHUP line")
        assert server.http.get(server.url + "/health").text == "OK"
        now = server.get(status_path)["workers"]
        assert sorted(w["pid"] for w in now.values()) == pids and server.process.poll() is None

        kafka.stop()
        library = f"{LOGGER_PREFIX}.{unique_name}"
        wait_until(lambda: any(line.get("logger") == library and "lines of this table are suppressed"
                               in str(line["message"]) for line in json_lines(server.log)),
                   timeout_s=30, what="librdkafka lines through the table's logger, up to the limit")
        os.killpg(server.process.pid, signal.SIGTERM)
        assert server.process.wait(30) == 0

        lines = json_lines(server.log)
        assert all(set(line) >= {"time", "level", "logger", "process", "pid", "message"} for line in lines)
        roles = {line["process"] for line in lines}
        assert {"coordinator", "worker-0", "worker-1"} <= roles
        hup = next(line for line in lines if "received SIGHUP" in line["message"])
        assert hup["process"] == "coordinator" and "changes log_level" in hup["message"]
        assert "restart ingestd to apply them" in hup["message"]
        first: dict[str, float] = {}
        per_window: dict[str, int] = {}
        for line in (line for line in lines if line["logger"] == library
                     and not str(line["message"]).startswith("suppressed ")):
            at = _seconds(line["time"])
            first.setdefault(line["process"], at)
            if at - first[line["process"]] < WINDOW_S:
                per_window[line["process"]] = per_window.get(line["process"], 0) + 1
        assert per_window and max(per_window.values()) <= MAX_LINES, per_window
    finally:
        server.kill9()
        kafka.stop()


def json_lines(log: Path) -> list[dict[str, object]]:
    """Every line of the log as JSON (a line that is not JSON fails the test)."""
    return [orjson.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _seconds(iso: object) -> float:
    return datetime.fromisoformat(str(iso)).timestamp()


def publish_paced(kafka: KafkaBroker, topic: str, total: int, per_second: int) -> threading.Thread:
    """Publish `total` records over two partitions at about `per_second`, on a thread of its own."""
    def run() -> None:
        producer = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 5})
        batch = max(1, per_second // 20)
        for start in range(0, total, batch):
            for i in range(start, min(total, start + batch)):
                producer.produce(topic, value=student_record(i), partition=i % 2)
            producer.poll(0)
            time.sleep(0.05)  # pacing the feed, not waiting for a condition
        assert producer.flush(30) == 0

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
