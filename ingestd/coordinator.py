"""The coordinator: table lifecycle, partition discovery and assignment, worker supervision, and
the scatter side of queries. It holds metadata only; all data lives in the workers.

Partition p of a table goes to worker (index of p among the table's partitions) mod worker count, a
stable assignment, so after any restart each partition is owned by the same worker and resumes from
its own ledger.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from typing import Any

import pyarrow as pa

from ingestd.catalog import Catalog
from ingestd.config import Schema
from ingestd.errors import StreamError
from ingestd.ingest.table_spec import TableSpec
from ingestd.messages import (
    Ack,
    AssignPartitions,
    DropTable,
    QueryReply,
    RunQuery,
    WorkerStatus,
)
from ingestd.paths import DataPaths
from ingestd.query.plan import QueryPlan
from ingestd.rendezvous import Rendezvous
from ingestd.settings import Settings
from ingestd.worker_pool import WorkerPool

log = logging.getLogger(__name__)

SUPERVISE_INTERVAL_S = 0.5
REDISCOVER_INTERVAL_S = 30.0
STREAM_PROBE_INTERVAL_S = 3.0
QUERY_TIMEOUT_S = 15.0
DROP_TIMEOUT_S = 15.0


class Coordinator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.paths = DataPaths(settings.data_dir)
        self.catalog = Catalog(self.paths)
        self._rendezvous = Rendezvous()
        self._assignments: dict[str, dict[int, tuple[int, ...]]] = {}
        self._discovery_errors: dict[str, str] = {}
        self._unreachable: dict[str, str] = {}  # table → why its stream cannot be reached right now
        self._next_discovery: dict[str, float] = {}
        self._status: dict[int, WorkerStatus] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._pool: WorkerPool | None = None
        self._threads: list[threading.Thread] = []

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self.catalog.load()
        self._next_discovery = dict.fromkeys(self.catalog.tables, 0.0)
        self._pool = WorkerPool(self.settings.worker_count, str(self.settings.data_dir),
                                self.settings.log_level)
        for target in (self._read_replies, self._supervise, self._probe_streams):
            thread = threading.Thread(target=target, name=target.__name__, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("coordinator started: %d worker(s), %d table(s) restored", self.settings.worker_count,
                 len(self.catalog.tables))

    def stop(self) -> None:
        self._stopping.set()
        if self._pool is not None:
            self._pool.stop()
        for thread in self._threads:
            thread.join(2)

    @property
    def pool(self) -> WorkerPool:
        assert self._pool is not None, "coordinator not started"
        return self._pool

    # tables ----------------------------------------------------------------------------------
    def add_schema(self, raw: Any) -> Schema:
        return self.catalog.put_schema(raw)

    def add_table(self, raw: Any) -> TableSpec:
        spec = self.catalog.put_table(raw)
        with self._lock:
            self._next_discovery[spec.name] = 0.0  # the supervisor assigns its partitions at once
        return spec

    def drop_table(self, name: str) -> None:
        spec = self.catalog.remove_table(self.catalog.table(name).name)
        with self._lock:
            owners = self._assignments.pop(spec.name, {})
            self._next_discovery.pop(spec.name, None)
            self._discovery_errors.pop(spec.name, None)
        request_id = self._rendezvous.open()
        for worker_id in owners:
            self.pool.send(worker_id, DropTable(request_id, spec.name))
        acked = self._rendezvous.wait(request_id, len(owners), DROP_TIMEOUT_S)
        if len(acked) < len(owners):
            missing = len(owners) - len(acked)
            log.warning("table %s: %d worker(s) did not confirm the drop", spec.name, missing)
        shutil.rmtree(self.paths.table_data(spec.name) / spec.uid, ignore_errors=True)

    # queries ---------------------------------------------------------------------------------
    def table_schema(self, table: str) -> pa.Schema | None:
        spec = self.catalog.tables.get(table)
        return spec.arrow_schema if spec is not None else None

    def scatter(self, plan: QueryPlan) -> tuple[list[QueryReply], int]:
        """Send the plan's worker SQL to every worker owning partitions of the table."""
        with self._lock:
            owners = list(self._assignments.get(plan.table, {}))
        request_id = self._rendezvous.open()
        for worker_id in owners:
            self.pool.send(worker_id, RunQuery(request_id, plan))
        return self._rendezvous.wait(request_id, len(owners), QUERY_TIMEOUT_S), len(owners)

    # status ----------------------------------------------------------------------------------
    def table_status(self, name: str) -> dict[str, Any]:
        spec = self.catalog.table(name)
        with self._lock:
            assignment = self._assignments.get(spec.name, {})
            partitions = []
            for worker_id, owned in sorted(assignment.items()):
                status = self._status.get(worker_id)
                reports = status.partitions.get(spec.name, []) if status else []
                reported = {p["partition"]: p for p in reports}
                for partition in owned:
                    entry = {"partition": partition, "worker": worker_id, "state": "STARTING"}
                    entry |= reported.get(partition, {})
                    if spec.name in self._unreachable and entry["state"] == "CONSUMING":
                        entry["state"] = "STALLED"  # the worker keeps retrying; nothing is lost
                    partitions.append(entry)
            workers = {
                worker_id: {"pid": s.pid, "rssBytes": s.rss_bytes} | self.pool.health(worker_id)
                for worker_id, s in self._status.items() if worker_id in assignment
            }
            error = self._discovery_errors.get(spec.name) or self._unreachable.get(spec.name)
        if spec.name in self._unreachable:
            state = "STALLED"
        else:
            state = "WAITING_FOR_STREAM" if error and not partitions else "CONSUMING"
        return {
            "tableName": f"{spec.name}_REALTIME",
            "topic": spec.config.stream.topic,
            "state": state,
            "streamError": error,
            "partitions": sorted(partitions, key=lambda p: p["partition"]),
            "workers": workers,
            "malformedMessages": sum(p.get("malformedMessages", 0) for p in partitions),
        }

    # background threads ----------------------------------------------------------------------
    def _read_replies(self) -> None:
        while not self._stopping.is_set():
            try:
                message = self.pool.replies.get(timeout=0.5)
            except (queue.Empty, OSError, EOFError):
                continue
            if isinstance(message, WorkerStatus):
                with self._lock:
                    self._status[message.worker_id] = message
            elif isinstance(message, QueryReply | Ack):
                self._rendezvous.deliver(message.request_id, message)

    def _supervise(self) -> None:
        while not self._stopping.wait(SUPERVISE_INTERVAL_S):
            for worker_id in self.pool.restart_dead():
                self._reassign_worker(worker_id)
            now = time.monotonic()
            with self._lock:
                due = [name for name, when in self._next_discovery.items() if when <= now]
            for name in due:
                spec = self.catalog.tables.get(name)
                if spec is not None:
                    self._discover_and_assign(spec)

    def _probe_streams(self) -> None:
        """Ask each assigned table's stream for its metadata; a table whose stream does not answer is
        reported STALLED until it does again (workers keep retrying on their own meanwhile)."""
        while not self._stopping.wait(STREAM_PROBE_INTERVAL_S):
            with self._lock:
                names = list(self._assignments)
            for name in names:
                spec = self.catalog.tables.get(name)
                if spec is None:
                    continue
                provider = spec.consumer_factory().metadata_provider()
                try:
                    provider.partition_ids()
                except StreamError as exc:
                    if name not in self._unreachable:
                        log.error("table %s: stream unreachable, partitions stalled: %s", name, exc)
                    self._unreachable[name] = str(exc)
                else:
                    if self._unreachable.pop(name, None) is not None:
                        log.info("table %s: stream reachable again", name)
                finally:
                    provider.close()

    def _discover_and_assign(self, spec: TableSpec) -> None:
        provider = spec.consumer_factory().metadata_provider()
        try:
            partitions = provider.partition_ids()
        except StreamError as exc:
            with self._lock:
                self._discovery_errors[spec.name] = str(exc)
                self._next_discovery[spec.name] = time.monotonic() + 2.0
            log.warning("table %s: %s; retrying", spec.name, exc)
            return
        finally:
            provider.close()
        count = self.settings.worker_count
        assignment: dict[int, tuple[int, ...]] = {}
        for index, partition in enumerate(partitions):
            assignment[index % count] = (*assignment.get(index % count, ()), partition)
        with self._lock:
            if spec.name not in self.catalog.tables:
                return  # dropped meanwhile
            self._discovery_errors.pop(spec.name, None)
            self._assignments[spec.name] = assignment
            self._next_discovery[spec.name] = time.monotonic() + REDISCOVER_INTERVAL_S
        for worker_id, owned in assignment.items():
            self.pool.send(worker_id, AssignPartitions(spec, owned))

    def _reassign_worker(self, worker_id: int) -> None:
        with self._lock:
            owned = {name: a[worker_id] for name, a in self._assignments.items() if worker_id in a}
            self._status.pop(worker_id, None)
        for name, partitions in owned.items():
            spec = self.catalog.tables.get(name)
            if spec is not None:
                self.pool.send(worker_id, AssignPartitions(spec, partitions))
