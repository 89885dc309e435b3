"""Tell systemd how the service is doing: sd_notify's protocol, spoken by ingestd itself (no libsystemd).

The protocol is one datagram of `KEY=value` lines to the AF_UNIX socket named by `$NOTIFY_SOCKET` (a
leading `@` names the abstract namespace). ingestd sends:

* `READY=1` once recovery is done (catalog restored, workers spawned and each reporting) and the HTTP
  port accepts connections; `systemctl start` returns then, and units ordered after ingestd start;
* `STATUS=...` every STATUS_INTERVAL_S: rows/s indexed (from the workers' `rowsIndexed` counters), the
  total lag when partitions report one, tables and workers (`systemctl status ingestd` shows it);
* `WATCHDOG=1` every half `$WATCHDOG_USEC` (`WatchdogSec=`), but only while the coordinator's loops
  make progress and the HTTP event loop answers: a hung coordinator goes quiet, and systemd restarts it;
* `STOPPING=1` when a stop begins.

Not started by systemd (no `$NOTIFY_SOCKET`), all of this is skipped. The variables are removed from
the environment at start so that worker processes (which must not speak for the service) never see them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Protocol

from ingestd.messages import WorkerStatus

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 5.0
READY_WAIT_S = 30.0  # READY waits this long at most for every worker's first report
TICK_S = 0.25
LOOP_ANSWER_S = 5.0  # the HTTP event loop must run a no-op within this to count as alive
SEND_TIMEOUT_S = 2.0

PartitionKey = tuple[int, int, str, int]  # worker id, worker pid, table, partition


def socket_address(value: str) -> str | None:
    """The address to send to: a path, or "\\0name" for `@name` (abstract namespace); None if unusable."""
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # e.g. "vsock:..." (systemd in a VM): not spoken here


class Notifier:
    """Sends notification datagrams to the service manager; a no-op when there is none."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_interval_s = watchdog_usec / 2e6 if watchdog_usec else None
        self._socket: socket.socket | None = None
        self._failed = False
        if address is not None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.settimeout(SEND_TIMEOUT_S)

    @classmethod
    def from_environment(cls, environ: MutableMapping[str, str] | None = None) -> Notifier:
        """Read (and remove) NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID."""
        environ = os.environ if environ is None else environ
        raw_socket = environ.pop("NOTIFY_SOCKET", "")
        raw_usec, raw_pid = environ.pop("WATCHDOG_USEC", ""), environ.pop("WATCHDOG_PID", "")
        address = socket_address(raw_socket) if raw_socket else None
        if raw_socket and address is None:
            log.warning("NOTIFY_SOCKET=%r is not a socket path or @abstract name; not notifying systemd",
                        raw_socket)
        usec = int(raw_usec) if raw_usec.isdigit() and int(raw_usec) > 0 else None
        if raw_pid and raw_pid != str(os.getpid()):
            usec = None  # the watchdog is meant for another process
        return cls(address, usec)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def send(self, *lines: str) -> bool:
        """One datagram of `lines`; False (logged once) when it cannot be sent."""
        if self._socket is None or self.address is None:
            return False
        try:
            self._socket.sendto("\n".join(lines).encode(), self.address)
        except OSError as exc:
            if not self._failed:
                log.warning("cannot notify systemd at %r: %s", self.address, exc)
            self._failed = True
            return False
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class ServiceView(Protocol):
    """What the heartbeat asks the coordinator."""

    def worker_statuses(self) -> Mapping[int, WorkerStatus]: ...

    def stalled_loops(self) -> list[str]: ...


class IngestRate:
    """Rows/s indexed between two samples of the workers' per-partition `rowsIndexed` counters. A counter
    seen for the first time (a new partition, a restarted worker) counts from zero; one that went down
    counts nothing."""

    def __init__(self) -> None:
        self._counts: dict[PartitionKey, int] = {}
        self._at: float | None = None

    def sample(self, statuses: Mapping[int, WorkerStatus], now: float) -> float | None:
        counts = partition_counts(statuses)
        rate = None
        if self._at is not None and now > self._at:
            added = sum(max(0, rows - self._counts.get(key, 0)) for key, rows in counts.items())
            rate = added / (now - self._at)
        self._counts, self._at = counts, now
        return rate


def partition_counts(statuses: Mapping[int, WorkerStatus]) -> dict[PartitionKey, int]:
    return {
        (worker_id, status.pid, table, int(entry["partition"])): int(entry.get("rowsIndexed") or 0)
        for worker_id, status in statuses.items()
        for table, entries in status.partitions.items()
        for entry in entries
        if "partition" in entry
    }


