"""The sd_notify protocol as ingestd speaks it, against real AF_UNIX datagram sockets the tests bind: where
datagrams go, what the environment says, the status line, and when READY / WATCHDOG / STOPPING are sent.
(A real `ingestd start` under a notify socket: tests/integration/test_service.py.)"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from ingestd import systemd_notify
from ingestd.devtools.polling import wait_until
from ingestd.messages import WorkerStatus
from ingestd.systemd_notify import (
    IngestRate,
    Notifier,
    ServiceHeartbeat,
    socket_address,
    status_line,
    total_lag,
)


class Listener:
    """A bound datagram socket collecting what is sent to it."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.setblocking(False)
        self.received: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.received.append(self.sock.recv(65536).decode())
            except BlockingIOError:
                return self.received


@pytest.fixture
def path_listener() -> Iterator[tuple[str, Listener]]:
    directory = tempfile.mkdtemp(prefix="notify-", dir="/tmp")  # short: AF_UNIX paths stop at 107 bytes
    path = os.path.join(directory, "notify.sock")
    listener = Listener(path)
    yield path, listener
    listener.sock.close()
    Path(path).unlink()
    os.rmdir(directory)


def test_addresses_a_leading_at_names_the_abstract_namespace() -> None:
    assert socket_address("@ingestd/notify") == "\0ingestd/notify"
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("vsock:2:1234") is None
    assert socket_address("@") is None


def test_sends_one_datagram_to_a_socket_path(path_listener: tuple[str, Listener]) -> None:
    path, listener = path_listener
    notifier = Notifier(path)
    assert notifier.send("READY=1", "STATUS=ready")
    assert listener.drain() == ["READY=1\nSTATUS=ready"]
    notifier.close()


def test_sends_to_an_abstract_socket() -> None:
    name = f"@ingestd-test-{uuid.uuid4().hex}"
    listener = Listener("\0" + name[1:])
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": name})
    assert notifier.enabled and notifier.send("WATCHDOG=1")
    assert listener.drain() == ["WATCHDOG=1"]
    listener.sock.close()


def test_without_notify_socket_nothing_is_sent_and_nothing_fails() -> None:
    notifier = Notifier.from_environment({})
    assert not notifier.enabled
    assert not notifier.send("READY=1")


def test_the_environment_is_consumed_so_worker_processes_never_speak_for_the_service() -> None:
    environ = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid()),
               "PATH": "/bin"}
    notifier = Notifier.from_environment(environ)
    assert environ == {"PATH": "/bin"}
    assert notifier.watchdog_interval_s == 15.0  # half of WatchdogSec


def test_a_watchdog_meant_for_another_process_is_not_ours() -> None:
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000",
                                          "WATCHDOG_PID": str(os.getpid() + 1)})
    assert notifier.watchdog_interval_s is None


def test_a_dead_listener_is_logged_once_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(f"\0ingestd-nobody-{uuid.uuid4().hex}")
    assert not notifier.send("READY=1")
    assert not notifier.send("WATCHDOG=1")
    assert len([r for r in caplog.records if "cannot notify systemd" in r.getMessage()]) == 1


def status(worker: int, pid: int, **tables: list[dict[str, object]]) -> WorkerStatus:
    return WorkerStatus(worker, pid, 0, dict(tables))


def test_rows_per_second_from_the_workers_rows_indexed_counters() -> None:
    rate = IngestRate()
    first = {0: status(0, 10, t=[{"partition": 0, "rowsIndexed": 100}, {"partition": 1, "rowsIndexed": 50}])}
    assert rate.sample(first, now=100.0) is None  # nothing to compare with yet
    later = {0: status(0, 10, t=[{"partition": 0, "rowsIndexed": 600}, {"partition": 1, "rowsIndexed": 50}]),
             1: status(1, 11, u=[{"partition": 0, "rowsIndexed": 500}])}  # a new worker counts from zero
    assert rate.sample(later, now=105.0) == pytest.approx((500 + 500) / 5)
    restarted = {0: status(0, 12, t=[{"partition": 0, "rowsIndexed": 10}]),  # new pid: a new counter
                 1: status(1, 11, u=[{"partition": 0, "rowsIndexed": 500}])}
    assert rate.sample(restarted, now=110.0) == pytest.approx(10 / 5)


