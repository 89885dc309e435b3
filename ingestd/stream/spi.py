"""The stream plugin interface, after Pinot's stream SPI: a factory makes per-partition consumers
and a metadata provider; a consumer fetches a batch of raw messages from an explicit position.

Offsets are Python ints (Kafka offsets; Kinesis sequence numbers also fit) and a batch knows the
offset of each of its messages, so a segment can record exactly which offsets it covers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ingestd.config.table import OffsetReset, StreamConfig


@dataclass(frozen=True)
class StartPosition:
    """Where a partition consumer starts: an exact offset, or (offset None) the reset policy."""

    offset: int | None
    reset: OffsetReset


class MessageBatch(Protocol):
    """Raw message values from one partition, in offset order."""

    values: list[bytes | None]

    def offset_at(self, index: int) -> int:
        """The offset of message `index`."""
        ...

    @property
    def next_offset(self) -> int:
        """The offset to read after this batch (last message's offset + 1)."""
        ...


class PartitionConsumer(Protocol):
    def fetch(self, max_messages: int, timeout_s: float) -> MessageBatch | None:
        """Up to `max_messages` messages, or None when nothing arrived within `timeout_s`."""
        ...

    def close(self) -> None: ...


class StreamMetadataProvider(Protocol):
    def partition_ids(self) -> list[int]:
        """The stream's partitions; raises StreamError when the stream cannot be reached."""
        ...

    def close(self) -> None: ...


class ConsumerFactory(Protocol):
    def __init__(self, config: StreamConfig, client_id: str) -> None: ...

    def partition_consumer(self, partition: int, start: StartPosition) -> PartitionConsumer: ...

    def metadata_provider(self) -> StreamMetadataProvider: ...
