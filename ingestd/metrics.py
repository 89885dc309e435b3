"""`GET /metrics`: the server's Prometheus exposition, named by Prometheus' conventions.

One job: turn what the coordinator knows into metrics. Ingestion happens in worker processes, which
already report every partition's counters each second (WorkerStatus), so a custom collector reads the
latest reports at scrape time instead of keeping metric objects in sync across processes. A counter
counts since its worker process started (a restarted worker starts again from 0, which Prometheus'
rate() treats as a counter reset). Queries are answered in this process: they are counted here, by
outcome, with a latency histogram. The coordinator's own process metrics (`process_*`) come along.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ingestd.columns import now_ms
from ingestd.errors import QueryError
from ingestd.ingest.table_spec import TableSpec
from ingestd.messages import WorkerStatus
from ingestd.table_status import CoordinatorView, with_freshness

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
QUERY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
QUERY_OUTCOMES = {QueryError.EXECUTION_TIMEOUT: "timeout", QueryError.TOO_MANY_REQUESTS: "busy",
                  QueryError.QUERY_CANCELLED: "cancelled", QueryError.SERVER_NOT_RESPONDING: "partial"}
ALL_OUTCOMES = ("ok", "error", *QUERY_OUTCOMES.values())
PARTITION_LABELS = ["table", "partition"]
# partition counters: metric name (without _total), status field, help
PARTITION_COUNTERS = (
    ("ingestd_messages_consumed", "messagesConsumed", "Messages consumed from the stream."),
    ("ingestd_rows_indexed", "rowsIndexed", "Rows appended to consuming segments (queryable)."),
    ("ingestd_malformed_messages", "malformedMessages", "Messages that could not be decoded (skipped)."),
    ("ingestd_consumed_bytes", "bytesConsumed", "Bytes of message values consumed."),
    ("ingestd_seal_failures", "sealFailures", "Failed attempts to seal a segment or record an offset reset."),
    ("ingestd_offset_resets", "offsetResets", "Offset resets applied (the stream could not continue)."),
    ("ingestd_messages_lost", "messagesLost", "Messages known to be skipped by offset resets."),
)
# partition gauges: metric name, status field, scale, help
PARTITION_GAUGES = (
    ("ingestd_partition_current_offset", "currentOffset", 1, "The next offset to ingest."),
    ("ingestd_partition_latest_offset", "latestOffset", 1, "The partition's latest offset upstream "
     "(high watermark, as the consumer last heard it)."),
    ("ingestd_partition_lag_messages", "lag", 1, "Latest offset minus current offset (never negative)."),
    ("ingestd_partition_ingest_freshness_seconds", "ingestFreshnessMs", 0.001,
     "Now minus the stream timestamp of the newest message consumed."),
    ("ingestd_partition_event_freshness_seconds", "eventFreshnessMs", 0.001,
     "Now minus the newest time-column value consumed."),
    ("ingestd_partition_consuming_rows", "consumingRows", 1, "Rows in the consuming segment."),
    ("ingestd_deep_store_pending_segments", "deepStorePendingSegments", 1,
     "Sealed segments not yet committed to the deep store (retried while it cannot be reached)."),
    ("ingestd_deep_store_commit_latency_seconds", "deepStoreCommitLatencyMs", 0.001,
     "From seal to commit in the deep store, for the partition's latest committed segment."),
)


class QueryMetrics:
    """Queries answered by this server: how many per outcome, and how long each took."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._queries = Counter("ingestd_queries", "Queries answered, by outcome (ok, error, partial, "
                                "timeout, busy, cancelled).", ["outcome"], registry=registry)
        self._latency = Histogram("ingestd_query_duration_seconds", "Time to answer a query (admission "
                                  "wait included).", buckets=QUERY_BUCKETS_S, registry=registry)
        for outcome in ALL_OUTCOMES:
            self._queries.labels(outcome)  # every outcome exists from the start, at 0

    def observe(self, document: Mapping[str, Any], seconds: float) -> None:
        self._queries.labels(query_outcome(document)).inc()
        self._latency.observe(seconds)


def query_outcome(document: Mapping[str, Any]) -> str:
    """A broker response's outcome: ok; timeout, busy, cancelled or partial if an exception says so (in
    that order); else error."""
    codes = {exception.get("errorCode") for exception in document.get("exceptions") or []}
    if not codes:
        return "ok"
    return next((outcome for code, outcome in QUERY_OUTCOMES.items() if code in codes), "error")


