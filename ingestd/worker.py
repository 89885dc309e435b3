"""One worker process: owns its assigned partitions end to end and answers queries over them.

Ingest thread loop: poll every owned partition once (consume → decode → build → seal → commit), then
handle coordinator commands (assignments, config changes, pause/resume/force commit, drops, queries,
cancellations); when idle, wait for a command briefly instead of spinning. Commands run on the ingest
thread in the order sent, so a query sent after a config change sees it applied. Queries run on the
worker's query threads (worker_queries.py) over a snapshot taken here, so a slow query never holds up
consumption. Every second it reports its partitions' status. It exits when told to, or when the
coordinator process has died (so it never keeps writing state nobody supervises).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from ingestd.config.table import OffsetReset
from ingestd.deepstore.config import DeepStoreSettings
from ingestd.deepstore.worker_link import DeepStoreLink
from ingestd.ingest.partition import PartitionIngestor
from ingestd.ingest.table_spec import TableSpec
from ingestd.logs import configure_logging
from ingestd.messages import (
    Ack,
    AssignPartitions,
    CancelQuery,
    Checkpointed,
    ControlReply,
    ControlTable,
    DropTable,
    RevokePartitions,
    RevokeReply,
    RunQuery,
    Shutdown,
    TrimPartitions,
    UpdateTable,
    WorkerStatus,
)
from ingestd.paths import DataPaths
from ingestd.query.engine import ArrowSqlEngine
from ingestd.worker_queries import WorkerQueryService

log = logging.getLogger(__name__)

FETCH_MAX_MESSAGES = 10_000
IDLE_WAIT_S = 0.05
STATUS_INTERVAL_S = 1.0
REVOKE_FLUSH_S = 20.0  # group mode with a deep store: how long a revocation waits for pending commits
# Each consume() of 10,000 messages allocates 10,000 GC-tracked Message objects. At the default gen-0
# threshold (700) that runs the cyclic collector every 700 of them: ~11% of a worker's time in the
# profile (perf/README.md), for objects reference counting frees anyway. Collect far less often.
GC_THRESHOLDS = (200_000, 20, 20)


@dataclass(frozen=True)
class WorkerOptions:
    """What a worker process is started with (picklable: it crosses the spawn)."""

    data_dir: str
    log_level: str = "INFO"
    query_threads: int = 2
    duckdb_threads: int = 1
    duckdb_memory_mb: int = 1024
    log_format: str = "text"  # logs.LOG_FORMATS
    deep_store: DeepStoreSettings | None = None  # sealed segments also go to the tables' Delta tables


def worker_main(worker_id: int, options: WorkerOptions, commands: Any, replies: Any) -> None:
    """Entry point of a worker process (spawned by the coordinator, with SIGINT/SIGTERM/SIGHUP blocked).

    Those signals are ignored: systemd and terminals signal the whole process group, and only the
    coordinator stops a worker (Shutdown, else SIGKILL). Ignoring before unblocking discards any that
    arrived while the process started."""
    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for signum in stop_signals:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
    configure_logging(options.log_level, f"worker-{worker_id}", options.log_format)
    gc.freeze()  # start-up objects (modules, configs) are never garbage: keep them out of collections
    gc.set_threshold(*GC_THRESHOLDS)
    engine = ArrowSqlEngine(options.duckdb_threads, options.duckdb_memory_mb)
    queries = WorkerQueryService(worker_id, replies, options.query_threads, engine)
    deep_store = DeepStoreLink(options.deep_store) if options.deep_store is not None else None
    Worker(worker_id, DataPaths(Path(options.data_dir)), commands, replies, queries, deep_store).run()


class Worker:
    def __init__(self, worker_id: int, paths: DataPaths, commands: Any, replies: Any,
                 queries: WorkerQueryService, deep_store: DeepStoreLink | None = None) -> None:
        self.worker_id = worker_id
        self._deep_store = deep_store
        self._paths = paths
        self._commands = commands
        self._replies = replies
        self._tables: dict[str, dict[int, PartitionIngestor]] = {}
        self._specs: dict[str, TableSpec] = {}
        self._server_partitions: dict[str, int] = {}
        self._errors: dict[tuple[str, int], str] = {}
        self._queries = queries
        self._process = psutil.Process()
        self._next_status = 0.0
        self._running = True

    def run(self) -> None:
        log.info("worker %d started (pid %d)", self.worker_id, os.getpid())
        parent = multiprocessing.parent_process()
        try:
            while self._running:
                # Checked before every round (a select on a pipe): a worker must not seal segments after
                # its coordinator died, which could no longer commit them to a consumer group.
                if parent is not None and not parent.is_alive():
                    log.error("worker %d: coordinator died; exiting", self.worker_id)
                    break
                consumed = self._poll_partitions()
                self._handle_commands(wait_s=0 if consumed else IDLE_WAIT_S)
                if time.monotonic() >= self._next_status:
                    self._report_status()
        finally:
            self._queries.close()
            for table in list(self._tables):
                self._close_table(table)
            if self._deep_store is not None:
                self._deep_store.close()

    def _poll_partitions(self) -> int:
        consumed = 0
        for table, partitions in self._tables.items():
            for partition, ingestor in partitions.items():
                try:
                    consumed += ingestor.poll(FETCH_MAX_MESSAGES)
                except Exception as exc:  # counted and reported; one partition must not stop the others
                    ingestor.counters.last_error = f"{type(exc).__name__}: {exc}"
                    log.exception("%s[%d]: poll failed", table, partition)
        return consumed

    def _handle_commands(self, wait_s: float) -> None:
        try:
            command = self._commands.get(timeout=wait_s) if wait_s else self._commands.get_nowait()
        except queue.Empty:
            return
        while True:
            self._dispatch(command)
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return

    def _dispatch(self, command: object) -> None:
        if isinstance(command, AssignPartitions):
            self._assign(command)
        elif isinstance(command, RevokePartitions):
            checkpoints = self._revoke(command.table, command.partitions, command.seal)
            self._replies.put(RevokeReply(command.request_id, self.worker_id, command.table, checkpoints))
        elif isinstance(command, TrimPartitions):
            self._trim(command.table, command.committed)
            self._replies.put(Ack(command.request_id, self.worker_id))
        elif isinstance(command, UpdateTable):
            if command.spec.name in self._tables:
                self._apply_spec(command.spec, command.server_partitions)
            self._replies.put(Ack(command.request_id, self.worker_id))
        elif isinstance(command, ControlTable):
            self._replies.put(self._control(command))
        elif isinstance(command, RunQuery):
            table = command.plan.table
            spec = self._specs.get(table)
            views = [ingestor.view for ingestor in self._tables.get(table, {}).values()]
            self._queries.submit(command, spec.arrow_schema if spec else None, views)
        elif isinstance(command, CancelQuery):
            self._queries.cancel(command.request_id)
        elif isinstance(command, DropTable):
            self._close_table(command.table)
            self._replies.put(Ack(command.request_id, self.worker_id))
        elif isinstance(command, Shutdown):
            self._running = False

    def _assign(self, command: AssignPartitions) -> None:
        """Consume `partitions`, serve the sealed segments of `held`, revoke any other partition consumed
        here; a partition it starts (or starts again after a revocation) is built from its ledger."""
        spec, partitions, server_partitions, paused = (command.spec, command.partitions,
                                                       command.server_partitions, command.paused)
        owned = self._tables.setdefault(spec.name, {})
        revoked = tuple(p for p, ingestor in owned.items() if p not in partitions and not ingestor.released)
        if revoked:
            self._revoke(spec.name, revoked, seal=True)
        if owned and (self._specs.get(spec.name) != spec
                      or self._server_partitions.get(spec.name) != server_partitions):
            self._apply_spec(spec, server_partitions)  # changed while this worker missed the update
        self._specs[spec.name] = spec
        self._server_partitions[spec.name] = server_partitions
        for ingestor in owned.values():
            if ingestor.paused != paused:
                ingestor.pause() if paused else ingestor.resume()
        factory = spec.consumer_factory()
        decoder_class = spec.config.stream.decoder.load()
        committed = command.committed
        sink = None if committed is None else self._checkpoint_sink(spec.name)
        link = self._deep_store if self._deep_store is not None and self._deep_store.supports(spec) else None
        if link is not None and committed is not None:  # group mode resumes after what the deep store holds
            committed = link.resume_offsets(spec, committed, (*partitions,))
        for partition in (*partitions, *command.held):
            consume = partition in partitions
            current = owned.get(partition)
            if current is not None and (current.released or not consume):
                if not (consume and current.released):
                    continue
                current.close()  # revoked here before, now owned again: rebuilt from its ledger
                del owned[partition]
            elif current is not None:
                continue
            group_sink = None if sink is None or not consume else sink(partition)
            try:
                owned[partition] = ingestor = PartitionIngestor(
                    spec, partition, self._paths.partition(spec.name, spec.uid, partition),
                    factory, decoder_class(spec.schema, spec.config), server_partitions=server_partitions,
                    paused=paused, consume=consume,
                    committed=None if committed is None else committed.get(partition),
                    trim_to=None if command.trim_to is None else command.trim_to.get(partition),
                    # with a deep store, the group hears of a checkpoint once the Delta log holds it
                    checkpoint_sink=_ignore if group_sink is not None and link is not None
                    else None if sink is None else sink(partition),
                )
                if link is not None:
                    ingestor.on_sealed = link.attach(
                        spec, partition, self._paths.partition(spec.name, spec.uid, partition).segments,
                        [meta for meta, _ in ingestor.sealed], committed is not None, group_sink)
                self._errors.pop((spec.name, partition), None)
            except Exception as exc:  # reported in status; the coordinator re-sends assignments
                self._errors[(spec.name, partition)] = f"{type(exc).__name__}: {exc}"
                log.exception("%s[%d]: cannot start ingestion", spec.name, partition)

    def _revoke(self, table: str, partitions: tuple[int, ...], seal: bool) -> dict[int, int]:
        """Release these partitions of the table (partition_control.py); each one's checkpoint."""
        checkpoints: dict[int, int] = {}
        owned = self._tables.get(table, {})
        flush_until = time.monotonic() + REVOKE_FLUSH_S
        for partition in partitions:
            ingestor = owned.get(partition)
            if ingestor is None:
                continue
            try:
                checkpoint = ingestor.release(seal)
            except Exception:  # the consumer's close failed: it is released all the same
                log.exception("%s[%d]: error while revoking", table, partition)
                checkpoint = ingestor.release(False)
            if self._deep_store is not None and self._deep_store.follows_group(table, partition):
                left = max(0.0, flush_until - time.monotonic())
                checkpoint = self._deep_store.flush(table, partition, left)
            if checkpoint is not None:
                checkpoints[partition] = checkpoint
        return checkpoints

    def _trim(self, table: str, committed: dict[int, int]) -> None:
        for partition, offset in committed.items():
            ingestor = self._tables.get(table, {}).get(partition)
            if ingestor is None:
                continue
            try:
                ingestor.trim(offset)
            except OSError as exc:
                ingestor.counters.last_error = f"cannot drop segments the group did not commit: {exc}"
                log.exception("%s[%d]: cannot drop uncommitted segments", table, partition)

    def _checkpoint_sink(self, table: str) -> Callable[[int], Callable[[int], None]]:
        """Consumer-group mode: each new checkpoint of a partition goes to the coordinator's group member."""
        def for_partition(partition: int) -> Callable[[int], None]:
            return lambda offset: self._replies.put(Checkpointed(table, partition, offset, self.worker_id,
                                                                 os.getpid()))
        return for_partition

    def _apply_spec(self, spec: TableSpec, server_partitions: int) -> None:
        """A live table's new config or schema, applied to each of its partitions here."""
        self._specs[spec.name] = spec
        self._server_partitions[spec.name] = server_partitions
        factory = spec.consumer_factory()
        decoder_class = spec.config.stream.decoder.load()
        for partition, ingestor in self._tables.get(spec.name, {}).items():
            try:
                decoder = decoder_class(spec.schema, spec.config)
                ingestor.reconfigure(spec, decoder, factory, server_partitions)
            except Exception as exc:  # reported; the partition goes on under what it had
                ingestor.counters.last_error = f"applying the new table config failed: {exc}"
                log.exception("%s[%d]: cannot apply the new table config", spec.name, partition)

    def _control(self, command: ControlTable) -> ControlReply:
        """Pause, resume or force-commit the table's partitions here; which segments were sealed."""
        committed: list[str] = []
        pending: list[str] = []
        for partition, ingestor in self._tables.get(command.table, {}).items():
            if command.partitions is not None and partition not in command.partitions:
                continue
            if command.action == "resume":
                ingestor.resume(OffsetReset(command.consume_from) if command.consume_from else None)
                continue
            sealed, failed = ingestor.pause() if command.action == "pause" else ingestor.force_commit()
            committed += [sealed] if sealed else []
            pending += [failed] if failed else []
        return ControlReply(command.request_id, self.worker_id, tuple(committed), tuple(pending))

    def _close_table(self, table: str) -> None:
        self._specs.pop(table, None)
        self._server_partitions.pop(table, None)
        if self._deep_store is not None:
            self._deep_store.forget(table)
        for ingestor in self._tables.pop(table, {}).values():
            ingestor.close()

    def _drop_local_copies(self) -> None:
        """Local retention: sealed segments in the deep store long enough lose their local copy."""
        assert self._deep_store is not None
        for table, owned in self._tables.items():
            for partition, ingestor in owned.items():
                names = self._deep_store.local_drops(table, partition)
                try:
                    if names:
                        ingestor.drop_local(names)
                except Exception:  # reported; the copies are dropped at a later round or never: no loss
                    log.exception("%s[%d]: cannot drop local copies of committed segments", table, partition)

    def _deep_store_status(self, table: str, partition: int) -> dict[str, Any]:
        return {} if self._deep_store is None else self._deep_store.status_fields(table, partition)

    def _report_status(self) -> None:
        self._next_status = time.monotonic() + STATUS_INTERVAL_S
        if self._deep_store is not None:
            self._drop_local_copies()
        partitions: dict[str, list[dict[str, Any]]] = {
            table: [ingestor.status() | self._deep_store_status(table, partition)
                    for partition, ingestor in owned.items()]
            for table, owned in self._tables.items()
        }
        for (table, partition), error in self._errors.items():
            partitions.setdefault(table, []).append({"partition": partition, "state": "ERROR",
                                                     "lastError": error})
        cpu = self._process.cpu_times()
        self._replies.put(WorkerStatus(self.worker_id, os.getpid(), self._process.memory_info().rss,
                                       partitions, cpu.user + cpu.system))


def _ignore(_offset: int) -> None:
    """A checkpoint published elsewhere (the deep store's committer publishes it once committed)."""