def total_lag(statuses: Mapping[int, WorkerStatus]) -> int | None:
    """The sum of the partitions' `lag`, or None when no partition reports one."""
    lags = [entry["lag"] for status in statuses.values() for entries in status.partitions.values()
            for entry in entries if isinstance(entry.get("lag"), int) and not isinstance(entry["lag"], bool)]
    return sum(lags) if lags else None


def status_line(statuses: Mapping[int, WorkerStatus], workers: int, rate: float | None) -> str:
    tables = {table for status in statuses.values() for table in status.partitions}
    parts = [] if rate is None else [f"{rate:,.0f} rows/s"]
    lag = total_lag(statuses)
    if lag is not None:
        parts.append(f"lag {lag:,} messages")
    parts.append(f"{len(tables)} table(s)")
    parts.append(f"{len(statuses)}/{workers} worker(s) reporting")
    return ", ".join(parts)


class ServiceHeartbeat:
    """The thread that sends READY, STATUS and WATCHDOG (see the module docstring); `stopping()` sends
    STOPPING and ends it. Started after the coordinator; told when HTTP is up by `http_started`."""

    def __init__(self, notifier: Notifier, view: ServiceView, workers: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._notifier = notifier
        self._view = view
        self._workers = workers
        self._clock = clock
        self._rate = IngestRate()
        self._http_up = threading.Event()
        self._stopped = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="systemd-notify", daemon=True)
        self.ready_sent = False
        self._withholding = False

    def start(self) -> None:
        if self._notifier.enabled:
            self._thread.start()

    def http_started(self, loop: asyncio.AbstractEventLoop) -> None:
        """The HTTP server listens (called on its event loop, which from now on must keep answering)."""
        self._loop = loop
        self._http_up.set()

    def stopping(self) -> None:
        """A stop began: tell systemd (once) and send nothing else."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._notifier.send("STOPPING=1", "STATUS=stopping: workers are closing their partitions")

    def join(self, timeout_s: float = 5.0) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        started = self._clock()
        next_status = next_ping = started
        interval = self._notifier.watchdog_interval_s
        tick = TICK_S if interval is None else min(TICK_S, interval / 2)
        while not self._stopped.wait(tick):
            now = self._clock()
            try:
                if not self.ready_sent and self._ready_to_serve(now - started):
                    self._send_ready(now)
                    next_status = now + STATUS_INTERVAL_S
                elif self.ready_sent and now >= next_status:
                    statuses = self._view.worker_statuses()
                    rate = self._rate.sample(statuses, now)
                    if not self._stopped.is_set():
                        self._notifier.send("STATUS=" + status_line(statuses, self._workers, rate))
                    next_status = now + STATUS_INTERVAL_S
                if interval is not None and now >= next_ping:
                    self._ping_if_alive()
                    next_ping += interval  # on a fixed schedule: a tick's lateness does not add up
                    if next_ping <= now:
                        next_ping = now + interval
            except Exception:  # never let a reporting bug end the heartbeat (and with it the watchdog)
                log.exception("systemd notification failed; continuing")

    def _ready_to_serve(self, waited_s: float) -> bool:
        if not self._http_up.is_set():
            return False
        reporting = len(self._view.worker_statuses())
        if reporting >= self._workers:
            return True
        if waited_s < READY_WAIT_S:
            return False
        log.warning("only %d of %d worker(s) report after %.0f s; telling systemd the service is ready "
                    "anyway", reporting, self._workers, waited_s)
        return True

    def _send_ready(self, now: float) -> None:
        statuses = self._view.worker_statuses()
        self._rate.sample(statuses, now)
        if not self._stopped.is_set():
            self._notifier.send("READY=1", "STATUS=ready: " + status_line(statuses, self._workers, None))
            self.ready_sent = True
            log.info("told systemd the service is ready")

    def _ping_if_alive(self) -> None:
        stalled = self._view.stalled_loops()
        if not stalled and not self._event_loop_answers():
            stalled = ["http event loop"]
        if stalled:
            if not self._withholding:
                log.error("coordinator loop(s) %s stalled: withholding watchdog pings, so systemd restarts "
                          "the service if they do not recover", ", ".join(stalled))
            self._withholding = True
            return
        if self._withholding:
            log.info("coordinator loops progress again: watchdog pings resume")
            self._withholding = False
        if not self._stopped.is_set():
            self._notifier.send("WATCHDOG=1")

    def _event_loop_answers(self) -> bool:
        loop = self._loop
        if loop is None:
            return True  # not serving yet: the coordinator's loops alone are judged
        answered = threading.Event()
        try:
            loop.call_soon_threadsafe(answered.set)
        except RuntimeError:  # the loop is closed
            return False
        return answered.wait(LOOP_ANSWER_S)
