"""A table's ingestion status as `GET /tables/{t}/status` shows it, assembled from what the
coordinator knows (assignment, stream reachability, its own errors) and what workers last reported;
and the same facts in the shape of Pinot's `GET /tables/{t}/consumingSegmentsInfo`.

Freshness is computed here, when asked (now minus the newest row's ingest or event time the worker
reported), so it keeps growing while a partition receives nothing; its lag says whether it is behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ingestd.columns import now_ms
from ingestd.ingest.table_spec import TableSpec
from ingestd.messages import WorkerStatus
from ingestd.redact import scrub_document, secret_values
from ingestd.stream.spi import offset_json


@dataclass(frozen=True)
class CoordinatorView:
    """The coordinator's side of one table, copied under its lock."""

    assignment: Mapping[int, tuple[int, ...]]  # worker id → partitions
    worker_status: Mapping[int, WorkerStatus]
    worker_health: Mapping[int, Mapping[str, Any]]  # restarts, crash loop, last exit code
    unreachable: str | None  # why the stream does not answer right now
    error: str | None  # why the coordinator cannot assign the table (discovery, a failing step)


OFFSET_FIELDS = frozenset(("startOffset", "currentOffset", "latestOffset", "lag"))
METRICS_ONLY = ("sealSeconds",)  # reported by workers for /metrics, not part of the status document
CONSUMING_STATES = frozenset({"CONSUMING", "OFFSET_RESET"})  # Pinot's CONSUMING; any other: NOT_CONSUMING
FRESHNESS_FIELDS = (("ingestFreshnessMs", "newestIngestTimeMs"), ("eventFreshnessMs", "newestEventTimeMs"))


def table_status(spec: TableSpec, view: CoordinatorView, now: int | None = None) -> dict[str, Any]:
    """The status document; error texts (a client library may quote a property) never show a secret.
    `now` (epoch ms) is the moment freshness is measured at."""
    return dict(scrub_document(_status(spec, view, now_ms() if now is None else now),
                               list(secret_values(spec.config.raw))))


def with_freshness(partition: dict[str, Any], now: int) -> dict[str, Any]:
    """A worker's partition report with its freshness at `now`: now minus the newest row's ingest time
    (the stream's timestamp) and event time (the time column), never negative; None while unknown."""
    entry = {key: offset_json(value) if key in OFFSET_FIELDS else value
             for key, value in partition.items() if key not in METRICS_ONLY}
    reset = entry.get("lastOffsetReset")
    if reset:  # Kinesis sequence numbers exceed what JavaScript reads exactly: those go as strings
        entry["lastOffsetReset"] = reset | {key: offset_json(reset.get(key))
                                            for key in ("fromOffset", "toOffset")}
    for field, source in FRESHNESS_FIELDS:
        newest = partition.get(source)
        entry[field] = max(0, now - newest) if newest is not None else None
    return entry


def _status(spec: TableSpec, view: CoordinatorView, now: int) -> dict[str, Any]:
    partitions = []
    for worker_id, owned in sorted(view.assignment.items()):
        status = view.worker_status.get(worker_id)
        reported = {p["partition"]: p for p in (status.partitions.get(spec.name, []) if status else [])}
        for partition in owned:
            entry = {"partition": partition, "worker": worker_id, "state": "STARTING"}
            entry |= with_freshness(reported.get(partition, {}), now)
            if view.unreachable and entry["state"] == "CONSUMING":
                entry["state"] = "STALLED"  # the worker keeps retrying; nothing is lost
            partitions.append(entry)
    workers = {
        worker_id: {"pid": status.pid, "rssBytes": status.rss_bytes} | dict(view.worker_health[worker_id])
        for worker_id, status in view.worker_status.items()
        if worker_id in view.assignment and worker_id in view.worker_health
    }
    error = view.error or view.unreachable
    if view.unreachable:
        state = "STALLED"
    elif view.error and not partitions:
        state = "WAITING_FOR_STREAM"
    else:
        state = "CONSUMING"
    return {
        "tableName": f"{spec.name}_REALTIME",
        "topic": spec.config.stream.topic,
        "state": state,
        "streamError": error,
        "partitions": sorted(partitions, key=lambda p: p["partition"]),
        "workers": workers,
        "malformedMessages": sum(p.get("malformedMessages", 0) for p in partitions),
        "lag": _total_lag(partitions),
    }


def _total_lag(partitions: list[dict[str, Any]]) -> int | None:
    """The table's lag: the sum over partitions whose lag is known (None if none is)."""
    known = [int(p["lag"]) for p in partitions if p.get("lag") is not None]
    return sum(known) if known else None


def consuming_segments_info(spec: TableSpec, view: CoordinatorView) -> dict[str, Any]:
    """Pinot's `consumingSegmentsInfo`: per consuming segment, its consumer (a worker is Pinot's server)
    with state, last consumed time and per-partition offsets, latest upstream offsets, records lag and
    availability lag (when the newest batch was consumed minus its last message's stream timestamp),
    all as strings;
    `UNKNOWN` where a figure is not known, as Pinot says. Offsets not known yet are left out."""
    segments: dict[str, list[dict[str, Any]]] = {}
    silent = 0
    for worker_id, owned in sorted(view.assignment.items()):
        status = view.worker_status.get(worker_id)
        if status is None:
            silent += 1
            continue
        reported = {p["partition"]: p for p in status.partitions.get(spec.name, [])}
        for partition in owned:
            entry = reported.get(partition)
            if entry is not None and entry.get("consumingSegment"):
                segments.setdefault(entry["consumingSegment"], []).append(_consumer_info(worker_id, entry))
    return {"_segmentToConsumingInfoMap": dict(sorted(segments.items())),
            "serversFailingToRespond": silent, "serversUnparsableRespond": 0}


def _consumer_info(worker_id: int, entry: dict[str, Any]) -> dict[str, Any]:
    key = str(entry["partition"])
    current, latest, lag = entry.get("currentOffset"), entry.get("latestOffset"), entry.get("lag")
    consumed, availability = entry.get("lastConsumedMs"), entry.get("availabilityLagMs")
    offsets = {key: str(current)} if current is not None else {}
    return {
        "serverName": f"worker-{worker_id}",
        "consumerState": "CONSUMING" if entry.get("state") in CONSUMING_STATES else "NOT_CONSUMING",
        "lastConsumedTimestamp": consumed or 0,
        "partitionToOffsetMap": offsets,
        "partitionOffsetInfo": {
            "currentOffsetsMap": offsets,
            "latestUpstreamOffsetMap": {key: _or_unknown(latest)},
            "recordsLagMap": {key: _or_unknown(lag)},
            "availabilityLagMsMap": {key: _or_unknown(availability)},
        },
    }


def _or_unknown(value: int | None) -> str:
    return "UNKNOWN" if value is None else str(value)

