"""Operating one live partition, as Pinot's controller operations ask the server that owns it:

* pause: fetch nothing more and seal what was consumed (Pinot force-commits the consuming segments and
  creates no new ones); resume: from the last consumed offset (`lastConsumed`), or from the stream's
  smallest or largest offset, committed to the ledger like an offset reset (a restart resumes there);
* force commit: seal the consuming segment now;
* a changed table config or schema, applied in place without losing or re-reading a row: new flush
  thresholds apply to the consuming segment at once (sealed first if it already holds more rows than the
  new limit), a new broker list or client properties rebuild the consumer at the exact next offset, a
  schema with new columns is applied to the consuming segment's batches (earlier rows get the column's
  default null value) and to every batch decoded from then on;
* revocation (the partition went to another worker or server, or vanished from the stream): seal the
  consuming segment, or drop it if that fails (its rows are read again by the next owner), close the
  consumer; the sealed segments stay served;
* consumer-group mode: drop the sealed segments the group's committed offset does not cover;
* retention: delete the sealed segments past the table's retention, and the local copies of segments the
  deep store holds (`[deep_store] local_retention`).

A mixin of PartitionIngestor (partition.py), which owns the state it works on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ingestd.columns import now_ms
from ingestd.config.table import OffsetReset, StreamConfig
from ingestd.decode.spi import MessageDecoder
from ingestd.errors import StreamError
from ingestd.ingest.continuity import OffsetGuard, OffsetJump
from ingestd.ingest.evolution import column_defaults, conform
from ingestd.ingest.partition_state import Work
from ingestd.ingest.recovery import newest_record, uncommitted_tombstones
from ingestd.ingest.table_spec import TableSpec
from ingestd.segment.thresholds import FlushPolicy
from ingestd.stream.spi import (
    ConsumerFactory,
    MessageBatch,
    PartitionBounds,
    StartPosition,
    connection_settings,
)

if TYPE_CHECKING:
    from ingestd.ingest.partition import PartitionIngestor

log = logging.getLogger(__name__)

BOUNDS_TIMEOUT_S = 2.0  # a resume from smallest/largest asks the broker where the partition begins/ends
BEYOND_ANY_OFFSET = 2**62  # asking for the bounds "as far as they matter" here confirms the true end


class PartitionControl:
    """Pause, resume, force commit and live reconfiguration of a PartitionIngestor."""

    @property
    def paused(self: PartitionIngestor) -> bool:
        return self._paused

    def pause(self: PartitionIngestor) -> tuple[str | None, str | None]:
        """Stop fetching and seal what was consumed; (segment sealed now, segment whose seal still fails:
        poll retries it while paused)."""
        if not self._paused:
            log.info("%s: consumption paused", self._label)
        self._paused = True
        self._consume_from = None
        return self.force_commit()

    def resume(self: PartitionIngestor, consume_from: OffsetReset | None = None) -> None:
        """Fetch again: where consumption stopped, or (`consume_from`) at the stream's smallest or largest
        offset (found at the next poll; until the broker answers, the poll fails and is retried)."""
        if self._paused:
            where = consume_from.value if consume_from else "the last consumed offset"
            log.info("%s: consumption resumed from %s", self._label, where)
        self._paused = False
        self._consume_from = consume_from

    def force_commit(self: PartitionIngestor) -> tuple[str | None, str | None]:
        """Seal the consuming segment now if it holds rows (Pinot's forceCommit). Returns (the segment
        sealed, the segment that could not be sealed yet: its seal is retried with back-off)."""
        if self._pending is not None:
            return None, self.segment.name
        if self.segment.rows == 0:
            return None, None
        name = self.segment.name
        sealed = self._seal()
        self._publish()
        return (name, None) if sealed else (None, name)

    @property
    def released(self: PartitionIngestor) -> bool:
        return isinstance(self._consumer, ReleasedConsumer)

    def release(self: PartitionIngestor, seal: bool = True) -> int | None:
        """Revocation: seal the consuming segment (`seal`; else, or if that fails, drop its rows: the next
        owner reads them again from the checkpoint), close the consumer, keep serving the sealed segments.
        Returns the checkpoint (the end of the last sealed segment; None if nothing was ever sealed)."""
        if not self.released:
            sealed = False
            if seal and self._pending is None and self.segment.rows > 0:
                sealed = self._seal()
            dropped = self.segment.rows if not sealed else 0
            self._pending = None
            self._fetched = None
            checkpoint = self._checkpoint()
            self.segment = self._new_segment(self.segment.sequence, checkpoint)
            self._consumer.close()
            self._consumer = ReleasedConsumer()
            self._progress.use(self._consumer)
            self._paused = False
            self._publish()
            log.info("%s: revoked at offset %s%s; its %d sealed segment(s) stay served", self._label,
                     checkpoint, f" ({dropped} unsealed row(s) dropped)" if dropped else "", len(self.sealed))
        return self._checkpoint()

    def trim(self: PartitionIngestor, committed: int) -> list[str]:
        """Consumer-group mode: drop (tombstone in the ledger, delete) the sealed segments that end beyond
        the group's committed offset, which the partition's next owner reads again; their names. Raises
        OSError when the ledger cannot be written (nothing changed then)."""
        dropped, tombstones = uncommitted_tombstones(self._retention.records, committed, now_ms())
        if not dropped:
            return []
        for record in tombstones:
            self._ledger.append(record)
            self._retention.committed(record)
        names = {record.name for record in dropped}
        self.sealed = [(meta, table) for meta, table in self.sealed if meta.name not in names]
        for record in dropped:
            (self._paths.segments / record.file_name).unlink(missing_ok=True)
        self.segment = self._new_segment(tombstones[-1].sequence, committed)
        self._publish()
        log.warning("%s: dropped %d sealed segment(s) the consumer group never committed (%s): the "
                    "partition's owner reads offsets from %d again", self._label, len(dropped),
                    ", ".join(sorted(names)), committed)
        return sorted(names)

    def apply_retention(self: PartitionIngestor, now: int) -> int:
        """Delete sealed segments whose newest row is older than the table's retention; returns how many."""
        kept = self._retention.expire(self.sealed, now)
        removed = len(self.sealed) - len(kept)
        if removed:
            self.sealed = kept
            self._publish()
        return removed

    def drop_local(self: PartitionIngestor, names: set[str]) -> int:
        """Delete the local copies of these sealed segments (the deep store holds them, and queries read
        them there); retired in the ledger like expired ones. Returns how many were dropped."""
        kept = self._retention.retire(self.sealed, names, "dropped the local copy (in the deep store) of")
        removed = len(self.sealed) - len(kept)
        if removed:
            self.sealed = kept
            self._publish()
        return removed

    def _checkpoint(self: PartitionIngestor) -> int | None:
        """Where the partition resumes: the end of its newest ledger record (None without one)."""
        newest = newest_record(self._retention.records)
        return newest.end_offset if newest is not None else None

    def reconfigure(self: PartitionIngestor, spec: TableSpec, decoder: MessageDecoder,
                    factory: ConsumerFactory, server_partitions: int) -> None:
        """Apply a changed table config or schema (the coordinator checked it: same topic, same time
        column, only new columns) without losing or re-reading a row."""
        old = self.spec
        self.spec = spec
        self._decoder = decoder
        if not spec.arrow_schema.equals(self._schema):
            self._conform_consuming(spec)
        self._defaults = column_defaults(spec.schema)
        self._policy = FlushPolicy(spec.config.stream.flush, self._retention.records, server_partitions)
        self.segment.row_limit = self._policy.row_limit()
        self._retention.set_retention(spec.config.retention_ms)
        if not self.released and _connection(old.config.stream) != _connection(spec.config.stream):
            self._rebuild_consumer(factory)
        self._publish()
        log.info("%s: new table config applied (row limit %d, time threshold %d ms)", self._label,
                 self.segment.row_limit, self._policy.time_ms)

    def _conform_consuming(self: PartitionIngestor, spec: TableSpec) -> None:
        """The consuming segment's rows (and a batch held back by a failing seal) under the new schema."""
        schema, defaults = spec.arrow_schema, column_defaults(spec.schema)
        self.segment.batches = [conform(batch, schema, defaults) for batch in self.segment.batches]
        self.segment.schema = schema
        pending = self._pending
        if pending is not None and pending.decoded is not None:
            pending.decoded.rows = conform(pending.decoded.rows, schema, defaults)
        self._schema = schema

    def _rebuild_consumer(self: PartitionIngestor, factory: ConsumerFactory) -> None:
        """A new consumer (new brokers or client properties) at the offset the old one would read next:
        after a batch still being appended, at a fetched batch not yet appended, else the segment's end."""
        if self._pending is not None and self._pending.batch is not None:
            position = self._pending.batch.next_offset
        elif self._fetched is not None:
            position = self._fetched.offset_at(0)
        else:
            position = self.segment.end_offset
        reset = self.spec.config.stream.offset_reset
        try:
            consumer = factory.partition_consumer(self.partition,
                                                  StartPosition(position, reset, self._paths.root))
        except Exception:  # the coordinator built these clients already; keep consuming with the old one
            log.exception("%s: cannot build a consumer for the new stream config; keeping the old one",
                          self._label)
            return
        self._fetched = None
        old, self._consumer = self._consumer, consumer
        old.close()
        self._guard = OffsetGuard(consumer, reset, self._label, self._clock)
        self._progress.use(consumer)
        log.info("%s: consumer rebuilt at offset %s (brokers %s)", self._label,
                 "per auto.offset.reset" if position is None else position,
                 self.spec.config.stream.bootstrap_servers)

    def _apply_consume_from(self: PartitionIngestor) -> None:
        """Move to the stream's smallest or largest offset (a resume asked for it), committed to the
        ledger like an offset reset so that a restart resumes there as well."""
        criterion = self._consume_from
        assert criterion is not None
        largest = criterion is OffsetReset.LARGEST
        at = BEYOND_ANY_OFFSET if largest else (self.segment.end_offset or 0)
        bounds = self._consumer.bounds(at, BOUNDS_TIMEOUT_S)
        if bounds is None:
            raise StreamError(f"cannot find where the partition {'ends' if largest else 'begins'} to resume "
                              f"from the {criterion.value} offset; retrying")
        target = bounds.end if largest else bounds.earliest
        self._consume_from = None
        self._fetched = None
        expected = self.segment.end_offset
        log.warning("%s: resuming at the %s offset %d (the last consumed was %s)", self._label,
                    criterion.value, target, expected)
        if expected is None or expected == target:
            self._consumer.seek(target)
            return
        self._process(Work(OffsetJump(expected, target, 0, f"consumption resumed from {criterion.value}",
                                      move_consumer=True)))
        self._awaiting_data = False


def _connection(stream: StreamConfig) -> tuple[Any, ...]:
    """What the partition consumer is built from: a change rebuilds it."""
    return connection_settings(stream), stream.offset_reset, stream.consumer_factory



class ReleasedConsumer:
    """The consumer of a partition this worker no longer consumes (revoked, or only its sealed segments
    served): fetches nothing, knows nothing."""

    def fetch(self, max_messages: int, timeout_s: float) -> MessageBatch | None:
        return None

    def bounds(self, position: int, timeout_s: float) -> PartitionBounds | None:
        return None

    def seek(self, offset: int) -> None:
        pass

    def latest_offset(self) -> int | None:
        return None

    def commit(self, offset: int) -> None:
        pass

    def close(self) -> None:
        pass
