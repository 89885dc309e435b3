"""Failure back-off: paces the retries of one operation that keeps failing, and keeps its log quiet.

One job: for one operation of one partition (sealing, polling), decide when the next attempt may run
(exponential back-off, FIRST_DELAY_S doubling up to MAX_DELAY_S) and what to log about a failure
streak: one ERROR line when it starts (with the traceback, if the caller passes one), a reminder at
most every REMINDER_S while it lasts, one line when the operation succeeds again. Not per attempt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

FIRST_DELAY_S = 0.25
MAX_DELAY_S = 30.0
REMINDER_S = 30.0


class FailureBackoff:
    """The retry pace and log of one failing operation (one per operation per partition)."""

    def __init__(self, label: str, operation: str, logger: logging.Logger,
                 clock: Callable[[], float] = time.monotonic, first_delay_s: float = FIRST_DELAY_S,
                 max_delay_s: float = MAX_DELAY_S, reminder_s: float = REMINDER_S) -> None:
        """`label` names the partition in log lines (e.g. "t[0]"), `operation` what fails ("sealing")."""
        self._label = label
        self._operation = operation
        self._log = logger
        self._clock = clock
        self._first_delay_s = first_delay_s
        self._max_delay_s = max_delay_s
        self._reminder_s = reminder_s
        self.failures = 0  # in the current streak
        self.error: str | None = None  # the last failure's message, while the streak lasts
        self.delay_s = 0.0  # the wait before the next attempt
        self._since = 0.0
        self._retry_at = 0.0
        self._remind_at = 0.0

    @property
    def failing(self) -> bool:
        return self.failures > 0

    def ready(self) -> bool:
        """May the operation be attempted now? (Always, unless a failure streak's back-off is running.)"""
        return not self.failures or self._clock() >= self._retry_at

    def failed(self, error: str, exc: BaseException | None = None) -> None:
        """Count a failed attempt and schedule the next one; log only a streak's start and reminders."""
        now = self._clock()
        if not self.failures:
            self._since = now
            self._remind_at = now + self._reminder_s
            self._log.error("%s: %s; retrying with back-off (at least every %.0f s)", self._label, error,
                            self._max_delay_s, exc_info=exc)
        elif now >= self._remind_at:
            self._remind_at = now + self._reminder_s
            self._log.error("%s: %s still failing (%d attempts in %.0f s): %s", self._label, self._operation,
                            self.failures + 1, now - self._since, error)
        self.failures += 1
        self.error = error
        self.delay_s = min(self._max_delay_s, self.delay_s * 2 if self.delay_s else self._first_delay_s)
        self._retry_at = now + self.delay_s

    def succeeded(self) -> str | None:
        """End a failure streak, if there was one (logged once); returns that streak's last error."""
        if not self.failures:
            return None
        error = self.error
        self._log.warning("%s: %s works again after %d failed attempt(s) in %.1f s", self._label,
                          self._operation, self.failures, self._clock() - self._since)
        self.failures, self.error, self.delay_s = 0, None, 0.0
        return error
