"""Where one partition stands against its stream: latest offset upstream, lag, recent rate, the ETA of a
backlog, the newest row's ingest and event times, and how long seals take.

One job: observe, for the status, the metrics and the log; nothing here changes what is ingested. The
ingest thread calls `tick` between polls; every SAMPLE_INTERVAL_S it reads the consumer's latest offset
(librdkafka's cached high watermark: no broker round trip) and the messages consumed so far, keeping
RATE_WINDOW_S of samples for the recent rate. While the partition is catching up a backlog (its lag is
at least BACKLOG_MIN_ROWS and more than BACKLOG_MIN_S of work at the recent rate), it logs one progress
line every PROGRESS_LOG_S, and one line when it has caught up; nothing while it keeps up.

Rows here are messages (one row each; a malformed one still takes its offset), so a lag in offsets and
a rate in messages give the ETA directly.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingestd.columns import now_ms, time_values_ms
from ingestd.stream.spi import PartitionConsumer

log = logging.getLogger(__name__)

SAMPLE_INTERVAL_S = 1.0
RATE_WINDOW_S = 10.0
PROGRESS_LOG_S = 5.0
BACKLOG_MIN_ROWS = 1_000  # less is no backlog worth a log line (e.g. a transaction marker at the end)
BACKLOG_MIN_S = 1.0
# Seal durations (write, fsync, rename, ledger append), in seconds.
SEAL_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class DurationHistogram:
    """Durations counted into fixed buckets, reported as plain data (it crosses to the coordinator)."""

    def __init__(self, bounds: tuple[float, ...] = SEAL_BUCKETS_S) -> None:
        self._bounds = bounds
        self._counts = [0] * (len(bounds) + 1)  # the last one: above every bound
        self.count = 0
        self.total_s = 0.0

    def observe(self, seconds: float) -> None:
        self._counts[bisect_left(self._bounds, seconds)] += 1
        self.count += 1
        self.total_s += seconds

    def snapshot(self) -> dict[str, Any]:
        """`buckets`: [upper bound, observations <= it] pairs, cumulative as Prometheus has them."""
        cumulative, running = [], 0
        for bound, count in zip(self._bounds, self._counts, strict=False):
            running += count
            cumulative.append([bound, running])
        return {"count": self.count, "sum": self.total_s, "buckets": cumulative}


def newest_event_ms(rows: pa.RecordBatch, column: str, factor: int | None) -> int | None:
    """The largest time-column value of `rows` in epoch milliseconds (None if the column's format is not
    an epoch or a timestamp, or there are no rows)."""
    if factor is None or rows.num_rows == 0:
        return None
    value = pc.max(time_values_ms(rows.column(column))).as_py()
    return None if value is None else int(value) * factor


class PartitionProgress:
    """One partition's lag, rate, backlog and freshness, sampled on the ingest thread."""

    def __init__(self, label: str, consumer: PartitionConsumer, newest_event: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`newest_event` (epoch ms) is what the sealed segments already hold, so it survives a restart."""
        self._label = label
        self._consumer = consumer
        self._clock = clock
        self.latest: int | None = None
        self.newest_ingest_ms: int | None = None  # the stream's timestamp of the newest message consumed
        self.newest_event_ms = newest_event  # the largest time-column value consumed
        self.availability_ms: int | None = None  # consumed at minus stream timestamp, of the newest batch
        self.seals = DurationHistogram()
        self._samples: deque[tuple[float, int]] = deque()
        self._next_sample = 0.0
        self._backlog_since_ms: int | None = None
        self._log_at = 0.0
        self._logged = False  # a progress line was written for the current backlog

    def use(self, consumer: PartitionConsumer) -> None:
        """Read the latest offset from `consumer` from now on (the partition's consumer was rebuilt)."""
        self._consumer = consumer

    def consumed(self, last_timestamp_ms: int | None, event_ms: int | None) -> None:
        """A batch was consumed: its last message's stream timestamp, its rows' newest event time."""
        if last_timestamp_ms is not None:
            self.newest_ingest_ms = max(last_timestamp_ms, self.newest_ingest_ms or last_timestamp_ms)
            self.availability_ms = max(0, now_ms() - last_timestamp_ms)
        if event_ms is not None:
            self.newest_event_ms = max(event_ms, self.newest_event_ms or event_ms)

    def tick(self, current: int | None, messages: int, quiet: bool = False) -> None:
        """Sample (at most every SAMPLE_INTERVAL_S) and log progress while catching up. `current` is the
        next offset to ingest, `messages` those consumed so far; `quiet` while failing (the retry logs)."""
        now = self._clock()
        if now < self._next_sample:
            return
        self._next_sample = now + SAMPLE_INTERVAL_S
        self._read_latest()
        self._samples.append((now, messages))
        while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW_S:
            self._samples.popleft()
        self._track_backlog(now, current, quiet)

    def lag(self, current: int | None) -> int | None:
        """Latest - current, never negative (a broker may report its end late); None while unknown."""
        if self.latest is None or current is None:
            return None
        return max(0, self.latest - current)

    def rate(self) -> float:
        """Messages per second over the last RATE_WINDOW_S (0 until two samples exist)."""
        if len(self._samples) < 2:
            return 0.0
        (first_t, first_n), (last_t, last_n) = self._samples[0], self._samples[-1]
        return max(0, last_n - first_n) / (last_t - first_t) if last_t > first_t else 0.0

    def fields(self, current: int | None) -> dict[str, Any]:
        """The partition status' share: upstream offset, lag, rate, backlog, newest times, seal timings."""
        self._read_latest()
        lag, rate = self.lag(current), self.rate()
        backlog = None
        if self._backlog_since_ms is not None and lag:
            backlog = {"rowsBehind": lag, "etaSeconds": round(lag / rate, 1) if rate > 0 else None,
                       "sinceMs": self._backlog_since_ms}
        return {"latestOffset": self.latest, "lag": lag, "rowsPerSecond": round(rate, 1),
                "backlog": backlog, "newestIngestTimeMs": self.newest_ingest_ms,
                "newestEventTimeMs": self.newest_event_ms, "availabilityLagMs": self.availability_ms,
                "sealSeconds": self.seals.snapshot()}

    def _read_latest(self) -> None:
        try:
            latest = self._consumer.latest_offset()
        except Exception as exc:  # monitoring must never disturb ingestion
            log.debug("%s: cannot read the latest offset: %s", self._label, exc)
            return
        if latest is not None:
            self.latest = latest

    def _track_backlog(self, now: float, current: int | None, quiet: bool) -> None:
        lag, rate = self.lag(current), self.rate()
        behind = lag is not None and lag >= BACKLOG_MIN_ROWS and lag > rate * BACKLOG_MIN_S
        if not behind:
            if self._backlog_since_ms is not None and self._logged:
                log.info("%s: caught up at offset %s (%s rows behind)", self._label, current, lag)
            self._backlog_since_ms, self._logged = None, False
            return
        if self._backlog_since_ms is None:  # progress lines stay PROGRESS_LOG_S apart across backlogs too
            self._backlog_since_ms = now_ms()
        if quiet or now < self._log_at or len(self._samples) < 2:
            return
        self._log_at = now + PROGRESS_LOG_S
        self._logged = True
        eta = f"about {lag / rate:,.0f} s to catch up" if rate > 0 else "not moving"
        log.info("%s: catching up: %s rows behind (at offset %s of %s), %s rows/s, %s", self._label,
                 f"{lag:,}", current, self.latest, f"{rate:,.0f}", eta)