def test_lag_is_summed_where_partitions_report_it_and_left_out_where_none_does() -> None:
    without: Mapping[int, WorkerStatus] = {0: status(0, 1, t=[{"partition": 0, "rowsIndexed": 5}])}
    assert total_lag(without) is None
    assert "lag" not in status_line(without, 2, 12.4)
    assert status_line(without, 2, 12.4) == "12 rows/s, 1 table(s), 1/2 worker(s) reporting"
    with_lag = {0: status(0, 1, t=[{"partition": 0, "lag": 1200}, {"partition": 1, "lag": None}]),
                1: status(1, 2, u=[{"partition": 0, "lag": 34}])}
    assert total_lag(with_lag) == 1234
    assert status_line(with_lag, 2, 1500.0) == (
        "1,500 rows/s, lag 1,234 messages, 2 table(s), 2/2 worker(s) reporting")


class FakeCoordinator:
    def __init__(self) -> None:
        self.statuses: dict[int, WorkerStatus] = {}
        self.stalled: list[str] = []
        self.asked = 0  # watchdog decisions taken

    def worker_statuses(self) -> Mapping[int, WorkerStatus]:
        return dict(self.statuses)

    def stalled_loops(self) -> list[str]:
        self.asked += 1
        return list(self.stalled)


@pytest.fixture
def event_loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_ready_waits_for_http_and_every_worker_then_watchdog_pings_only_while_loops_progress(
    path_listener: tuple[str, Listener], event_loop_thread: asyncio.AbstractEventLoop
) -> None:
    path, listener = path_listener
    coordinator = FakeCoordinator()
    heartbeat = ServiceHeartbeat(Notifier(path, watchdog_usec=200_000), coordinator, workers=2)
    heartbeat.start()
    wait_until(lambda: "WATCHDOG=1" in listener.drain(), what="a watchdog ping before READY")
    heartbeat.http_started(event_loop_thread)
    coordinator.statuses = {0: status(0, 1)}
    wait_until(lambda: listener.drain().count("WATCHDOG=1") >= 4, what="more pings")
    assert not any(m.startswith("READY=1") for m in listener.drain())  # worker 1 has not reported yet
    coordinator.statuses[1] = status(1, 2)
    wait_until(lambda: any(m.startswith("READY=1") for m in listener.drain()), what="READY")

    coordinator.stalled = ["supervisor"]
    wait_until(lambda: heartbeat._withholding, what="pings withheld")
    listener.drain()
    listener.received.clear()
    asked = coordinator.asked
    wait_until(lambda: coordinator.asked >= asked + 3, what="three watchdog decisions while stalled")
    assert "WATCHDOG=1" not in listener.drain()
    coordinator.stalled = []
    wait_until(lambda: "WATCHDOG=1" in listener.drain(), what="pings to resume")

    heartbeat.stopping()
    heartbeat.join()
    assert listener.drain()[-1].startswith("STOPPING=1")
    listener.received.clear()
    assert listener.drain() == []


def test_a_hung_http_event_loop_withholds_the_watchdog(path_listener: tuple[str, Listener],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path, listener = path_listener
    monkeypatch.setattr(systemd_notify, "LOOP_ANSWER_S", 0.05)
    hung = asyncio.new_event_loop()  # never run: like a loop stuck in a blocking call
    coordinator = FakeCoordinator()
    coordinator.statuses = {0: status(0, 1)}
    heartbeat = ServiceHeartbeat(Notifier(path, watchdog_usec=200_000), coordinator, workers=1)
    heartbeat.http_started(hung)
    heartbeat.start()
    try:
        wait_until(lambda: coordinator.asked >= 3, what="three watchdog decisions")
        assert heartbeat._withholding
        assert not [m for m in listener.drain() if "WATCHDOG=1" in m]
    finally:
        heartbeat.stopping()
        heartbeat.join()
        hung.close()


def test_status_lines_follow_ready_with_the_rate_since_the_last_one(
    path_listener: tuple[str, Listener], event_loop_thread: asyncio.AbstractEventLoop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, listener = path_listener
    monkeypatch.setattr(systemd_notify, "STATUS_INTERVAL_S", 0.2)
    coordinator = FakeCoordinator()
    coordinator.statuses = {0: status(0, 1, t=[{"partition": 0, "rowsIndexed": 0}])}
    heartbeat = ServiceHeartbeat(Notifier(path), coordinator, workers=1)  # no watchdog asked for
    heartbeat.http_started(event_loop_thread)
    heartbeat.start()
    try:
        wait_until(lambda: any(m.startswith("READY=1\nSTATUS=ready") for m in listener.drain()), what="READY")
        coordinator.statuses = {0: status(0, 1, t=[{"partition": 0, "rowsIndexed": 1_000_000}])}
        wait_until(lambda: any(m.startswith("STATUS=") and " rows/s" in m and not m.startswith("STATUS=0 ")
                               for m in listener.drain()), what="a STATUS line with a rate")
        assert "WATCHDOG=1" not in listener.drain()
    finally:
        heartbeat.stopping()
        heartbeat.join()