class IngestCollector(Collector):
    """Partition, table and worker metrics from the workers' latest reports, read at scrape time."""

    def __init__(self, tables: Callable[[], list[tuple[TableSpec, CoordinatorView]]],
                 workers: Callable[[], Mapping[int, WorkerStatus]]) -> None:
        self._tables = tables
        self._workers = workers

    def collect(self) -> Iterator[Metric]:
        now = now_ms()
        counters = {name: CounterMetricFamily(name, text, labels=PARTITION_LABELS)
                    for name, _, text in PARTITION_COUNTERS}
        gauges = {name: GaugeMetricFamily(name, text, labels=PARTITION_LABELS)
                  for name, _, _, text in PARTITION_GAUGES}
        sealed = CounterMetricFamily("ingestd_segments_sealed", "Segments sealed and committed.",
                                     labels=PARTITION_LABELS)
        seal_time = HistogramMetricFamily("ingestd_seal_duration_seconds", "Time to seal a segment (write, "
                                          "fsync, rename, ledger append).", labels=PARTITION_LABELS)
        states = GaugeMetricFamily("ingestd_partition_state", "1 for the partition's current state.",
                                   labels=[*PARTITION_LABELS, "state"])
        table_lag = GaugeMetricFamily("ingestd_table_lag_messages", "The table's lag: the sum of its "
                                      "partitions' known lags.", labels=["table"])
        for spec, view in self._tables():
            lags = []
            for partition, entry in _reported_partitions(spec, view, now):
                labels = [spec.name, str(partition)]
                for name, field, _ in PARTITION_COUNTERS:
                    if entry.get(field) is not None:
                        counters[name].add_metric(labels, entry[field])
                for name, field, scale, _ in PARTITION_GAUGES:
                    if entry.get(field) is not None:
                        gauges[name].add_metric(labels, float(entry[field]) * scale)  # a big offset: str
                states.add_metric([*labels, str(entry.get("state", "STARTING"))], 1)
                seals = entry.get("sealSeconds")
                if seals:
                    sealed.add_metric(labels, seals["count"])
                    buckets = [(_bound(le), count) for le, count in seals["buckets"]]
                    seal_time.add_metric(labels, [*buckets, ("+Inf", seals["count"])], seals["sum"])
                if entry.get("lag") is not None:
                    lags.append(float(entry["lag"]))
            if lags:
                table_lag.add_metric([spec.name], sum(lags))
        yield from counters.values()
        yield from gauges.values()
        yield from (sealed, seal_time, states, table_lag)
        yield from self._worker_metrics()

    def _worker_metrics(self) -> Iterator[Metric]:
        rss = GaugeMetricFamily("ingestd_worker_resident_memory_bytes", "Resident memory of the worker "
                                "process.", labels=["worker"])
        cpu = CounterMetricFamily("ingestd_worker_cpu_seconds", "User and system CPU time of the worker "
                                  "process.", labels=["worker"])
        for worker_id, status in sorted(self._workers().items()):
            rss.add_metric([str(worker_id)], status.rss_bytes)
            cpu.add_metric([str(worker_id)], status.cpu_seconds)
        yield from (rss, cpu)


def _reported_partitions(spec: TableSpec, view: CoordinatorView, now: int
                         ) -> Iterator[tuple[int, dict[str, Any]]]:
    """The table's assigned partitions whose worker reported them, with freshness at `now`."""
    for worker_id, owned in sorted(view.assignment.items()):
        status = view.worker_status.get(worker_id)
        reported = {p["partition"]: p for p in status.partitions.get(spec.name, [])} if status else {}
        for partition in owned:
            if partition in reported:
                yield partition, with_freshness(reported[partition], now) | {
                    "sealSeconds": reported[partition].get("sealSeconds")}


def _bound(value: float) -> str:
    return repr(float(value))


class ServerMetrics:
    """The server's registry: ingestion (from worker reports), queries, and this process."""

    def __init__(self, tables: Callable[[], list[tuple[TableSpec, CoordinatorView]]],
                 workers: Callable[[], Mapping[int, WorkerStatus]]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(IngestCollector(tables, workers))
        ProcessCollector(registry=self.registry)
        self.queries = QueryMetrics(self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
