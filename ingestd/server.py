"""`ingestd start`: the coordinator (with its workers) plus the HTTP API, in the foreground.

uvicorn owns the main thread and turns SIGINT/SIGTERM into a clean shutdown; the coordinator then
stops its workers, each closing its consumers. Sealed data is already durable at that point; the
unsealed tail is consumed again on the next start.

Before anything else the server takes the data_dir's lock (data_dir_lock.py): a second server on the
same data_dir exits non-zero at once, naming the holder's pid.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Iterator
from types import FrameType

import uvicorn

from ingestd.api.app import create_app
from ingestd.coordinator import Coordinator
from ingestd.data_dir_lock import hold_data_dir
from ingestd.logs import configure_logging
from ingestd.settings import Settings, warn_if_exposed

log = logging.getLogger(__name__)


def run_server(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM; raises DataDirLocked when another server holds the data_dir."""
    configure_logging(settings.log_level, "coordinator")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with hold_data_dir(settings.data_dir):
        warn_if_exposed(settings, log)
        coordinator = Coordinator(settings)
        coordinator.start()
        try:
            config = uvicorn.Config(create_app(coordinator), host=settings.http_host,
                                    port=settings.http_port, log_config=None, access_log=False)
            _Server(config).run()
        finally:
            log.info("stopping workers")
            coordinator.stop()
            log.info("stopped")


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its shutdown, which would skip stopping the workers; here a
    signal only asks the HTTP server to exit, and `run_server` then stops the coordinator."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        def request_exit(signum: int, frame: FrameType | None) -> None:
            log.info("received %s; shutting down", signal.Signals(signum).name)
            self.should_exit = True

        previous = {sig: signal.signal(sig, request_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
