"""librdkafka's own log lines through Python logging, one logger per table, rate-limited.

Left alone, librdkafka prints to stderr by itself: during a broker outage every client of every
partition reports each reconnect attempt, some 330 lines a second on a small server, enough for journald
to rate-limit the service and drop ingestd's own lines with them. Here each table's clients log to
`ingestd.librdkafka.<table>` (confluent-kafka's `logger` property; the lines are handed over when the
client is polled), in the process's format, and a filter lets at most MAX_LINES of them through per
WINDOW_S per table and process; the next line after a window that dropped some says how many.

A table config cannot set `logger` itself (stream/kafka_properties.py refuses it): ingestd adds it
after that policy check.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

LOGGER_PREFIX = "ingestd.librdkafka"
CLIENT_ID_PREFIX = "ingestd-"  # TableSpec.consumer_factory names a table's clients "ingestd-<table>"
MAX_LINES = 20
WINDOW_S = 10.0
_NOTE = "_ingestd_rate_limit_note"  # marks the filter's own "suppressed" line, which always passes
_filters_lock = threading.Lock()


class RateLimitFilter(logging.Filter):
    """Pass at most `max_lines` records per `window_s`; the first record of a later window is preceded by
    one WARNING naming how many were dropped. Thread-safe (clients may be polled on several threads)."""

    def __init__(self, logger: logging.Logger, max_lines: int = MAX_LINES, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._logger = logger
        self._max_lines = max_lines
        self._window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start = float("-inf")
        self._passed = 0
        self.suppressed = 0  # in the current window

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _NOTE, False):
            return True
        with self._lock:
            now = self._clock()
            dropped, since = 0, 0.0
            if now - self._window_start >= self._window_s:
                dropped, since = self.suppressed, now - self._window_start
                self._window_start, self._passed, self.suppressed = now, 0, 0
            allowed = self._passed < self._max_lines
            if allowed:
                self._passed += 1
                last = self._passed == self._max_lines
            else:
                self.suppressed += 1
        if dropped:
            self._logger.warning("suppressed %d librdkafka log line(s) in the last %.0f s (at most %d per "
                                 "%.0f s are logged)", dropped, since, self._max_lines, self._window_s,
                                 extra={_NOTE: True})
        if allowed and last:
            record.msg = (f"{record.msg} [more librdkafka lines of this table are suppressed for up to "
                          f"{self._window_s:.0f} s]")
        return allowed


def client_logger(client_id: str) -> logging.Logger:
    """The rate-limited logger for the clients named `client_id` ("ingestd-<table>")."""
    table = client_id.removeprefix(CLIENT_ID_PREFIX)
    logger = logging.getLogger(f"{LOGGER_PREFIX}.{table}")
    with _filters_lock:
        if not any(isinstance(f, RateLimitFilter) for f in logger.filters):
            logger.addFilter(RateLimitFilter(logger))
    return logger


def with_client_logger(settings: dict[str, Any], client_id: str) -> dict[str, Any]:
    """`settings` with librdkafka's log lines routed to the table's logger (set after the property policy,
    so it overrides nothing a user may set)."""
    return settings | {"logger": client_logger(client_id)}
