"""What a worker does with the deep store: hands each sealed segment to its committer (committer.py), and
in consumer-group mode publishes a partition's checkpoint to the group only once the deep store holds it.

* Every segment a partition seals is submitted; at start, the partition's sealed segments from the ledger
  are submitted again (the committer skips what the Delta log already covers), so a crash between the seal
  and the commit loses nothing.
* lowLevel: one server owns a partition for good, so a gap between the Delta log and a segment can only be
  an offset reset (what the stream no longer had): the segment is committed across it.
* Group mode: the group's committed offset must never pass what the Delta log holds, or the partition's
  next owner would start beyond rows that are in no deep-store file. So a seal publishes nothing; the
  commit outcome does (the next offset after the committed segment). A revoked partition first waits
  (bounded) for its pending commits and hands over the deep store's checkpoint. A gap waits for the
  previous owner's commits (its rows are on their way), and a stale outcome (the log moved past this
  server) is reported in the status.
* Offsets must fit Delta's 64-bit transaction versions: Kafka's do; Kinesis and Pulsar positions do not,
  and their tables are not committed (said once in the log and in the status).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingestd.deepstore.committer import DeepStoreCommitter, SealedSegment
from ingestd.deepstore.config import DeepStoreSettings
from ingestd.ingest.table_spec import TableSpec
from ingestd.segment.metadata import SegmentMetadata

log = logging.getLogger(__name__)

MAX_VERSION = 2**63 - 1
FLUSH_POLL_S = 0.05
UNSUPPORTED = "the deep store needs 64-bit offsets (Kafka); this stream's positions do not fit"


class DeepStoreLink:
    def __init__(self, settings: DeepStoreSettings) -> None:
        self._group_sinks: dict[tuple[str, int], Callable[[int], None]] = {}
        self._local_retention_s = (None if settings.local_retention_ms is None
                                   else settings.local_retention_ms / 1000)
        # (table, partition) → (segment name, when its commit was known), for local retention
        self._committed: dict[tuple[str, int], list[tuple[str, float]]] = {}
        self._committed_lock = threading.Lock()
        self._unsupported: set[str] = set()
        self.committer = DeepStoreCommitter(settings, on_outcome=self._on_outcome)
        self.committer.start()

    def supports(self, spec: TableSpec) -> bool:
        if spec.config.stream.stream_type == "kafka":
            return True
        if spec.name not in self._unsupported:
            self._unsupported.add(spec.name)
            log.warning("%s: not committed to the deep store: %s", spec.name, UNSUPPORTED)
        return False

    def attach(self, spec: TableSpec, partition: int, segments_dir: Path, sealed: list[SegmentMetadata],
               group_mode: bool, group_sink: Callable[[int], None] | None
               ) -> Callable[[SegmentMetadata], None]:
        """Start following a partition: its ledger's sealed segments are submitted again, and the returned
        callable takes each new seal. `group_sink`: the group member's checkpoint sink (group mode, for a
        partition this server consumes)."""
        key = (spec.name, partition)
        if group_sink is not None:
            self._group_sinks[key] = group_sink
        else:
            self._group_sinks.pop(key, None)
        gaps_allowed = not group_mode
        topic = spec.config.stream.topic

        def submit(meta: SegmentMetadata) -> None:
            if meta.rows == 0 or meta.end_offset - 1 > MAX_VERSION:
                return
            self.committer.submit(SealedSegment(
                spec.name, topic, partition, meta.name, segments_dir / meta.file_name, meta.start_offset,
                meta.end_offset - 1, time.time(), allow_gap=gaps_allowed))

        for meta in sealed:
            submit(meta)
        return submit

    def follows_group(self, table: str, partition: int) -> bool:
        return (table, partition) in self._group_sinks

    def resume_offsets(self, spec: TableSpec, committed: dict[int, int], partitions: tuple[int, ...]
                       ) -> dict[int, int]:
        """Group mode: each newly assigned partition resumes at the larger of the group's committed offset
        and the Delta log's version + 1 (the group's offset is written after the Delta commit, so a crash
        in between leaves it behind). A store that cannot be read leaves the group's offsets."""
        from ingestd.deepstore.delta_log import application_id

        resumed = dict(committed)
        for partition in partitions:
            try:
                stored = self.committer.stored_offset(spec.name, application_id(
                    spec.name, spec.config.stream.topic, partition))
            except Exception as exc:  # the store is down: the group's offset, and the commits sort it out
                log.warning("%s[%d]: cannot read the deep store's offset (%s); resuming at the group's",
                            spec.name, partition, exc)
                continue
            if stored is not None and stored + 1 > resumed.get(partition, -1):
                resumed[partition] = stored + 1
        return resumed

    def flush(self, table: str, partition: int, timeout_s: float) -> int | None:
        """Group mode revocation: wait up to `timeout_s` for the partition's pending commits; the offset
        after what the deep store holds for it (None when nothing is known to be there)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.committer.partition_status(table, partition) or {}
            if not status.get("pendingSegments"):
                break
            time.sleep(FLUSH_POLL_S)
        status = self.committer.partition_status(table, partition) or {}
        committed = status.get("committedOffset")
        return None if committed is None else committed + 1

    def status_fields(self, table: str, partition: int) -> dict[str, Any]:
        if table in self._unsupported:
            return {"deepStore": {"enabled": False, "reason": UNSUPPORTED}}
        status = self.committer.partition_status(table, partition)
        if status is None:
            return {}
        return {"deepStore": status, "deepStorePendingSegments": status["pendingSegments"],
                "deepStoreCommitLatencyMs": status["lastCommitLatencyMs"]}

    def forget(self, table: str, partition: int | None = None) -> None:
        self.committer.forget(table, partition)
        for key in [k for k in self._group_sinks if k[0] == table and partition in (None, k[1])]:
            del self._group_sinks[key]

    def close(self) -> None:
        self.committer.stop()

    def local_drops(self, table: str, partition: int) -> set[str]:
        """Segments whose local copy may go now: in the deep store for `local_retention` already."""
        if self._local_retention_s is None:
            return set()
        cutoff = time.monotonic() - self._local_retention_s
        with self._committed_lock:
            entries = self._committed.get((table, partition), [])
            due = {name for name, at in entries if at <= cutoff}
            if due:
                self._committed[(table, partition)] = [(n, at) for n, at in entries if n not in due]
        return due

    def _on_outcome(self, segment: SealedSegment, outcome: Any) -> None:
        """From the committer's thread: in group mode, the deep store's checkpoint goes to the group;
        a segment in the store becomes a candidate for local retention."""
        from ingestd.deepstore.delta_log import CommitOutcome

        if self._local_retention_s is not None and outcome is not CommitOutcome.STALE:
            with self._committed_lock:
                self._committed.setdefault((segment.table, segment.partition), []).append(
                    (segment.name, time.monotonic()))
        sink = self._group_sinks.get((segment.table, segment.partition))
        if sink is not None and outcome is CommitOutcome.COMMITTED:  # never an older offset again
            sink(segment.last + 1)
