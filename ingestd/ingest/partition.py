"""One partition, end to end: consume → decode → append to the consuming segment → seal → commit.

The ingestor is rebuilt from the ledger alone (see recovery.py), so a crash anywhere loses nothing:
rows not yet sealed are simply consumed again from the last committed end offset.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ingestd.columns import now_ms, sliced
from ingestd.decode.spi import DecodedBatch, MessageDecoder
from ingestd.ingest.recovery import recover_partition
from ingestd.ingest.table_spec import TableSpec
from ingestd.ledger import LEDGER_COMPACT_BYTES, OffsetLedger
from ingestd.paths import PartitionPaths
from ingestd.segment.consuming import ConsumingSegment
from ingestd.segment.loader import load_segment
from ingestd.segment.metadata import SegmentMetadata
from ingestd.segment.thresholds import FlushPolicy
from ingestd.segment.writer import seal_segment
from ingestd.stream.spi import ConsumerFactory, MessageBatch, StartPosition

log = logging.getLogger(__name__)

RETENTION_INTERVAL_S = 30.0


@dataclass
class _Pending:
    """Part of a fetched batch not yet in a segment (a seal failed): retried before fetching more."""

    batch: MessageBatch
    decoded: DecodedBatch
    row: int
    message: int


@dataclass(frozen=True)
class PartitionView:
    """What a query sees of one partition. Immutable: the ingest thread replaces it as a whole after
    each change, so a query thread never sees a segment both sealed and consuming, or neither."""

    sealed: tuple[pa.Table, ...]
    consuming: tuple[pa.RecordBatch, ...]


@dataclass
class PartitionCounters:
    messages: int = 0
    rows: int = 0
    malformed: int = 0
    seal_failures: int = 0
    offset_resets: int = 0
    messages_lost: int = 0
    time_defaulted: int = 0
    time_invalid: int = 0
    last_error: str | None = None


class PartitionIngestor:
    def __init__(
        self,
        spec: TableSpec,
        partition: int,
        paths: PartitionPaths,
        factory: ConsumerFactory,
        decoder: MessageDecoder,
        partitions_here: int = 1,
    ) -> None:
        self.spec = spec
        self.partition = partition
        self._paths = paths
        self._decoder = decoder
        self._schema = spec.arrow_schema
        self._ledger = OffsetLedger(paths.ledger)
        self.counters = PartitionCounters()
        recovered = recover_partition(paths, self._ledger)
        self._policy = FlushPolicy(spec.config.stream.flush, recovered.records, partitions_here)
        self._records = list(recovered.records)  # the ledger's content, for compaction
        time_field = spec.schema.field(spec.config.time_column)
        self._time_factor = (time_field.epoch_ms_factor() if time_field else None) or 1
        self._next_retention = 0.0
        self.sealed: list[tuple[SegmentMetadata, pa.Table]] = [
            (meta, load_segment(paths.segments / meta.file_name, spec.config.load_mode))
            for meta in recovered.segments
        ]
        self.segment = self._new_segment(recovered.next_sequence, recovered.resume_offset)
        self.view = PartitionView(tuple(table for _, table in self.sealed), ())
        self._pending: _Pending | None = None
        self._expected_first: int | None = recovered.resume_offset  # checked against the first fetch
        start = StartPosition(recovered.resume_offset, spec.config.stream.offset_reset)
        self._consumer = factory.partition_consumer(partition, start)
        where = f"offset {start.offset}" if start.offset is not None else start.reset.value
        log.info("%s[%d]: resuming at %s with %d sealed segment(s)", spec.name, partition, where,
                 len(self.sealed))

    def poll(self, max_messages: int) -> int:
        """Consume and process one batch; returns how many messages it took (0 when idle or blocked)."""
        if time.monotonic() >= self._next_retention:
            self.apply_retention(now_ms())
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._append(pending)
            self._publish()
            if self._pending is not None:
                return 0  # sealing still fails: hold consumption, keep what is in memory
        batch = self._consumer.fetch(max_messages, 0)
        if batch is None:
            self._seal_if_time_due()
            self._publish()
            return 0
        self._check_resume_point(batch.offset_at(0))
        decoded = self._decoder.decode(batch.values)
        self._count(batch, decoded)
        self._append(_Pending(batch, decoded, 0, 0))
        self._seal_if_time_due()
        self._publish()
        return len(batch.values)

    def _check_resume_point(self, first: int) -> None:
        """The first message after a (re)start must be the checkpoint's offset. If it is not, the stream
        no longer had it (retention, a re-created topic) and the consumer followed auto.offset.reset:
        say exactly which offsets were skipped, like Pinot's "message loss" log, and count them."""
        expected, self._expected_first = self._expected_first, None
        if expected is None or first == expected:
            return
        self.counters.offset_resets += 1
        reset = self.spec.config.stream.offset_reset.value
        if first > expected:
            self.counters.messages_lost += first - expected
            detail = f"offsets {expected}-{first - 1} ({first - expected} messages) were lost"
        else:
            detail = f"the stream restarted below the checkpoint; resuming at {first}"
        self.counters.last_error = f"offset {expected} out of range; auto.offset.reset={reset}: {detail}"
        log.error("%s[%d]: MESSAGE LOSS: %s", self.spec.name, self.partition, self.counters.last_error)
        if self.segment.rows == 0:
            self.segment.start_offset = self.segment.end_offset = first

    def _count(self, batch: MessageBatch, decoded: DecodedBatch) -> None:
        self.counters.messages += len(batch.values)
        self.counters.rows += decoded.rows.num_rows
        self.counters.time_defaulted += decoded.time_defaulted
        self.counters.time_invalid += decoded.time_invalid
        if decoded.bad_indices:
            self.counters.malformed += len(decoded.bad_indices)
            self.counters.last_error = decoded.first_error
            log.warning("%s[%d]: skipped %d malformed message(s) at offsets from %d: %s",
                        self.spec.name, self.partition, len(decoded.bad_indices),
                        batch.offset_at(decoded.bad_indices[0]), decoded.first_error)

    def _append(self, work: _Pending) -> None:
        """Append rows from the cursor on, sealing exactly at the row threshold as often as needed.

        If a seal fails, the cursor is kept as pending and consumption holds until it succeeds.
        """
        rows, batch = work.decoded.rows, work.batch
        message_count = len(batch.values)
        while True:
            if self.segment.rows >= self.segment.row_limit and not self._seal():
                self._pending = work
                return
            if work.message >= message_count:
                return
            room = self.segment.row_limit - self.segment.rows
            if rows.num_rows - work.row <= room:
                self.segment.append(sliced(rows, work.row), batch.offset_at(work.message), batch.next_offset)
                work = _Pending(batch, work.decoded, rows.num_rows, message_count)
                continue
            split = work.decoded.message_index_of_row(work.row + room, message_count)
            self.segment.append(sliced(rows, work.row, room), batch.offset_at(work.message),
                                batch.offset_at(split))
            work = _Pending(batch, work.decoded, work.row + room, split)

    def _seal_if_time_due(self) -> None:
        if self._pending is not None or self.segment.age_ms() < self._policy.time_ms:
            return
        if self.segment.rows == 0:
            self.segment.restart_clock()
        else:
            self._seal()

    def _seal(self) -> bool:
        """Seal the consuming segment (file durable first, then the ledger record). False on I/O error."""
        try:
            meta = seal_segment(
                self.segment, self._paths.segments, self.spec.uid, self.spec.config.time_column
            )
            self._ledger.append(meta)
        except OSError as exc:
            self.counters.seal_failures += 1
            self.counters.last_error = f"sealing {self.segment.name} failed: {exc}"
            log.error("%s[%d]: %s; will retry, nothing is lost", self.spec.name, self.partition,
                      self.counters.last_error)
            return False
        self._policy.on_sealed(meta)
        self._records.append(meta)
        table = load_segment(self._paths.segments / meta.file_name, self.spec.config.load_mode)
        self.sealed.append((meta, table))
        self._next_retention = 0.0  # check retention at the next poll
        self.segment = self._new_segment(meta.sequence + 1, meta.end_offset)
        log.info("%s[%d]: sealed %s (%d rows, offsets %d-%d)", self.spec.name, self.partition,
                 meta.name, meta.rows, meta.start_offset, meta.end_offset - 1)
        return True

    def apply_retention(self, now: int) -> int:
        """Delete sealed segments whose newest row is older than the table's retention; returns how many.

        The ledger first records the segment as retired (its offsets stay committed, so it is never
        consumed again), then the file is deleted: a crash in between leaves only an orphan file.
        """
        self._next_retention = time.monotonic() + RETENTION_INTERVAL_S
        retention = self.spec.config.retention_ms
        if retention is None:
            return 0
        cutoff = now - retention
        expired = [(m, t) for m, t in self.sealed
                   if m.max_time is not None and m.max_time * self._time_factor < cutoff]
        for meta, _ in expired:
            retired = dataclasses.replace(meta, retired=True)
            try:
                self._ledger.append(retired)
            except OSError as exc:
                log.error("%s[%d]: cannot retire %s: %s", self.spec.name, self.partition, meta.name, exc)
                break
            self._records.append(retired)
            self.sealed = [(m, t) for m, t in self.sealed if m is not meta]
            (self._paths.segments / meta.file_name).unlink(missing_ok=True)
            log.info("%s[%d]: retention deleted %s (newest row %d)", self.spec.name, self.partition,
                     meta.name, meta.max_time)
        if expired and self._ledger.size() > LEDGER_COMPACT_BYTES:
            self._compact_ledger()
        self._publish()
        return len(expired)

    def _compact_ledger(self) -> None:
        """Keep what recovery needs: live segments, and the newest record for the resume point."""
        keep = [meta for meta, _ in self.sealed]
        last_offset = max(r.end_offset for r in self._records)
        # the last of the ties: a retirement is appended after its seal record
        newest = [r for r in self._records if r.end_offset == last_offset][-1]
        if newest not in keep:
            keep.append(newest)
        self._ledger.rewrite(keep)
        log.info("%s[%d]: compacted the ledger from %d to %d records", self.spec.name, self.partition,
                 len(self._records), len(keep))
        self._records = keep

    def _new_segment(self, sequence: int, start_offset: int | None) -> ConsumingSegment:
        return ConsumingSegment(self.spec.name, self.partition, sequence, start_offset, self._schema,
                                row_limit=self._policy.row_limit())

    def _publish(self) -> None:
        """Replace the view queries read (one reference assignment: atomic for other threads)."""
        self.view = PartitionView(tuple(table for _, table in self.sealed), tuple(self.segment.batches))

    def tables(self) -> tuple[list[pa.Table], pa.Table]:
        """The sealed segments' tables and the consuming segment's rows, as of the last change."""
        view = self.view
        return list(view.sealed), pa.Table.from_batches(view.consuming, schema=self._schema)

    def status(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "state": "BLOCKED" if self._pending is not None else "CONSUMING",
            "consumingSegment": self.segment.name,
            "consumingRows": self.segment.rows,
            "rowLimit": self.segment.row_limit,
            "startOffset": self.segment.start_offset,
            "currentOffset": self.segment.end_offset,
            "lastConsumedMs": self.segment.last_consumed_ms,
            "sealedSegments": len(self.sealed),
            "sealedRows": sum(meta.rows for meta, _ in self.sealed),
            "messagesConsumed": self.counters.messages,
            "rowsIndexed": self.counters.rows,
            "malformedMessages": self.counters.malformed,
            "sealFailures": self.counters.seal_failures,
            "offsetResets": self.counters.offset_resets,
            "messagesLost": self.counters.messages_lost,
            "timeValuesDefaulted": self.counters.time_defaulted,
            "timeValuesOutOfRange": self.counters.time_invalid,
            "lastError": self.counters.last_error,
        }

    def close(self) -> None:
        self._consumer.close()
