"""The consuming segment: decoded batches of one partition held in memory, queryable at once."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pyarrow as pa

from ingestd.columns import now_ms
from ingestd.segment.metadata import segment_name


@dataclass
class ConsumingSegment:
    table: str
    partition: int
    sequence: int
    start_offset: int | None  # None until the first message arrives (start position was a reset policy)
    schema: pa.Schema
    row_limit: int
    created_ms: int = field(default_factory=now_ms)
    started_monotonic: float = field(default_factory=time.monotonic)
    end_offset: int | None = None
    batches: list[pa.RecordBatch] = field(default_factory=list)
    rows: int = 0
    last_consumed_ms: int | None = None

    def __post_init__(self) -> None:
        if self.end_offset is None:
            self.end_offset = self.start_offset  # nothing consumed yet: the next offset is the start

    @property
    def name(self) -> str:
        return segment_name(self.table, self.partition, self.sequence, self.created_ms)

    def append(self, batch: pa.RecordBatch, first_offset: int, end_offset: int) -> None:
        """Add decoded rows that came from offsets [first_offset, end_offset)."""
        if self.start_offset is None:
            self.start_offset = first_offset
        if batch.num_rows:
            self.batches.append(batch)
            self.rows += batch.num_rows
        self.end_offset = end_offset
        self.last_consumed_ms = now_ms()

    def age_ms(self) -> float:
        return (time.monotonic() - self.started_monotonic) * 1000

    def restart_clock(self) -> None:
        """A time threshold passed with no rows: Pinot seals no empty segment, it waits again."""
        self.started_monotonic = time.monotonic()

    def to_table(self) -> pa.Table:
        return pa.Table.from_batches(list(self.batches), schema=self.schema)
