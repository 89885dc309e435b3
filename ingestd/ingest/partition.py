"""One partition, end to end: consume → decode → append to the consuming segment → seal → commit.

The ingestor is rebuilt from the ledger alone (see recovery.py), so a crash anywhere loses nothing:
rows not yet sealed are simply consumed again from the checkpoint. What it delegates, one job each:
continuity.py notices offset resets (retention, a re-created topic, a broker that lost its data),
retention.py expires old segments and compacts the ledger, backoff.py paces the retries of failing
seals and polls and keeps their log quiet, progress.py observes lag, rate, backlog and freshness.
Each new checkpoint is also committed to the stream (Kafka's consumer group) for outside lag tools only;
in consumer-group mode it goes to the coordinator instead, whose group member commits it.

An offset reset is committed like a seal: the rows consumed before it are sealed first (a segment's
offsets never go back or skip), then a reset record in the ledger makes the target the checkpoint, so
a restart resumes there and neither rediscovers the reset nor silently skips what came after it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from ingestd.columns import now_ms, sliced
from ingestd.config.table import OffsetReset
from ingestd.decode.conform import conform
from ingestd.decode.spi import DecodedBatch, MessageDecoder
from ingestd.ingest.backoff import FailureBackoff
from ingestd.ingest.continuity import OffsetGuard, OffsetJump
from ingestd.ingest.evolution import column_defaults
from ingestd.ingest.partition_control import PartitionControl, ReleasedConsumer
from ingestd.ingest.partition_state import PartitionCounters, Work, status_document
from ingestd.ingest.progress import PartitionProgress, newest_event_ms
from ingestd.ingest.recovery import recover_partition
from ingestd.ingest.retention import RetentionKeeper
from ingestd.ingest.table_spec import TableSpec
from ingestd.ingest.view import PartitionView, SealedPiece
from ingestd.ledger import OffsetLedger
from ingestd.paths import PartitionPaths
from ingestd.segment.consuming import ConsumingSegment
from ingestd.segment.loader import load_segment
from ingestd.segment.metadata import SegmentMetadata, offset_reset_record
from ingestd.segment.thresholds import FlushPolicy
from ingestd.segment.writer import seal_segment
from ingestd.stream.spi import ConsumerFactory, MessageBatch, PartitionConsumer, StartPosition

log = logging.getLogger(__name__)


class PartitionIngestor(PartitionControl):
    """One partition's ingestion. The worker uses poll(), status(), close(), counters, view, tables(),
    and the operations of PartitionControl (pause, resume, force_commit, reconfigure)."""

    def __init__(
        self,
        spec: TableSpec,
        partition: int,
        paths: PartitionPaths,
        factory: ConsumerFactory,
        decoder: MessageDecoder,
        server_partitions: int = 1,
        clock: Callable[[], float] = time.monotonic,
        paused: bool = False,
        consume: bool = True,
        committed: int | None = None,
        checkpoint_sink: Callable[[int], None] | None = None,
        trim_to: int | None = None,
        on_sealed: Callable[[SegmentMetadata], None] | None = None,
    ) -> None:
        """`clock` (monotonic seconds) paces probes, retries and retention; tests pass their own. `paused`:
        the table's consumption is paused (partition_control.py): nothing is fetched until resumed.
        `consume` False: only serve the sealed segments (released, partition_control.py). Consumer-group
        mode: `committed` is the group's committed offset (sealed segments beyond it are dropped first; the
        partition starts at the larger of it and the local checkpoint; `trim_to`, if given, is where the
        sealed segments are cut instead) and `checkpoint_sink` receives each new checkpoint to commit to
        the group (instead of the consumer's monitoring-only commit). `on_sealed` receives each segment
        once it is sealed and in the ledger (the deep store's committer)."""
        self.spec = spec
        self._clock = clock
        self._paused = paused
        self._consume_from: OffsetReset | None = None  # a resume asked to start at the stream's start/end
        self.partition = partition
        self._paths = paths
        self._decoder = decoder
        self._schema = spec.arrow_schema
        self._label = f"{spec.name}[{partition}]"
        self._ledger = OffsetLedger(paths.ledger)
        self.counters = PartitionCounters()
        recovered = recover_partition(paths, self._ledger)
        self._policy = FlushPolicy(spec.config.stream.flush, recovered.records, server_partitions)
        time_field = spec.schema.field(spec.config.time_column)
        self._time_factor = time_field.epoch_ms_factor() if time_field else None
        self._retention = RetentionKeeper(self._label, self._ledger, paths.segments, spec.config.retention_ms,
                                          self._time_factor or 1, recovered.records, clock)
        self.sealed: list[tuple[SegmentMetadata, pa.Table]] = [
            (meta, load_segment(paths.segments / meta.file_name, spec.config.load_mode))
            for meta in recovered.segments
        ]
        self.segment = self._new_segment(recovered.next_sequence, recovered.resume_offset)
        self._defaults = column_defaults(spec.schema)
        self.view = PartitionView(self._sealed_pieces(), (), self.segment.name, defaults=self._defaults)
        self._pending: Work | None = None  # held while a seal or a reset record cannot be written
        self._fetched: MessageBatch | None = None  # fetched, rows not yet in: retried if processing fails
        self._awaiting_data = False  # a probe found a reset and moved the consumer; nothing arrived since
        self._seal_retry = FailureBackoff(self._label, "sealing", log, clock)
        self._poll_retry = FailureBackoff(self._label, "polling", log, clock)
        self._checkpoint_sink = checkpoint_sink
        self.on_sealed = on_sealed
        self._consumer: PartitionConsumer = ReleasedConsumer()
        cut = trim_to if trim_to is not None else committed
        if cut is not None:
            self.trim(cut)
        resume = self.segment.start_offset
        if committed is not None and (resume is None or committed > resume):
            resume = committed
            self.segment = self._new_segment(self.segment.sequence, resume)
        reset = spec.config.stream.offset_reset
        start = StartPosition(resume, reset, paths.root)
        if consume:
            self._consumer = factory.partition_consumer(partition, start)
        self._guard = OffsetGuard(self._consumer, reset, self._label, clock)
        newest = max((meta.max_time for meta, _ in self.sealed if meta.max_time is not None), default=None)
        self._progress = PartitionProgress(self._label, self._consumer, newest * self._time_factor
                                           if newest is not None and self._time_factor else None, clock)
        if not consume:
            log.info("%s: serving %d sealed segment(s) (not consuming)", self._label, len(self.sealed))
            return
        where = f"offset {start.offset}" if start.offset is not None else start.reset.value
        log.info("%s: resuming at %s with %d sealed segment(s)", self._label, where, len(self.sealed))
        if start.offset is not None and checkpoint_sink is None:
            self._commit_to_stream(start.offset)

    def poll(self, max_messages: int) -> int:
        """Consume and process one batch; returns how many messages it took (0 when idle, blocked or
        failing). A failure is counted, shown in the status and retried with back-off, not raised."""
        if self.released:
            if self._retention.due():
                self.apply_retention(now_ms())
            return 0
        if not self._poll_retry.ready():
            return 0
        try:
            taken = self._poll_paused() if self._paused else self._poll_once(max_messages)
        except Exception as exc:
            self.counters.last_error = f"polling failed: {type(exc).__name__}: {exc}"
            self._poll_retry.failed(self.counters.last_error, exc)
            return 0
        finally:
            self._publish()
            failing = self._state() in ("ERROR", "BLOCKED")  # then the back-off logs, not the progress
            self._progress.tick(self.segment.end_offset, self.counters.messages, quiet=failing)
        self._recovered(self._poll_retry)
        return taken

    def _poll_once(self, max_messages: int) -> int:
        if self._retention.due():
            self.apply_retention(now_ms())
        if self._pending is not None:
            if not self._seal_retry.ready():
                return 0  # sealing fails: hold consumption, keep what is in memory, retry after the back-off
            work, self._pending = self._pending, None
            self._process(work)
            if self._pending is not None:
                return 0
        if self._consume_from is not None:
            self._apply_consume_from()
        batch = self._fetched if self._fetched is not None else self._consumer.fetch(max_messages, 0)
        if batch is None:
            jump = self._guard.check_idle(self.segment.end_offset)
            if jump is not None:
                self._report(jump)
                self._process(Work(jump))
            self._seal_if_time_due()
            return 0
        self._fetched = batch
        jump = self._guard.check_batch(self.segment.end_offset, batch.offset_at(0))
        decoded = conform(self._decoder.decode(batch.values), self.spec.schema, self.spec.config)
        self._fetched = None
        self._awaiting_data = False
        self._count(batch, decoded)
        if jump is not None:
            self._report(jump)
        self._process(Work(jump, batch, decoded))
        self._seal_if_time_due()
        return len(batch.values)

    def _report(self, jump: OffsetJump) -> None:
        """Pinot's "message loss" rule: one ERROR line, counted, shown in the status; consumption goes on."""
        message = jump.describe(self.spec.config.stream.offset_reset)
        self.counters.offset_resets += 1
        self.counters.messages_lost += jump.lost
        self.counters.last_error = message
        self.counters.last_reset = {"atMs": now_ms(), "fromOffset": jump.expected, "toOffset": jump.target,
                                    "messagesLost": jump.lost, "lossUnknown": jump.unknown_loss}
        log.error("%s: MESSAGE LOSS: %s", self._label, message)

    def _count(self, batch: MessageBatch, decoded: DecodedBatch) -> None:
        self.counters.messages += len(batch.values)
        self.counters.rows += decoded.rows.num_rows
        self.counters.bytes += sum(map(len, filter(None, batch.values)))
        self._progress.consumed(batch.last_timestamp_ms, newest_event_ms(
            decoded.rows, self.spec.config.time_column, self._time_factor))
        self.counters.time_defaulted += decoded.time_defaulted
        self.counters.time_invalid += decoded.time_invalid
        if decoded.bad_indices:
            self.counters.malformed += len(decoded.bad_indices)
            self.counters.last_error = decoded.first_error
            first_bad = batch.offset_at(decoded.bad_indices[0])
            log.warning("%s: skipped %d malformed message(s) at offsets from %d: %s", self._label,
                        len(decoded.bad_indices), first_bad, decoded.first_error)

    def _process(self, work: Work) -> None:
        """Commit the work's offset reset, then append its rows from the cursor on, sealing exactly at the
        row threshold as often as needed. If a write fails, the rest is kept as pending and consumption
        holds until it succeeds."""
        if work.jump is not None:
            if not self._move_checkpoint(work.jump):
                self._pending = work
                return
            work = dataclasses.replace(work, jump=None)
        if work.batch is None or work.decoded is None:
            return
        rows, batch, decoded = work.decoded.rows, work.batch, work.decoded
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
                work = Work(None, batch, decoded, rows.num_rows, message_count)
                continue
            split = decoded.message_index_of_row(work.row + room, message_count)
            self.segment.append(sliced(rows, work.row, room), batch.offset_at(work.message),
                                batch.offset_at(split))
            work = Work(None, batch, decoded, work.row + room, split)

    def _move_checkpoint(self, jump: OffsetJump) -> bool:
        """Seal what was consumed before the jump, record the jump in the ledger (the new checkpoint), and
        start the consuming segment at its target. False if a write failed (it is retried)."""
        if self.segment.rows > 0 and not self._seal():
            return False
        record = offset_reset_record(self.spec.name, self.spec.uid, self.partition, self.segment.sequence,
                                     jump.expected, jump.target, now_ms())
        try:
            self._ledger.append(record)
        except OSError as exc:
            self.counters.seal_failures += 1
            self._write_failed(f"recording the offset reset {jump.expected} -> {jump.target} in the ledger "
                               f"failed: {exc}", None)
            return False
        self._recovered(self._seal_retry)
        self._retention.committed(record)
        self._commit_to_stream(jump.target)
        if jump.move_consumer:
            self._consumer.seek(jump.target)
        self.segment = self._new_segment(self.segment.sequence, jump.target)
        self._awaiting_data = jump.move_consumer
        return True

    def _poll_paused(self) -> int:
        """Paused: finish what was fetched before the pause (pending work) and seal it; fetch nothing."""
        if self._pending is not None and self._seal_retry.ready():
            work, self._pending = self._pending, None
            self._process(work)
        if self._pending is None and self.segment.rows > 0 and self._seal_retry.ready():
            self._seal()
        return 0

    def _sealed_by_pause(self) -> bool:
        """Paused with every consumed row sealed: no consuming segment to show (as in Pinot)."""
        return self._paused and self._pending is None and self.segment.rows == 0

    def _seal_if_time_due(self) -> None:
        if self._pending is not None or not self._seal_retry.ready():
            return
        if self.segment.rows and self.segment.rows >= self.segment.row_limit:
            self._seal()  # the row threshold was lowered below what the segment holds (a live change)
            return
        if self.segment.age_ms() < self._policy.time_ms:
            return
        if self.segment.rows == 0:
            self.segment.restart_clock()
        else:
            self._seal()

    def _seal(self) -> bool:
        """Seal the consuming segment (file durable first, then the ledger record). False if that failed."""
        started = time.perf_counter()
        try:
            meta = seal_segment(
                self.segment, self._paths.segments, self.spec.uid, self.spec.config.time_column
            )
            self._ledger.append(meta)
        except Exception as exc:  # disk full, I/O error, or a bug: the rows stay in memory either way
            self.counters.seal_failures += 1
            self._write_failed(f"sealing {self.segment.name} failed: {exc}",
                               None if isinstance(exc, OSError) else exc)
            return False
        self._progress.seals.observe(time.perf_counter() - started)
        if self.on_sealed is not None:
            self.on_sealed(meta)  # hands the segment over (never blocks, never raises)
        self._commit_to_stream(meta.end_offset)
        self._recovered(self._seal_retry)
        self._policy.on_sealed(meta)
        self._retention.committed(meta)
        self.sealed.append((meta, self._load(meta)))
        self.segment = self._new_segment(meta.sequence + 1, meta.end_offset)
        log.info("%s: sealed %s (%d rows, offsets %d-%d)", self._label, meta.name, meta.rows,
                 meta.start_offset, meta.end_offset - 1)
        return True

    def _load(self, meta: SegmentMetadata) -> pa.Table:
        """The sealed file per loadMode; if it cannot be loaded, the committed rows are served from memory
        until the next start (which verifies and loads the file)."""
        try:
            return load_segment(self._paths.segments / meta.file_name, self.spec.config.load_mode)
        except Exception:
            log.exception("%s: cannot load the sealed %s; serving its rows from memory", self._label,
                          meta.name)
            return self.segment.to_table()

    def _commit_to_stream(self, offset: int) -> None:
        """Publish the checkpoint: to the group member (consumer-group mode), else for the stream's own
        lag tools (asynchronous; never read back)."""
        if self._checkpoint_sink is not None:
            self._checkpoint_sink(offset)
            return
        try:
            self._consumer.commit(offset)
        except Exception as exc:  # a monitoring aid must never stop ingestion
            log.warning("%s: cannot commit offset %d to the stream: %s", self._label, offset, exc)

    def _write_failed(self, error: str, exc: BaseException | None) -> None:
        self.counters.last_error = error
        self._seal_retry.failed(error, exc)

    def _recovered(self, retry: FailureBackoff) -> None:
        """A failing operation works again: its error leaves the status (unless a newer one replaced it)."""
        error = retry.succeeded()
        if error is not None and self.counters.last_error == error:
            self.counters.last_error = None

    def _new_segment(self, sequence: int, start_offset: int | None) -> ConsumingSegment:
        return ConsumingSegment(self.spec.name, self.partition, sequence, start_offset, self._schema,
                                row_limit=self._policy.row_limit())

    def _publish(self) -> None:
        """Replace the view queries read (one reference assignment: atomic for other threads)."""
        sealed = self.view.sealed if len(self.view.sealed) == len(self.sealed) and all(
            piece.table is table for piece, (_, table) in zip(self.view.sealed, self.sealed, strict=True)
        ) else self._sealed_pieces()
        self.view = PartitionView(sealed, tuple(self.segment.batches), self.segment.name,
                                  self.segment.last_consumed_ms, self._defaults)

    def _sealed_pieces(self) -> tuple[SealedPiece, ...]:
        return tuple(SealedPiece(table, meta.name, meta.min_time, meta.max_time,
                                 (meta.start_offset, meta.end_offset)) for meta, table in self.sealed)

    def tables(self) -> tuple[list[pa.Table], pa.Table]:
        """The sealed segments' tables and the consuming segment's rows, as of the last change."""
        view = self.view
        consuming = pa.Table.from_batches(view.consuming, schema=self._schema)
        return [piece.table for piece in view.sealed], consuming

    def _state(self) -> str:
        if self.released:
            return "RELEASED"
        if self._poll_retry.failing:
            return "ERROR"
        if self._pending is not None or self._seal_retry.failing:
            return "BLOCKED"
        if self._paused:
            return "PAUSED"
        return "OFFSET_RESET" if self._awaiting_data else "CONSUMING"

    def status(self) -> dict[str, Any]:
        consuming = None if self._sealed_by_pause() or self.released else self.segment.name
        return status_document(
            self.partition, self._state(), self.segment, consuming, len(self.sealed),
            sum(meta.rows for meta, _ in self.sealed), self.counters,
        ) | self._progress.fields(self.segment.end_offset)

    def close(self) -> None:
        self._consumer.close()
        self._ledger.close()
