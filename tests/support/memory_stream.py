"""An in-memory stream behind the same SPI as Kafka, for unit tests of the ingestion logic."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingestd.config.table import OffsetReset, StreamConfig
from ingestd.stream.spi import StartPosition


@dataclass
class MemoryBatch:
    values: list[bytes | None]
    offsets: list[int]

    def offset_at(self, index: int) -> int:
        return self.offsets[index]

    @property
    def next_offset(self) -> int:
        return self.offsets[-1] + 1


@dataclass
class MemoryTopic:
    partitions: dict[int, list[bytes | None]] = field(default_factory=dict)
    log_start: dict[int, int] = field(default_factory=dict)  # offsets below it were deleted (retention)

    def publish(self, partition: int, values: list[bytes | None]) -> None:
        self.partitions.setdefault(partition, []).extend(values)

    def delete_before(self, partition: int, offset: int) -> None:
        self.log_start[partition] = offset


class MemoryPartitionConsumer:
    def __init__(self, topic: MemoryTopic, partition: int, start: StartPosition) -> None:
        """Like Kafka: an offset the log no longer (or not yet) holds follows the reset policy."""
        self._log = topic.partitions.setdefault(partition, [])
        first = topic.log_start.get(partition, 0)
        if start.offset is not None and first <= start.offset <= len(self._log):
            self._position = start.offset
        else:
            self._position = first if start.reset is OffsetReset.SMALLEST else len(self._log)

    def fetch(self, max_messages: int, timeout_s: float) -> MemoryBatch | None:
        end = min(len(self._log), self._position + max_messages)
        if end == self._position:
            return None
        batch = MemoryBatch(self._log[self._position:end], list(range(self._position, end)))
        self._position = end
        return batch

    def close(self) -> None:
        pass


class MemoryConsumerFactory:
    def __init__(self, topic: MemoryTopic, config: StreamConfig | None = None) -> None:
        self.topic = topic

    def partition_consumer(self, partition: int, start: StartPosition) -> MemoryPartitionConsumer:
        return MemoryPartitionConsumer(self.topic, partition, start)
