"""An in-memory stream behind the same SPI as Kafka, for unit tests of the ingestion logic.

Beyond publishing it can do to a partition what a real stream does to its consumers: delete old messages
(retention), be re-created empty (offsets start again at 0), hold offsets that carry no message
(transaction markers, compaction), fail fetches, and leave `bounds` unanswered (a slow broker). A
consumer whose position the log does not hold follows the reset policy on its own, like Kafka's
(OFFSET_OUT_OF_RANGE); with `silent_out_of_range` it just gets nothing, like Tansu, which never answers
OFFSET_OUT_OF_RANGE. Each message carries the time it was published (or one given), its latest offset is
always known (unless `latest_unknown`), and commits are recorded per partition, as a consumer group would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingestd.columns import now_ms
from ingestd.config.table import OffsetReset, StreamConfig
from ingestd.stream.spi import PartitionBounds, StartPosition


class _Marker:
    """An offset that holds no message a consumer sees (a transaction marker, a compacted record)."""


MARKER = _Marker()


@dataclass
class MemoryBatch:
    values: list[bytes | None]
    offsets: list[int]
    timestamps: list[int] = field(default_factory=list)

    def offset_at(self, index: int) -> int:
        return self.offsets[index]

    @property
    def next_offset(self) -> int:
        return self.offsets[-1] + 1

    @property
    def last_timestamp_ms(self) -> int | None:
        return self.timestamps[-1] if self.timestamps else None


@dataclass
class MemoryTopic:
    partitions: dict[int, list[bytes | _Marker | None]] = field(default_factory=dict)
    log_start: dict[int, int] = field(default_factory=dict)  # offsets below it were deleted (retention)
    silent_out_of_range: bool = False  # True: like Tansu, a fetch outside the log returns nothing
    fetch_failures: list[Exception] = field(default_factory=list)  # raised by the next fetches, one each
    bounds_unanswered: bool = False  # bounds() gets no answer (returns None), as from a slow broker
    bounds_calls: int = 0
    seeks: list[int] = field(default_factory=list)
    times: dict[int, list[int]] = field(default_factory=dict)  # each offset's publish time (ms)
    latest_unknown: bool = False  # latest_offset() answers None, as before a first fetch response
    commits: dict[int, list[int]] = field(default_factory=dict)  # partition → offsets committed, in order

    def publish(self, partition: int, values: list[bytes | None], timestamp_ms: int | None = None) -> None:
        self.partitions.setdefault(partition, []).extend(values)
        stamp = now_ms() if timestamp_ms is None else timestamp_ms
        self.times.setdefault(partition, []).extend([stamp] * len(values))

    def publish_marker(self, partition: int) -> None:
        """Take one offset without a visible message, like a transaction's commit marker."""
        self.partitions.setdefault(partition, []).append(MARKER)
        self.times.setdefault(partition, []).append(now_ms())

    def delete_before(self, partition: int, offset: int) -> None:
        self.log_start[partition] = offset

    def recreate(self, partition: int) -> None:
        """The topic was deleted and created again (or the broker lost its data): empty, offsets from 0."""
        self.partitions[partition] = []
        self.times[partition] = []
        self.log_start[partition] = 0

    def bounds(self, partition: int) -> PartitionBounds:
        log = self.partitions.setdefault(partition, [])
        return PartitionBounds(self.log_start.get(partition, 0), len(log))


class MemoryPartitionConsumer:
    def __init__(self, topic: MemoryTopic, partition: int, start: StartPosition) -> None:
        self._topic = topic
        self._partition = partition
        self._reset = start.reset
        self._position = start.offset if start.offset is not None else self._reset_position()

    def _reset_position(self) -> int:
        bounds = self._topic.bounds(self._partition)
        return bounds.earliest if self._reset is OffsetReset.SMALLEST else bounds.end

    def fetch(self, max_messages: int, timeout_s: float) -> MemoryBatch | None:
        if self._topic.fetch_failures:
            raise self._topic.fetch_failures.pop(0)
        if not self._topic.bounds(self._partition).holds(self._position):
            if self._topic.silent_out_of_range:
                return None
            self._position = self._reset_position()
        log = self._topic.partitions[self._partition]
        end = min(len(log), self._position + max_messages)
        visible = [(offset, value) for offset in range(self._position, end)
                   if not isinstance(value := log[offset], _Marker)]
        self._position = end
        if not visible:
            return None
        times = self._topic.times.get(self._partition, [])
        return MemoryBatch([value for _, value in visible], [offset for offset, _ in visible],
                           [times[offset] for offset, _ in visible])

    def bounds(self, position: int, timeout_s: float) -> PartitionBounds | None:
        self._topic.bounds_calls += 1
        return None if self._topic.bounds_unanswered else self._topic.bounds(self._partition)

    def seek(self, offset: int) -> None:
        self._topic.seeks.append(offset)
        self._position = offset

    def latest_offset(self) -> int | None:
        return None if self._topic.latest_unknown else self._topic.bounds(self._partition).end

    def commit(self, offset: int) -> None:
        self._topic.commits.setdefault(self._partition, []).append(offset)

    def close(self) -> None:
        pass


class MemoryConsumerFactory:
    def __init__(self, topic: MemoryTopic, config: StreamConfig | None = None) -> None:
        self.topic = topic

    def partition_consumer(self, partition: int, start: StartPosition) -> MemoryPartitionConsumer:
        return MemoryPartitionConsumer(self.topic, partition, start)
