"""The coordinator's worker processes: spawn, send commands, receive replies, notice deaths, restart
with back-off.

Each worker has a command queue and a reply queue of its own, read by a thread of its own: a worker
killed in the middle of a write (kill -9 while it holds the queue's lock) can only ever block its own
queue, which its replacement does not reuse — never another worker's replies.

Stopping: workers ignore SIGINT, SIGTERM and SIGHUP (systemd and a terminal signal the whole process
group; the coordinator alone decides). They are spawned with those signals blocked, so not even a worker
still starting up can die of one, and unblock them once they ignore them. multiprocessing's resource
tracker (a helper process of the same group, which ignores SIGINT and SIGTERM by itself) is started with
SIGHUP blocked too: killed by one, it would leave the queues' semaphores unaccounted for. `begin_stop`
(at the signal) ends all restarts; `stop` sends each worker Shutdown and kills (SIGKILL) those that do not
exit in time.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import resource_tracker
from typing import Any

from ingestd.messages import Shutdown
from ingestd.worker import WorkerOptions, worker_main

log = logging.getLogger(__name__)

_CONTEXT = multiprocessing.get_context("spawn")  # never fork a process that runs threads
MAX_BACKOFF_S = 30.0
HEALTHY_AFTER_S = 60.0
CRASH_LOOP_RESTARTS = 3
WORKER_IGNORED_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


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
        self._stopping = threading.Event()  # reply readers end
        self._no_restarts = False  # set at the stop signal already, while HTTP requests still finish
        self._lock = threading.Lock()  # a restart and `stop` never interleave
        with _stop_signals_blocked():  # the tracker unblocks SIGINT/SIGTERM (and ignores them), not SIGHUP
            resource_tracker.ensure_running()
        self.workers = [self._spawn(i) for i in range(count)]
        # Registered after multiprocessing's own exit hook, so it runs first: that hook would SIGTERM
        # (ignored) and then wait forever for a worker `stop` never reached (an error path).
        atexit.register(self._kill_leftovers)

    def _spawn(self, worker_id: int, restarts: int = 0) -> WorkerHandle:
        with _stop_signals_blocked():  # the child inherits the mask; worker_main ignores, then unblocks
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
        """Restart workers that died (with exponential back-off); returns the ids restarted now. Once a
        stop has begun, nothing is restarted."""
        with self._lock:
            if self._no_restarts:
                return []
            return [handle.worker_id for handle in list(self.workers) if self._restart_if_dead(handle)]

    def _restart_if_dead(self, handle: WorkerHandle) -> bool:
        now = time.monotonic()
        if handle.process.is_alive():
            if handle.restarts and now - handle.started > HEALTHY_AFTER_S:
                handle.restarts = 0
            return False
        attempt = handle.restarts + 1
        if handle.next_restart == 0.0:
            handle.last_exit_code = handle.process.exitcode
            delay = min(MAX_BACKOFF_S, 2.0 ** handle.restarts - 1)
            handle.next_restart = now + delay
            crash_loop = "; crash-looping" if attempt >= CRASH_LOOP_RESTARTS else ""
            log.error("worker %d (pid %s) died with exit code %s; restart #%d in %.0f s%s", handle.worker_id,
                      handle.process.pid, handle.process.exitcode, attempt, delay, crash_loop)
        if now < handle.next_restart:
            return False
        replacement = self._spawn(handle.worker_id, attempt)
        replacement.last_exit_code = handle.last_exit_code
        self.workers[handle.worker_id] = replacement
        log.info("worker %d restarted as pid %s (restart #%d)", handle.worker_id, replacement.process.pid,
                 attempt)
        return True

    def health(self, worker_id: int) -> dict[str, object]:
        """Restarts since it was last healthy for a minute; three or more is a crash loop."""
        handle = self.workers[worker_id]
        return {"restarts": handle.restarts, "crashLoop": handle.restarts >= CRASH_LOOP_RESTARTS,
                "lastExitCode": handle.last_exit_code}

    def begin_stop(self) -> None:
        """No more restarts from now on (safe to call from a signal handler: it only sets a flag)."""
        self._no_restarts = True

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask every worker to shut down (each closes its partitions); SIGKILL those still running after
        `timeout_s` (they ignore SIGTERM). Sealed data is durable either way; unsealed rows are re-read."""
        with self._lock:
            self._no_restarts = True
        for handle in self.workers:
            if handle.process.is_alive():
                handle.commands.put(Shutdown())
        deadline = time.monotonic() + timeout_s
        for handle in self.workers:
            handle.process.join(max(0.0, deadline - time.monotonic()))
            if handle.process.is_alive():
                log.warning("worker %d (pid %s) did not stop within %.0f s; killing it", handle.worker_id,
                            handle.process.pid, timeout_s)
                handle.process.kill()
                handle.process.join(5)
            elif handle.process.exitcode:
                log.warning("worker %d (pid %s) exited with code %s while stopping", handle.worker_id,
                            handle.process.pid, handle.process.exitcode)
        self._stopping.set()
        for handle in self.workers:
            handle.commands.close()
            handle.replies.close()


    def _kill_leftovers(self) -> None:
        for handle in self.workers:
            if handle.process.is_alive():
                log.warning("worker %d (pid %s) still running at exit; killing it", handle.worker_id,
                            handle.process.pid)
                handle.process.kill()


@contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """Block SIGINT/SIGTERM/SIGHUP in this thread meanwhile: a process started now inherits the mask."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, WORKER_IGNORED_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
