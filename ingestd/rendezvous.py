"""Matching worker replies to the coordinator thread waiting for them, by request id."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

_ids = itertools.count(1)
WAIT_SLICE_S = 0.1


def new_request_id() -> int:
    """A request id unique in this process (queries and table drops share the one sequence)."""
    return next(_ids)


class Rendezvous:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._replies: dict[int, list[Any]] = {}

    def open(self, request_id: int | None = None) -> int:
        request_id = new_request_id() if request_id is None else request_id
        with self._condition:
            self._replies[request_id] = []
        return request_id

    def deliver(self, request_id: int, reply: Any) -> None:
        with self._condition:
            if request_id in self._replies:  # a late reply to a request that timed out is dropped
                self._replies[request_id].append(reply)
                self._condition.notify_all()

    def wait(self, request_id: int, expected: int, deadline: float,
             cancelled: threading.Event | None = None) -> list[Any]:
        """Replies that arrived before `deadline` (time.monotonic()), or before `cancelled` was set;
        fewer than `expected` if some never came."""
        with self._condition:
            while len(self._replies[request_id]) < expected:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (cancelled is not None and cancelled.is_set()):
                    break
                self._condition.wait(min(remaining, WAIT_SLICE_S))
            return self._replies.pop(request_id)
