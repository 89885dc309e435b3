"""Admission control for queries: at most `running` at once, at most `waiting` more in line for a slot
(each for no longer than its own timeout), and anything beyond that answered "server busy" at once.

Queries run on a thread pool of their own, never FastAPI's shared one, so a burst of slow queries can
delay only other queries — never `/health`, the status routes, or table management.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
DISCONNECT_POLL_S = 0.2


class ServerBusy(Exception):
    """No slot is free and the line for one is full."""


class QueryAdmission:
    def __init__(self, running: int, waiting: int) -> None:
        self.running = running
        self.waiting = waiting
        self._slots: asyncio.Semaphore | None = None  # made on first use, inside the server's event loop
        self._in_line = 0
        self._executor = concurrent.futures.ThreadPoolExecutor(running, thread_name_prefix="query")

    async def run(self, call: Callable[[], T], wait_s: float,
                  disconnected: Callable[[], Awaitable[bool]], on_disconnect: Callable[[], Any]) -> T:
        """Run `call` on the query pool once a slot is free (ServerBusy if none frees up within `wait_s`
        or the line is full). While it runs, a client that disconnects triggers `on_disconnect`."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.running)
        if self._slots.locked() and self._in_line >= self.waiting:
            raise ServerBusy(f"{self.running} queries are running and {self._in_line} are waiting")
        self._in_line += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=max(wait_s, 0.001))
        except TimeoutError:
            raise ServerBusy(f"no query slot freed up within {wait_s:.1f} s "
                             f"({self.running} queries running)") from None
        finally:
            self._in_line -= 1
        try:
            future = asyncio.get_running_loop().run_in_executor(self._executor, call)
            notified = False
            while True:
                done, _ = await asyncio.wait({future}, timeout=DISCONNECT_POLL_S)
                if done:
                    return future.result()
                if not notified and await disconnected():
                    on_disconnect()
                    notified = True
        finally:
            self._slots.release()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
