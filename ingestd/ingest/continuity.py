"""Offset continuity: notices when the stream cannot continue where the partition expects it to.

One job: compare the stream with the partition's next offset (its checkpoint, then the consuming
segment's end) and, when they part, decide where consumption continues under auto.offset.reset and
how many messages that skipped. Two ways to notice:

* every batch: its first offset must be the expected one (or, for a consumer whose offsets are not
  dense, at least the expected one). Forward, the consumer followed the reset on
  its own (Kafka answers OFFSET_OUT_OF_RANGE after retention): confirmed by the partition's earliest
  offset, because offsets that hold no message (transaction markers, compaction) are skipped legally;
  backward, the topic was re-created or the broker lost its data and the consumer reset.
* when the partition has been idle IDLE_BEFORE_PROBE_S, at most every PROBE_INTERVAL_S: the consumer's
  `bounds` must hold the expected offset. A broker that never answers OFFSET_OUT_OF_RANGE (Tansu) leaves
  a consumer past the end of a re-created topic silent forever; only this finds it. The consumer
  confirms an end below the position by reading, so a broker's low report of its end is no reset.

The caller (the ingestor) reports what this returns, commits it to the ledger and moves on: like
Pinot's "message loss" handling, a reset is logged and counted, never a reason to stop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from ingestd.config.table import OffsetReset
from ingestd.stream.spi import PartitionBounds, PartitionConsumer

log = logging.getLogger(__name__)

IDLE_BEFORE_PROBE_S = 2.0
PROBE_INTERVAL_S = 5.0
PROBE_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class OffsetJump:
    """The stream cannot continue at `expected`; consumption continues at `target`."""

    expected: int
    target: int
    lost: int  # messages known to be skipped: offsets target - lost .. target - 1
    cause: str  # why, as a clause of the report
    unknown_loss: bool = False  # the stream also lost what it held from `expected` on: nobody can count it
    move_consumer: bool = False  # found by a probe: the consumer must still be moved to `target`

    def describe(self, policy: OffsetReset) -> str:
        text = (f"offset {self.expected} out of range; auto.offset.reset={policy.value}: resuming at "
                f"{self.target}; {self.cause}")
        if self.unknown_loss:
            text += f"; whatever it held from offset {self.expected} on is lost (how much is unknown)"
        if self.lost:
            text += f"; offsets {self.target - self.lost}-{self.target - 1} ({self.lost} messages) were lost"
        return text


class OffsetGuard:
    """Watches one partition's offsets; returns an OffsetJump when the stream cannot continue."""

    def __init__(self, consumer: PartitionConsumer, policy: OffsetReset, label: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`label` names the partition in log lines; the timings are the module's constants, read here."""
        self._consumer = consumer
        self._dense = getattr(consumer, "dense_offsets", True)  # False: gaps between offsets are normal
        self._policy = policy
        self._label = label
        self._clock = clock
        self._idle_before_probe_s = IDLE_BEFORE_PROBE_S
        self._probe_interval_s = PROBE_INTERVAL_S
        self._probe_timeout_s = PROBE_TIMEOUT_S
        self._active_at = clock()  # start-up counts as activity: the first probe comes once idle
        self._probe_at = 0.0
        self.probes = 0

    def check_batch(self, expected: int | None, first: int) -> OffsetJump | None:
        """A batch starting at `first` arrived where `expected` was next; the jump, if it is one."""
        self._active_at = self._clock()
        if expected is None or first == expected:
            return None
        if first > expected:
            if not self._dense:
                return None  # sparse offsets (Kinesis): a gap is no loss; a backward jump still is
            bounds = self._bounds(expected)
            if bounds is not None and bounds.earliest <= expected:
                log.debug("%s: offsets %d-%d hold no messages (transaction markers or compaction)",
                          self._label, expected, first - 1)
                return None
            cause = (f"the stream now starts at {bounds.earliest}" if bounds is not None else
                     f"the stream skipped to {first} (its bounds could not be read to say why)")
            return OffsetJump(expected, first, first - expected, cause)
        bounds = self._bounds(first)
        skipped = first - bounds.earliest if bounds is not None and bounds.earliest < first else 0
        return OffsetJump(expected, first, skipped, f"the stream went back to {first} (topic re-created or "
                          "broker data lost)", unknown_loss=True)

    def check_idle(self, expected: int | None) -> OffsetJump | None:
        """Nothing arrived: after IDLE_BEFORE_PROBE_S of that, at most every PROBE_INTERVAL_S, ask the
        stream whether it still holds `expected`; the reset to apply if it does not."""
        now = self._clock()
        if expected is None or now - self._active_at < self._idle_before_probe_s or now < self._probe_at:
            return None
        self._probe_at = now + self._probe_interval_s
        bounds = self._bounds(expected)
        if bounds is None or bounds.holds(expected):
            return None
        self._active_at = now
        target = bounds.end if self._policy is OffsetReset.LARGEST else bounds.earliest  # a time: earliest
        if expected < bounds.earliest:
            return OffsetJump(expected, target, target - expected,
                              f"the stream now starts at {bounds.earliest}", move_consumer=True)
        return OffsetJump(expected, target, target - bounds.earliest,
                          f"the stream ends at {bounds.end} (topic re-created or broker data lost)",
                          unknown_loss=True, move_consumer=True)

    def _bounds(self, position: int) -> PartitionBounds | None:
        self.probes += 1
        bounds = self._consumer.bounds(position, self._probe_timeout_s)
        if bounds is None:
            log.debug("%s: the stream's bounds could not be read; will ask again", self._label)
        return bounds
