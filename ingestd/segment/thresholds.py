"""When a consuming segment seals: Pinot's flush thresholds.

Rows: `threshold.rows` (or the 5,000,000 default) divided by the partitions this server consumes, as Pinot's
DefaultFlushThresholdUpdater divides it by the most partitions one instance consumes; `segment.rows`
as it is (FixedFlushThresholdUpdater); or (rows 0, or only a segment size given) a count learned per
partition so sealed
segments converge to the desired size, the way Pinot's SizeBasedSegmentFlushThresholdComputer does:
  * a rows-per-byte ratio, set by the first sealed segment, then 0.1 x this segment's + 0.9 x the old one;
  * next limit: the last segment stopped on time (fewer rows than its limit, smaller than the target) →
    1.1 x the rows it took (scaled down if the time threshold was lowered since); else if it was under half
    the target → 1.5 x its rows; over 1.5 x the target → half its rows; otherwise target x ratio;
  * never below 10,000 rows; an empty segment teaches nothing.
The learned state is rebuilt from the ledger's records at start-up, so it survives restarts.
Time: always applies as well; the first threshold hit seals.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestd.config.table import FlushThresholds
from ingestd.segment.metadata import SegmentMetadata

MINIMUM_ROWS = 10_000
CURRENT_WEIGHT = 0.1
TIME_HIT_MULTIPLIER = 1.1


@dataclass
class _LastSegment:
    rows: int
    size_bytes: int
    row_limit: int
    consumed_ms: int


class FlushPolicy:
    def __init__(
        self, flush: FlushThresholds, history: list[SegmentMetadata], server_partitions: int = 1
    ) -> None:
        """`server_partitions`: how many of the table's partitions this server consumes (one ingestd
        server is one Pinot instance); a per-server row threshold is divided among them."""
        self._flush = flush
        self._server_partitions = max(1, server_partitions)
        self._ratio = 0.0  # rows per byte
        self._last: _LastSegment | None = None
        for record in history:
            self.on_sealed(record)

    @property
    def time_ms(self) -> int:
        return self._flush.time_ms

    @property
    def auto_tuned(self) -> bool:
        return self._flush.rows is None

    def row_limit(self) -> int:
        """The row limit for the next consuming segment."""
        if self._flush.rows is not None:
            if self._flush.per_server:
                return max(1, self._flush.rows // self._server_partitions)
            return self._flush.rows
        if self._ratio == 0.0 or self._last is None:
            return self._last.row_limit if self._last and self._last.row_limit else self._flush.initial_rows
        target = self._flush.segment_size_bytes
        last = self._last
        if last.rows < last.row_limit and last.size_bytes < target:
            rows = last.rows
            if 0 < self._flush.time_ms < last.consumed_ms:
                rows = rows * self._flush.time_ms // last.consumed_ms
            return _clamp(rows * TIME_HIT_MULTIPLIER)
        if last.size_bytes < target / 2:
            return _clamp(last.rows * 1.5)
        if last.size_bytes > target * 1.5:
            return _clamp(last.rows / 2)
        return _clamp(target * self._ratio)

    def on_sealed(self, record: SegmentMetadata) -> None:
        if record.rows <= 0 or record.size_bytes <= 0 or record.retired:
            return
        ratio = record.rows / record.size_bytes
        if self._ratio:
            ratio = CURRENT_WEIGHT * ratio + (1 - CURRENT_WEIGHT) * self._ratio
        self._ratio = ratio
        self._last = _LastSegment(record.rows, record.size_bytes, record.row_limit,
                                  max(0, record.sealed_ms - record.created_ms))


def _clamp(rows: float) -> int:
    return max(MINIMUM_ROWS, min(int(rows), 2**31 - 1))
