"""Operating a real-time table, with Pinot's paths and shapes (PinotRealtimeTableResource, TableSize):
pause and resume consumption, its pause status (PauseStatusDetails), force commit and its job status,
and a table's size (TableSizeReader.TableSizeDetails).

Unlike Pinot, which answers at once and commits in the background, the workers have sealed what they
could by the time a pause or force commit answers; force commit jobs are kept in memory (the last 100).
"""

from __future__ import annotations

import datetime
import time
import uuid
from collections import OrderedDict
from typing import Any

import orjson
from fastapi import FastAPI

from ingestd.coordinator import Coordinator
from ingestd.errors import ConfigError, NotFound
from ingestd.segments_view import sealed_segments

REASON = "ADMINISTRATIVE"  # PauseState.ReasonCode of an operator's pause or resume
PAUSING = ("Pause flag is set. Consuming segments are being committed. Use /pauseStatus endpoint in a few "
           "moments to check if all consuming segments have been committed.")
RESUMING = ("Pause flag is cleared. Consuming segments are being created. Use /pauseStatus endpoint in a few "
            "moments to double check.")
MAX_JOBS = 100  # Pinot's DEFAULT_MAXIMUM_CONTROLLER_JOBS_IN_ZK


def add_table_ops_routes(app: FastAPI, coordinator: Coordinator) -> None:
    catalog = coordinator.catalog
    jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def consuming_segments(name: str) -> list[str]:
        return sorted(p["consumingSegment"] for p in coordinator.table_status(name)["partitions"]
                      if p.get("consumingSegment"))

    @app.post("/tables/{name}/pauseConsumption")
    def pause_consumption(name: str, comment: str | None = None) -> dict[str, Any]:
        """Stop consuming: every consuming segment is sealed and no new one starts until resumed (the
        pause is stored: it survives a restart)."""
        spec = catalog.table(name)
        stamp = _timestamp()
        state = {"paused": True, "reasonCode": REASON, "comment": comment, "timestamp": stamp}
        committed, pending = coordinator.control(spec.name, "pause", pause=state)
        return {"pauseFlag": True, "consumingSegments": sorted(committed + pending), "reasonCode": REASON,
                "comment": comment or PAUSING, "timestamp": stamp}

    @app.post("/tables/{name}/resumeConsumption")
    def resume_consumption(name: str, consumeFrom: str | None = None,
                           comment: str | None = None) -> dict[str, Any]:
        """Consume again: from the last consumed offset (`lastConsumed`, the default: nothing is lost),
        or from the stream's `smallest` (rows are read again) or `largest` offset (rows are skipped)."""
        spec = catalog.table(name)
        start = None if consumeFrom is None or consumeFrom.lower() == "lastconsumed" else consumeFrom.lower()
        if start not in (None, "smallest", "largest"):
            raise ConfigError("consumeFrom", f"param '{consumeFrom}' is not valid. Valid values are "
                              "'lastConsumed', 'smallest' and 'largest'.")
        stamp = _timestamp()
        state = {"paused": False, "reasonCode": REASON, "comment": comment, "timestamp": stamp}
        coordinator.control(spec.name, "resume", start, pause=state)
        return {"pauseFlag": False, "consumingSegments": consuming_segments(spec.name), "reasonCode": REASON,
                "comment": comment or RESUMING, "timestamp": stamp}

    @app.get("/tables/{name}/pauseStatus")
    def pause_status(name: str) -> dict[str, Any]:
        """`{pauseFlag, consumingSegments, reasonCode, comment, timestamp}`: consuming segments are those
        not yet sealed (none once a pause has completed)."""
        spec = catalog.table(name)
        state = catalog.pauses.get(spec.name) or {"paused": False, "reasonCode": REASON, "timestamp": ""}
        paused = bool(state.get("paused"))
        return {"pauseFlag": paused, "consumingSegments": consuming_segments(spec.name),
                "reasonCode": state.get("reasonCode", REASON),
                "comment": state.get("comment") or ("Table is paused." if paused else "Table is unpaused."),
                "timestamp": state.get("timestamp", "")}

    @app.post("/tables/{name}/forceCommit")
    def force_commit(name: str, partitions: str | None = None, segments: str | None = None) -> dict[str, str]:
        """Seal the consuming segments now (all, or those of `partitions` or named in `segments`,
        comma-separated); consumption goes on in new ones."""
        spec = catalog.table(name)
        if partitions is not None and segments is not None:
            raise ConfigError("", "Cannot specify both partitions and segments to commit")
        chosen = _partitions(partitions, segments)
        submitted = int(time.time() * 1000)
        committed, pending = coordinator.control(spec.name, "forceCommit", partitions=chosen)
        job_id = str(uuid.uuid4())
        jobs[job_id] = {"jobId": job_id, "tableName": f"{spec.name}_REALTIME", "jobType": "FORCE_COMMIT",
                        "submissionTimeMs": str(submitted),
                        "segmentsForceCommitted": orjson.dumps(sorted(committed + pending)).decode(),
                        "pending": pending}
        while len(jobs) > MAX_JOBS:
            jobs.popitem(last=False)
        return {"forceCommitStatus": "SUCCESS", "jobMetaZKWriteStatus": "SUCCESS", "forceCommitJobId": job_id}

    @app.get("/tables/forceCommitStatus/{job_id}")
    def force_commit_status(job_id: str) -> dict[str, Any]:
        """A force commit's segments, and those still not sealed (their seal keeps being retried)."""
        job = jobs.get(job_id)
        if job is None:
            raise NotFound(f"Failed to find controller job id: {job_id}")
        table = job["tableName"].removesuffix("_REALTIME")
        live = set(consuming_segments(table)) if table in catalog.tables else set()
        still = sorted(set(job["pending"]) & live)
        document = {key: value for key, value in job.items() if key != "pending"}
        return document | {"segmentsYetToBeCommitted": still, "numberOfSegmentsYetToBeCommitted": len(still)}

    @app.get("/tables/{name}/size")
    def table_size(name: str, verbose: bool = True) -> dict[str, Any]:
        """The sealed segments' sizes on disk (one replica: ingestd keeps one copy), per segment with the
        worker that serves it; consuming segments live in memory and are not counted."""
        spec = catalog.table(name)
        owners = {partition: worker for worker, owned in coordinator.assignment(spec.name).items()
                  for partition in owned}
        details: dict[str, Any] = {}
        for meta in sealed_segments(coordinator.paths, spec):
            server = f"worker-{owners[meta.partition]}" if meta.partition in owners else "unassigned"
            details[meta.name] = {
                "reportedSizeInBytes": meta.size_bytes, "estimatedSizeInBytes": meta.size_bytes,
                "maxReportedSizePerReplicaInBytes": meta.size_bytes,
                "serverInfo": {server: {"segmentName": meta.name, "diskSizeInBytes": meta.size_bytes}}}
        total = sum(segment["reportedSizeInBytes"] for segment in details.values())
        realtime = {"reportedSizeInBytes": total, "estimatedSizeInBytes": total, "missingSegments": 0,
                    "reportedSizePerReplicaInBytes": total, "segments": details if verbose else {}}
        return {"tableName": name, "reportedSizeInBytes": total, "estimatedSizeInBytes": total,
                "reportedSizePerReplicaInBytes": total, "offlineSegments": None, "realtimeSegments": realtime}


def _partitions(partitions: str | None, segments: str | None) -> tuple[int, ...] | None:
    """The partitions a force commit is limited to (segment names carry theirs: t__P__seq__time)."""
    try:
        if partitions is not None:
            return tuple(int(p) for p in partitions.split(",") if p.strip())
        if segments is not None:
            return tuple(int(s.strip().split("__")[1]) for s in segments.split(",") if s.strip())
    except (ValueError, IndexError):
        raise ConfigError("partitions" if partitions is not None else "segments",
                          "must be a comma-separated list of partition ids or consuming segment names"
                          ) from None
    return None


def _timestamp() -> str:
    """Now as Pinot's PauseState writes it (java.sql.Timestamp.toString(): `2026-11-25 11:18:04.123`), UTC."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
