"""The coordinator's worker processes: spawn, send commands, receive replies, notice deaths, restart
with back-off.

Each worker has a command queue and a reply queue of its own, read by a thread of its own: a worker
killed in the middle of a write (kill -9 while it holds the queue's lock) can only ever block its own
queue, which its replacement does not reuse — never another worker's replies.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ingestd.messages import Shutdown
from ingestd.worker import WorkerOptions, worker_main

log = logging.getLogger(__name__)

_CONTEXT = multiprocessing.get_context("spawn")  # never fork a process that runs threads
MAX_BACKOFF_S = 30.0
HEALTHY_AFTER_S = 60.0
CRASH_LOOP_RESTARTS = 3


@dataclass
class WorkerHandle:
    worker_id: int
    process: Any
    commands: Any
    replies: Any
    started: float = field(default_factory=time.monotonic)
    restarts: int = 0
    next_restart: float = 0.0
    last_exit_code: int | None = None


class WorkerPool:
    def __init__(self, count: int, options: WorkerOptions, on_reply: Callable[[object], None]) -> None:
        self._options = options
        self._on_reply = on_reply
        self._stopping = threading.Event()
        self.workers = [self._spawn(i) for i in range(count)]

    def _spawn(self, worker_id: int, restarts: int = 0) -> WorkerHandle:
        commands, replies = _CONTEXT.Queue(), _CONTEXT.Queue()
        process = _CONTEXT.Process(
            target=worker_main, name=f"ingestd-worker-{worker_id}", daemon=True,
            args=(worker_id, self._options, commands, replies),
        )
        process.start()
        threading.Thread(target=self._read_replies, args=(worker_id, process, replies),
                         name=f"replies-{worker_id}", daemon=True).start()
        return WorkerHandle(worker_id, process, commands, replies, restarts=restarts)

    def _read_replies(self, worker_id: int, process: Any, replies: Any) -> None:
        """Hand each reply of one worker process to `on_reply` until the process is gone and drained."""
        while not self._stopping.is_set():
            try:
                message = replies.get(timeout=0.5)
            except queue.Empty:
                if not process.is_alive():
                    return
                continue
            except (OSError, EOFError, ValueError):
                return
            try:
                self._on_reply(message)
            except Exception:
                log.exception("worker %d: cannot handle reply %r", worker_id, type(message).__name__)

    def send(self, worker_id: int, command: object) -> None:
        self.workers[worker_id].commands.put(command)

    def is_alive(self, worker_id: int) -> bool:
        return bool(self.workers[worker_id].process.is_alive())

    def restart_dead(self) -> list[int]:
        """Restart workers that died (with exponential back-off); returns the ids restarted now."""
        restarted = []
        now = time.monotonic()
        for handle in self.workers:
            if handle.process.is_alive():
                if handle.restarts and now - handle.started > HEALTHY_AFTER_S:
                    handle.restarts = 0
                continue
            if handle.next_restart == 0.0:
                handle.last_exit_code = handle.process.exitcode
                delay = min(MAX_BACKOFF_S, 2.0 ** handle.restarts - 1)
                handle.next_restart = now + delay
                log.error("worker %d (pid %s) died with exit code %s; restart #%d in %.0fs",
                          handle.worker_id, handle.process.pid, handle.process.exitcode,
                          handle.restarts + 1, delay)
            if now >= handle.next_restart:
                attempt = handle.restarts + 1
                if attempt >= CRASH_LOOP_RESTARTS:
                    log.error("worker %d is crash-looping (restart #%d)", handle.worker_id, attempt)
                replacement = self._spawn(handle.worker_id, handle.restarts + 1)
                replacement.last_exit_code = handle.last_exit_code
                self.workers[handle.worker_id] = replacement
                restarted.append(handle.worker_id)
        return restarted

    def health(self, worker_id: int) -> dict[str, object]:
        """Restarts since it was last healthy for a minute; three or more is a crash loop."""
        handle = self.workers[worker_id]
        return {"restarts": handle.restarts, "crashLoop": handle.restarts >= CRASH_LOOP_RESTARTS,
                "lastExitCode": handle.last_exit_code}

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        for handle in self.workers:
            if handle.process.is_alive():
                handle.commands.put(Shutdown())
        deadline = time.monotonic() + timeout_s
        for handle in self.workers:
            handle.process.join(max(0.0, deadline - time.monotonic()))
            if handle.process.is_alive():
                log.warning("worker %d did not stop in time; terminating", handle.worker_id)
                handle.process.terminate()
                handle.process.join(2)
            handle.commands.close()
            handle.replies.close()
