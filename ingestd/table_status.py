"""A table's ingestion status as `GET /tables/{t}/status` shows it, assembled from what the
coordinator knows (assignment, stream reachability, its own errors) and what workers last reported."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ingestd.ingest.table_spec import TableSpec
from ingestd.messages import WorkerStatus
from ingestd.redact import scrub_document, secret_values


@dataclass(frozen=True)
class CoordinatorView:
    """The coordinator's side of one table, copied under its lock."""

    assignment: Mapping[int, tuple[int, ...]]  # worker id → partitions
    worker_status: Mapping[int, WorkerStatus]
    worker_health: Mapping[int, Mapping[str, Any]]  # restarts, crash loop, last exit code
    unreachable: str | None  # why the stream does not answer right now
    error: str | None  # why the coordinator cannot assign the table (discovery, a failing step)


def table_status(spec: TableSpec, view: CoordinatorView) -> dict[str, Any]:
    """The status document; error texts (a client library may quote a property) never show a secret."""
    return dict(scrub_document(_status(spec, view), list(secret_values(spec.config.raw))))


def _status(spec: TableSpec, view: CoordinatorView) -> dict[str, Any]:
    partitions = []
    for worker_id, owned in sorted(view.assignment.items()):
        status = view.worker_status.get(worker_id)
        reported = {p["partition"]: p for p in (status.partitions.get(spec.name, []) if status else [])}
        for partition in owned:
            entry = {"partition": partition, "worker": worker_id, "state": "STARTING"}
            entry |= reported.get(partition, {})
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
    }

