"""`ingestd start`: the coordinator (with its workers) plus the HTTP API, in the foreground, speaking to
systemd when run by it (systemd_notify.py: READY, STATUS, WATCHDOG, STOPPING).

Signals are the coordinator's alone (workers ignore them; see worker_pool.py), handled from the start
of the run to its end:

* SIGTERM, SIGINT: a clean stop. STOPPING=1 goes to systemd, worker restarts end at once, the HTTP
  server stops accepting and lets running requests finish (up to HTTP_GRACE_S), then every worker shuts
  down, closing its partitions. Sealed data is already durable; the unsealed tail is consumed again on
  the next start. The process exits 0. A second signal stops waiting for HTTP requests.
* SIGHUP: logged, and the config file is re-checked: the log says whether it is still valid and which
  settings differ. Nothing is applied live (the workers' settings are fixed when they are spawned, and a
  half-applied config is worse than none): a restart applies the file.

Before anything else the server takes the data_dir's lock (data_dir_lock.py): a second server on the
same data_dir exits non-zero at once, naming the holder's pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import uvicorn

from ingestd import __version__
from ingestd.api.app import create_app
from ingestd.coordinator import Coordinator
from ingestd.data_dir_lock import hold_data_dir
from ingestd.errors import ConfigError
from ingestd.logs import configure_logging
from ingestd.plugin_loading import load_plugins
from ingestd.settings import Settings, load_settings, warn_if_exposed
from ingestd.systemd_notify import Notifier, ServiceHeartbeat
from ingestd.worker_pool import WorkerPool

log = logging.getLogger(__name__)

HTTP_GRACE_S = 10.0  # running HTTP requests may finish this long after a stop signal


def run_server(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM; raises ConfigError when the data_dir cannot be created or written,
    DataDirLocked when another server holds it."""
    configure_logging(settings.log_level, "coordinator", settings.log_format)
    notifier = Notifier.from_environment()
    signals = _Signals(settings)
    _make_data_dir(settings.data_dir)
    with signals.installed(), hold_data_dir(settings.data_dir):
        log.info("ingestd %s starting: config %s, data_dir %s, %d worker(s), HTTP on %s, pid %d%s",
                 __version__, settings.config_path or "(none)", settings.data_dir, settings.worker_count,
                 http_address(settings), os.getpid(), ", notifying systemd" if notifier.enabled else "")
        warn_if_exposed(settings, log)
        load_plugins()  # before the catalog restores tables: a broken plugin is logged, never fatal
        coordinator = Coordinator(settings)
        coordinator.start()
        heartbeat = ServiceHeartbeat(notifier, coordinator, settings.worker_count)
        signals.attach(coordinator.pool, heartbeat)
        heartbeat.start()
        try:
            if not signals.stop_requested:
                config = uvicorn.Config(create_app(coordinator), host=settings.http_host,
                                        port=settings.http_port, log_config=None, access_log=False,
                                        timeout_graceful_shutdown=int(HTTP_GRACE_S))
                signals.server = _Server(config, heartbeat)
                signals.server.run()
        finally:
            heartbeat.stopping()  # also when the HTTP server could not start
            log.info("stopping workers")
            coordinator.stop()
            heartbeat.join()
            notifier.close()
            log.info("stopped")


def _make_data_dir(data_dir: Path) -> None:
    """A data_dir that cannot be created or written is a config error naming it, not a traceback."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("data_dir", f"{str(data_dir)!r} cannot be created: {exc.strerror}") from None
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise ConfigError("data_dir", f"{str(data_dir)!r} is not writable")


def http_address(settings: Settings) -> str:
    host = settings.http_host
    return f"http://[{host}]:{settings.http_port}" if ":" in host else f"http://{host}:{settings.http_port}"


class _Server(uvicorn.Server):
    """uvicorn, minus its own signal handling (run_server's handlers cover the whole run; uvicorn's would
    re-raise SIGTERM after its shutdown and skip stopping the workers), telling the heartbeat once the
    listening socket is up."""

    def __init__(self, config: uvicorn.Config, heartbeat: ServiceHeartbeat) -> None:
        super().__init__(config)
        self._heartbeat = heartbeat

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:  # listening: connections are accepted from now on
            self._heartbeat.http_started(asyncio.get_running_loop())


class _Signals:
    """The coordinator process's signal handlers (see the module docstring). They run on the main thread
    between two bytecodes, so they only set flags, log and send one datagram."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.stop_requested = False
        self.server: uvicorn.Server | None = None
        self._pool: WorkerPool | None = None
        self._heartbeat: ServiceHeartbeat | None = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {signum: signal.signal(signum, self._handle) for signum in handled}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def attach(self, pool: WorkerPool, heartbeat: ServiceHeartbeat) -> None:
        """The parts a stop signal must reach (a signal that came during start-up reaches them now)."""
        self._pool, self._heartbeat = pool, heartbeat
        if self.stop_requested:
            pool.begin_stop()
            heartbeat.stopping()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if signum == signal.SIGHUP:
            self._recheck_config()
            return
        if self.stop_requested:
            log.info("received %s again: not waiting for running HTTP requests", name)
            if self.server is not None:
                self.server.force_exit = True
            return
        self.stop_requested = True
        log.info("received %s; shutting down", name)
        if self._heartbeat is not None:
            self._heartbeat.stopping()
        if self._pool is not None:
            self._pool.begin_stop()
        if self.server is not None:
            self.server.should_exit = True

    def _recheck_config(self) -> None:
        path = self._settings.config_path
        if path is None:
            log.info("received SIGHUP: ignored (no config file to re-check)")
            return
        try:
            now = load_settings(path)
        except ConfigError as exc:
            log.warning("received SIGHUP: config %s is now invalid, a restart would fail: %s; "
                        "nothing changed", path, exc)
            return
        changed = [field.name for field in dataclasses.fields(Settings)
                   if getattr(now, field.name) != getattr(self._settings, field.name)]
        if changed:
            log.info("received SIGHUP: config %s is valid and changes %s; settings apply only at start: "
                     "restart ingestd to apply them", path, ", ".join(changed))
        else:
            log.info("received SIGHUP: config %s is valid and unchanged; nothing to do", path)
