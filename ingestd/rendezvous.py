"""Matching worker replies to the coordinator thread waiting for them, by request id."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any


class Rendezvous:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._condition = threading.Condition()
        self._replies: dict[int, list[Any]] = {}

    def open(self) -> int:
        with self._condition:
            request_id = next(self._ids)
            self._replies[request_id] = []
            return request_id

    def deliver(self, request_id: int, reply: Any) -> None:
        with self._condition:
            if request_id in self._replies:  # a late reply to a request that timed out is dropped
                self._replies[request_id].append(reply)
                self._condition.notify_all()

    def wait(self, request_id: int, expected: int, timeout_s: float) -> list[Any]:
        """Replies that arrived within `timeout_s` (fewer than `expected` if some never came)."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while len(self._replies[request_id]) < expected:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
            return self._replies.pop(request_id)
