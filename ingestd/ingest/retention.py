"""Retention and ledger compaction for one partition.

One job: keep the partition's sealed segments within the table's retention, and its ledger from
growing without bound. It holds the ledger's records as written (the ingestor tells it of each commit).

A segment whose newest row is older than the retention is first recorded in the ledger as retired (its
offsets stay committed, so it is never consumed again), then its file is deleted: a crash in between
leaves only an orphan file, which recovery deletes. Once the ledger passes LEDGER_COMPACT_BYTES it is
rewritten with what recovery needs: the live segments and the newest record (the resume point).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from ingestd.ingest.recovery import newest_record
from ingestd.ledger import LEDGER_COMPACT_BYTES, OffsetLedger
from ingestd.segment.metadata import SegmentMetadata

log = logging.getLogger(__name__)

RETENTION_INTERVAL_S = 30.0

Sealed = list[tuple[SegmentMetadata, pa.Table]]


class RetentionKeeper:
    """Expires one partition's sealed segments and compacts its ledger."""

    def __init__(self, label: str, ledger: OffsetLedger, segments: Path, retention_ms: int | None,
                 time_factor: int, records: list[SegmentMetadata],
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`time_factor` turns the time column's values into milliseconds; `records` is the ledger."""
        self._label = label
        self._ledger = ledger
        self._segments = segments
        self._retention_ms = retention_ms
        self._time_factor = time_factor
        self._clock = clock
        self.records = list(records)
        self._check_at = 0.0

    def due(self) -> bool:
        return self._clock() >= self._check_at

    def set_retention(self, retention_ms: int | None) -> None:
        """The table's retention changed (a live config change): checked again at the next poll."""
        self._retention_ms = retention_ms
        self._check_at = 0.0

    def committed(self, record: SegmentMetadata) -> None:
        """A record was appended to the ledger; after a seal, retention is checked at the next poll."""
        self.records.append(record)
        if not record.reset:
            self._check_at = 0.0

    def expire(self, sealed: Sealed, now_ms: int) -> Sealed:
        """Retire and delete the segments past retention; returns the sealed segments that remain."""
        self._check_at = self._clock() + RETENTION_INTERVAL_S
        if self._retention_ms is None:
            return sealed
        cutoff = now_ms - self._retention_ms
        expired = {meta.name for meta, _ in sealed
                   if meta.max_time is not None and meta.max_time * self._time_factor < cutoff}
        return self.retire(sealed, expired, "retention deleted")

    def retire(self, sealed: Sealed, names: set[str], why: str) -> Sealed:
        """Retire (in the ledger) and delete the named segments; returns the sealed segments that remain.
        Also used once a segment is in the deep store and its local copy is no longer needed."""
        kept = list(sealed)
        for meta, _ in sealed:
            if meta.name not in names:
                continue
            retired = dataclasses.replace(meta, retired=True)
            try:
                self._ledger.append(retired)
            except OSError as exc:
                log.error("%s: cannot retire %s: %s", self._label, meta.name, exc)
                break
            self.records.append(retired)
            kept = [(m, t) for m, t in kept if m is not meta]
            (self._segments / meta.file_name).unlink(missing_ok=True)
            log.info("%s: %s %s (newest row %s)", self._label, why, meta.name, meta.max_time)
        if len(kept) < len(sealed) and self._ledger.size() > LEDGER_COMPACT_BYTES:
            self._compact([meta for meta, _ in kept])
        return kept

    def _compact(self, live: list[SegmentMetadata]) -> None:
        """Keep what recovery needs: the live segments, and the newest record for the resume point."""
        keep = list(live)
        newest = newest_record(self.records)
        if newest is not None and newest not in keep:
            keep.append(newest)
        try:
            self._ledger.rewrite(keep)
        except OSError as exc:
            log.error("%s: cannot compact the ledger (it stays as it is): %s", self._label, exc)
            return
        log.info("%s: compacted the ledger from %d to %d records", self._label, len(self.records), len(keep))
        self.records = keep
