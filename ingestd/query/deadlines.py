"""Deadlines for DuckDB runs: one watcher thread interrupts each run whose deadline passes.

A thread of its own per run (threading.Timer) costs a thread start per query, on every worker and in
the broker; this keeps one sleeping thread per engine, woken only when a sooner deadline arrives.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable


class DeadlineWatch:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._pending: set[int] = set()  # tokens neither cancelled nor expired
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, deadline: float, on_expiry: Callable[[], None]) -> int:
        """Call `on_expiry` once `deadline` (time.monotonic()) passes, unless `cancel`led first."""
        token = next(self._ids)
        with self._condition:
            heapq.heappush(self._heap, (deadline, token, on_expiry))
            self._pending.add(token)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="query-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0][1] == token:
                self._condition.notify()
        return token

    def cancel(self, token: int) -> None:
        with self._condition:
            self._pending.discard(token)

    def _watch(self) -> None:
        while True:
            with self._condition:
                while self._heap and self._heap[0][1] not in self._pending:
                    heapq.heappop(self._heap)  # cancelled: the run ended in time
                if not self._heap:
                    self._condition.wait()
                    continue
                deadline, token, on_expiry = self._heap[0]
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    self._condition.wait(remaining)
                    continue
                heapq.heappop(self._heap)
                self._pending.discard(token)
            with contextlib.suppress(Exception):  # a cursor already closed: nothing to interrupt
                on_expiry()
