"""The coordinator: table lifecycle, partition assignment, worker supervision, and the scatter side of
queries. It holds metadata only; all data lives in the workers.

Its background threads (supervisor, stream probe, a reply reader per worker) catch every error: a failure is
logged, recorded against the table it concerns (shown in that table's status), and the loop goes on.
One bad table can never stop the others from being assigned or dead workers from being restarted.

Config changes (schemas, tables, pause state) are serialized; each is swapped into the catalog and sent to
the workers under the lock that also orders assignments, so a worker always gets the newest config last
and sees a change before any query planned after it (its commands run in the order sent).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from typing import Any

from ingestd.assigning import Assigning
from ingestd.catalog import Catalog
from ingestd.config import Schema
from ingestd.deepstore.query_source import DeepStoreQueries, DeltaSnapshot, excluded
from ingestd.errors import ConfigError, Conflict, NotFound
from ingestd.group_tables import GroupTables, uses_group
from ingestd.ingest.table_spec import TableSpec
from ingestd.messages import (
    Ack,
    CancelQuery,
    Checkpointed,
    ControlReply,
    ControlTable,
    DropTable,
    QueryReply,
    RevokeReply,
    RunQuery,
    UpdateTable,
    WorkerStatus,
)
from ingestd.paths import DataPaths
from ingestd.peers import Peers
from ingestd.query.broker import REPLY_GRACE_S, Gathered, QueryContext
from ingestd.query.plan import QueryPlan
from ingestd.query.table_info import TableInfo
from ingestd.redact import secret_values
from ingestd.rendezvous import Rendezvous
from ingestd.settings import Settings
from ingestd.stream.checks import check_stream
from ingestd.stream.spi import connection_settings
from ingestd.stream_probe import StreamProbe
from ingestd.table_status import CoordinatorView, consuming_segments_info, table_status
from ingestd.worker import WorkerOptions
from ingestd.worker_pool import WorkerPool

log = logging.getLogger(__name__)

SUPERVISE_INTERVAL_S = 0.5
RETRY_DISCOVERY_S = 2.0
STREAM_PROBE_INTERVAL_S = 3.0
DROP_TIMEOUT_S = 15.0
CONTROL_TIMEOUT_S = 60.0  # workers seal their consuming segments (pause, forceCommit) or apply a config
# A loop step may wait ~5 s per table whose brokers do not answer (one metadata request each): a step
# running longer than this is hung, and the systemd watchdog pings stop (systemd_notify.py).
LOOP_STALL_S = 60.0
LOOP_STALL_PER_TABLE_S = 10.0


class Coordinator(Assigning):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.paths = DataPaths(settings.data_dir)
        self.catalog = Catalog(self.paths, settings.allowed_file_dirs)
        self._rendezvous = Rendezvous()
        self._probe = StreamProbe()
        self._assignments: dict[str, dict[int, tuple[int, ...]]] = {}  # table → worker → consumed
        self._held: dict[str, dict[int, tuple[int, ...]]] = {}  # table → worker → sealed data only served
        self._groups = GroupTables(self)
        self._table_errors: dict[str, str] = {}  # table → why it cannot be assigned right now
        self._next_discovery: dict[str, float] = {}
        self._status: dict[int, WorkerStatus] = {}
        self._lock = threading.RLock()
        self._config_lock = threading.Lock()  # one config change (schema, table, pause state) at a time
        self._stopping = threading.Event()
        self._pool: WorkerPool | None = None
        self._deep_queries = DeepStoreQueries(settings.deep_store) if settings.deep_store else None
        self._peers = Peers(settings.peers, settings.auth) if settings.peers else None
        self._threads: list[threading.Thread] = []
        self._beats: dict[str, float] = {}  # loop name → when its last step ended

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self.catalog.load()
        self._next_discovery = dict.fromkeys(self.catalog.tables, 0.0)
        threads, memory_mb = self.settings.query.duckdb_limits(self.settings.worker_count + 1)
        self._pool = WorkerPool(self.settings.worker_count, WorkerOptions(
            str(self.settings.data_dir), self.settings.log_level, self.settings.query.threads_per_worker,
            threads, memory_mb, log_format=self.settings.log_format, deep_store=self.settings.deep_store),
            self._on_reply)
        loops = {"supervisor": (self._supervise, SUPERVISE_INTERVAL_S),
                 "stream-probe": (self._probe_streams, STREAM_PROBE_INTERVAL_S)}
        for name, (step, interval) in loops.items():
            self._beats[name] = time.monotonic()
            thread = threading.Thread(target=self._forever, args=(name, step, interval), name=name,
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("coordinator started: %d worker(s), %d table(s) restored", self.settings.worker_count,
                 len(self.catalog.tables))

    def stop(self) -> None:
        self._stopping.set()
        self._groups.stop_all()  # group members leave: revoked partitions sealed and committed first
        if self._pool is not None:
            self._pool.stop()
        for thread in self._threads:
            thread.join(2)
        if self._peers is not None:
            self._peers.close()

    @property
    def pool(self) -> WorkerPool:
        assert self._pool is not None, "coordinator not started"
        return self._pool

    @property
    def rendezvous(self) -> Rendezvous:
        return self._rendezvous

    def _forever(self, name: str, step: Callable[[], None], interval_s: float) -> None:
        """Run `step` until stopped; an error is logged and the loop goes on."""
        while not self._stopping.is_set():
            try:
                step()
            except Exception:
                log.exception("coordinator %s: unexpected error; continuing", name)
            self._beats[name] = time.monotonic()
            self._stopping.wait(interval_s)

    def stalled_loops(self) -> list[str]:
        """Background loops that died or have been inside one step too long (asked for the watchdog)."""
        limit = LOOP_STALL_S + LOOP_STALL_PER_TABLE_S * len(self.catalog.tables)
        now = time.monotonic()
        return [thread.name for thread in self._threads
                if not thread.is_alive() or now - self._beats.get(thread.name, now) > limit]

    def worker_statuses(self) -> dict[int, WorkerStatus]:
        """Each worker's last report (rows indexed, lag... per partition), for the service status line."""
        with self._lock:
            return dict(self._status)

    # tables ----------------------------------------------------------------------------------
    def add_schema(self, raw: Any, override: bool = True, name: str | None = None) -> Schema:
        """Store a schema, or change the stored one (`override`; `name`: the one PUT names): the tables
        using it take new columns live; removing or retyping a column is a Conflict."""
        with self._config_lock:
            schema, specs = self.catalog.prepare_schema(raw)
            if name is not None and name != schema.name:
                raise ConfigError("schemaName", f"{schema.name!r} does not match the schema {name!r} of the "
                                  "request path")
            if name is not None and name not in self.catalog.schemas:
                raise NotFound(f"schema {name!r} does not exist")
            if not override and schema.name in self.catalog.schemas:
                raise Conflict(f"schema {schema.name!r} already exists")
            if self.catalog.schemas.get(schema.name) == schema:
                specs = []  # unchanged: nothing to tell the workers
            self._apply(specs, lambda: self.catalog.commit_schema(raw, schema, specs))
        if specs:
            log.info("schema %s changed; applied live to table(s) %s", schema.name, [s.name for s in specs])
        return schema

    def update_table(self, name: str, raw: Any) -> TableSpec:
        """Change a live table's config: checked (a new broker list must answer), stored, then applied by
        its workers without losing or re-reading a row."""
        with self._config_lock:
            spec = self.catalog.prepare_table(name, raw)
            if uses_group(spec) != uses_group(self.catalog.table(name)):
                key = spec.config.stream.key_path("stream.kafka.consumer.type")
                raise Conflict(f"table {spec.name}: {key} cannot switch between lowLevel and highLevel while "
                               "the table exists")
            old, new = self.catalog.table(name).config.stream, spec.config.stream
            if connection_settings(old) != connection_settings(new):
                check_stream(spec.consumer_factory(), new, list(secret_values(spec.config.raw)))
            self._apply([spec], lambda: self.catalog.commit_table(spec))
        with self._lock:
            if spec.name in self._next_discovery:
                self._next_discovery[spec.name] = 0.0  # its partitions (e.g. partition.ids) again at once
        log.info("table %s: config updated live", spec.name)
        return spec

    def _apply(self, specs: list[TableSpec], commit: Callable[[], None]) -> None:
        """Swap the change into the catalog and send it to the workers owning the tables (under the
        assignment lock, see the module doc), then wait for them to apply it."""
        request_id = self._rendezvous.open()
        with self._lock:
            commit()
            sends = [(worker_id, UpdateTable(request_id, spec, sum(map(len, owned.values()))))
                     for spec in specs for owned in [self._assignments.get(spec.name, {})]
                     for worker_id in sorted({*owned, *self._held.get(spec.name, {})})]  # held: its schema
            for worker_id, message in sends:
                self.pool.send(worker_id, message)
        acked = self._rendezvous.wait(request_id, len(sends), time.monotonic() + CONTROL_TIMEOUT_S)
        if len(acked) < len(sends):
            log.warning("%d worker(s) did not confirm a config change in time (they get it with their next "
                        "assignment)", len(sends) - len(acked))

    def control(self, name: str, action: str, consume_from: str | None = None,
                pause: dict[str, Any] | None = None, partitions: tuple[int, ...] | None = None
                ) -> tuple[list[str], list[str]]:
        """Pause, resume or force-commit a table's partitions (`pause`: its new pause state, stored first):
        the consuming segments sealed, and those whose seal still fails."""
        spec = self.catalog.table(name)
        request_id = self._rendezvous.open()
        with self._config_lock, self._lock:
            if pause is not None:
                self.catalog.set_pause(spec.name, pause)
            owners = [w for w in self._assignments.get(spec.name, {}) if self.pool.is_alive(w)]
            for worker_id in owners:
                self.pool.send(worker_id, ControlTable(request_id, spec.name, action, consume_from,
                                                       partitions))
        replies: list[ControlReply] = self._rendezvous.wait(request_id, len(owners),
                                                            time.monotonic() + CONTROL_TIMEOUT_S)
        committed = sorted(name for reply in replies for name in reply.committed)
        pending = sorted(name for reply in replies for name in reply.pending)
        return committed, pending

    def add_table(self, raw: Any) -> TableSpec:
        """Store a new table once its stream answers (a missing topic or unreachable brokers is a 400)."""
        with self._config_lock:
            spec = self.catalog.put_table(raw, verify=lambda new: check_stream(
                new.consumer_factory(), new.config.stream, list(secret_values(new.config.raw))))
        with self._lock:
            self._next_discovery[spec.name] = 0.0  # the supervisor assigns its partitions at once
        log.info("table %s created (topic %s)", spec.name, spec.config.stream.topic)
        return spec

    def drop_table(self, name: str) -> None:
        with self._config_lock:
            spec = self.catalog.remove_table(self.catalog.table(name).name)
        self._groups.stop(spec.name)
        with self._lock:
            owners = {**self._assignments.pop(spec.name, {}), **self._held.pop(spec.name, {})}
            self._next_discovery.pop(spec.name, None)
            self._table_errors.pop(spec.name, None)
        self._probe.forget(spec.name)
        request_id = self._rendezvous.open()
        for worker_id in owners:
            self.pool.send(worker_id, DropTable(request_id, spec.name))
        acked = self._rendezvous.wait(request_id, len(owners), time.monotonic() + DROP_TIMEOUT_S)
        if len(acked) < len(owners):
            missing = len(owners) - len(acked)
            log.warning("table %s: %d worker(s) did not confirm the drop", spec.name, missing)
        shutil.rmtree(self.paths.table_data(spec.name) / spec.uid, ignore_errors=True)
        log.info("table %s deleted", spec.name)

    # queries ---------------------------------------------------------------------------------
    def table_info(self, name: str) -> TableInfo | None:
        """The table called `name`, matched case-insensitively as Pinot does."""
        tables = self.catalog.tables
        spec = tables.get(name) or next(
            (spec for known, spec in list(tables.items()) if known.lower() == name.lower()), None)
        if spec is None:
            return None
        return TableInfo(spec.name, spec.arrow_schema, spec.schema, spec.config.time_column)

    def scatter(self, plan: QueryPlan, context: QueryContext) -> Gathered:
        """Send the plan to every live worker owning partitions of the table; tell those that have not
        answered by the deadline (plus a grace) or by cancellation to stop."""
        with self._lock:  # the workers consuming the table's partitions, and those serving sealed data
            owners = sorted({*self._assignments.get(plan.table, {}), *self._held.get(plan.table, {})})
        alive = [worker_id for worker_id in owners if self.pool.is_alive(worker_id)]
        snapshot = None if context.local_only else self._deep_snapshot(plan.table)
        exclude = (self._deep_queries.covered_at(plan.table, context.delta_version)
                   if context.local_only and self._deep_queries is not None else excluded(snapshot))
        request_id = self._rendezvous.open(context.request_id)
        for worker_id in alive:
            self.pool.send(worker_id, RunQuery(request_id, plan, context.deadline, exclude))
        replies: list[QueryReply] = self._rendezvous.wait(
            request_id, len(alive), context.deadline + REPLY_GRACE_S, context.cancelled)
        if snapshot is not None and self._deep_queries is not None:
            replies.append(self._deep_queries.reply(snapshot, plan, request_id, context.deadline))
        peers = 0
        if self._peers is not None and not context.local_only and uses_group(self.catalog.table(plan.table)):
            peers = len(self._peers)
            replies += self._peers.gather(context.sql, request_id, context.deadline,
                                          None if snapshot is None else snapshot.version)
        answered = {reply.worker_id for reply in replies}
        for worker_id in alive:
            if worker_id not in answered:
                self.pool.send(worker_id, CancelQuery(request_id))
        return Gathered(replies, len(owners) + (snapshot is not None) + peers,
                        None if snapshot is None else snapshot.version, peers)

    def _deep_snapshot(self, table: str) -> DeltaSnapshot | None:
        """The table's Delta version a query reads (deep store on, for streams it supports)."""
        if self._deep_queries is None:
            return None
        spec = self.catalog.table(table)
        return self._deep_queries.snapshot(spec) if spec.config.stream.stream_type == "kafka" else None

    # status ----------------------------------------------------------------------------------
    def table_status(self, name: str) -> dict[str, Any]:
        spec = self.catalog.table(name)
        status = table_status(spec, self._view(spec))
        if self.catalog.is_paused(spec.name):
            status["state"] = "PAUSED"
        return status

    def assignment(self, name: str) -> dict[int, tuple[int, ...]]:
        """Which worker owns which of the table's partitions."""
        with self._lock:
            return dict(self._assignments.get(self.catalog.table(name).name, {}))

    def consuming_segments_info(self, name: str) -> dict[str, Any]:
        """Pinot's `GET /tables/{t}/consumingSegmentsInfo` document."""
        spec = self.catalog.table(name)
        return consuming_segments_info(spec, self._view(spec))

    def table_views(self) -> list[tuple[TableSpec, CoordinatorView]]:
        """Every table with what the coordinator knows of it (for /metrics)."""
        return [(spec, self._view(spec)) for spec in list(self.catalog.tables.values())]

    def _view(self, spec: TableSpec) -> CoordinatorView:
        with self._lock:
            assignment = dict(self._assignments.get(spec.name, {}))
            return CoordinatorView(
                assignment=assignment,
                worker_status=dict(self._status),
                worker_health={w: self.pool.health(w) for w in assignment},
                unreachable=self._probe.reason(spec.name),
                error=self._table_errors.get(spec.name),
            )

    # background steps ------------------------------------------------------------------------
    def _on_reply(self, message: object) -> None:
        """A worker's message (called on that worker's reply thread)."""
        if isinstance(message, WorkerStatus):
            with self._lock:
                self._status[message.worker_id] = message
        elif isinstance(message, Checkpointed):
            if self.pool.workers[message.worker_id].process.pid == message.worker_pid:  # not a dead one's
                self._groups.report(message.table, message.partition, message.offset)
        elif isinstance(message, QueryReply | Ack | ControlReply | RevokeReply):
            self._rendezvous.deliver(message.request_id, message)

    def _supervise(self) -> None:
        for worker_id in self.pool.restart_dead():
            self._reassign_worker(worker_id)
        now = time.monotonic()
        with self._lock:
            due = [name for name, when in self._next_discovery.items() if when <= now]
        for name in due:
            spec = self.catalog.tables.get(name)
            if spec is not None:
                self._guarded(spec.name, lambda spec=spec: self._discover_and_assign(spec))

    def _guarded(self, table: str, step: Callable[[], None]) -> None:
        """Run one table's step; a failure is that table's error (status, log), retried later."""
        try:
            step()
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            with self._lock:
                first = self._table_errors.get(table) != reason
                self._table_errors[table] = reason
                if table in self._next_discovery:
                    self._next_discovery[table] = time.monotonic() + RETRY_DISCOVERY_S
            if first:
                log.error("table %s: %s; retrying every %.0f s", table, reason, RETRY_DISCOVERY_S)

    def _probe_streams(self) -> None:
        with self._lock:
            names = list(self._assignments)
        self._probe.probe(spec for name in names if (spec := self.catalog.tables.get(name)) is not None)

    def _discover_and_assign(self, spec: TableSpec) -> None:
        if uses_group(spec):  # the group assigns the partitions (its member calls assign_partitions)
            self._groups.ensure(spec)
        else:
            provider = spec.consumer_factory().metadata_provider()
            try:
                partitions = provider.partition_ids()
            finally:
                provider.close()
            self.assign_partitions(spec.name, partitions, None, announce=spec.name in self._table_errors)
        with self._lock:
            self._table_errors.pop(spec.name, None)
            if spec.name in self._next_discovery:
                self._next_discovery[spec.name] = time.monotonic() + self.settings.rediscover_interval_s
