"""The stream plugin interface, after Pinot's stream SPI: a factory makes per-partition consumers
and a metadata provider; a consumer fetches a batch of raw messages from an explicit position.

Offsets are Python ints (Kafka offsets; Kinesis sequence numbers also fit) and a batch knows the
offset of each of its messages, so a segment can record exactly which offsets it covers. They are
ordered per partition but need not be dense: Kinesis sequence numbers are ~56-digit numbers with gaps
between records. A consumer whose offsets have gaps says so (`dense_offsets = False`), and the offset
continuity check then takes a batch that starts beyond the expected offset as normal, not as loss. A
position is always "next to read" = last offset read + 1, whatever the stream (Kinesis resumes at a
position p with AFTER_SEQUENCE_NUMBER p - 1). Offsets beyond 2^53 go into JSON answers as strings
(`offset_json`): JavaScript clients would round them.

A consumer may keep small state files in its partition's directory (`StartPosition.partition_dir`),
whose siblings are the same table's other partitions: Kinesis marks there that a parent shard was read
to its end, which its child shards (maybe consumed by another worker process) wait for.

A consumer also answers where its partition begins and ends (`bounds`) and can be moved (`seek`): the
ingestor uses them to notice that the stream can no longer continue where the checkpoint says (retention
deleted it, the topic was re-created, the broker lost its data) and to apply auto.offset.reset itself.

For monitoring only, a consumer tells the partition's latest offset as it last heard it (`latest_offset`,
no round trip: the consumer's lag is latest - current) and publishes each checkpoint where the stream's
own tools look for a consumer's position (`commit`, Kafka's consumer group). Nothing reads that back: the
offset ledger stays the only checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ingestd.config.table import OffsetReset, StreamConfig


@dataclass(frozen=True)
class StartPosition:
    """Where a partition consumer starts: an exact offset, or (offset None) the reset policy.
    `partition_dir`: the partition's directory (its ledger's), None where there is none (tools)."""

    offset: int | None
    reset: OffsetReset
    partition_dir: Path | None = None


def connection_settings(config: StreamConfig) -> tuple[object, ...]:
    """What a stream's clients are built from, for any stream type: the Kafka brokers and client
    properties, and every other stream config key but the flush thresholds and the decoder's settings
    (Kinesis' `endpoint`, `region`, credentials...). A live config change that alters it is checked
    against the stream and rebuilds the partition consumers."""
    decoder_prefix = f"stream.{config.stream_type}.decoder."
    plugin_keys = tuple(sorted((key, value) for key, value in config.properties.items()
                               if not key.startswith(("realtime.", decoder_prefix))))
    return config.bootstrap_servers, tuple(sorted(config.client_properties.items())), plugin_keys


JSON_SAFE_INTEGER = 2**53 - 1  # larger integers lose precision in JavaScript (and many JSON parsers)


def offset_json(value: int | None) -> int | str | None:
    """An offset for a JSON answer: as a number while JavaScript reads it exactly, else as a string."""
    if value is not None and not -JSON_SAFE_INTEGER <= value <= JSON_SAFE_INTEGER:
        return str(value)
    return value


@dataclass(frozen=True)
class PartitionBounds:
    """The offsets a partition holds: from `earliest` up to, not including, `end` (where the next message
    will be written). A position p can be continued from when earliest <= p <= end."""

    earliest: int
    end: int

    def holds(self, position: int) -> bool:
        return self.earliest <= position <= self.end


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

    @property
    def last_timestamp_ms(self) -> int | None:
        """The stream's timestamp of the batch's last message (milliseconds since the epoch: when it was
        produced or appended), or None when the stream has none."""
        ...


class PartitionConsumer(Protocol):
    # Optional attribute: False when consecutive messages' offsets have gaps (Kinesis); default True.
    # dense_offsets: bool

    def fetch(self, max_messages: int, timeout_s: float) -> MessageBatch | None:
        """Up to `max_messages` messages, or None when nothing arrived within `timeout_s`."""
        ...

    def bounds(self, position: int, timeout_s: float) -> PartitionBounds | None:
        """Where the partition begins and ends, as far as it matters for continuing at `position`.

        When `position` lies past the end the broker reports, the end must be confirmed (e.g. by reading
        the partition's last messages), not taken from a report that may lag behind: a caller resets the
        partition on the strength of the answer. None when that cannot be settled within `timeout_s` (a
        slow or unreachable broker, a missing topic): the caller must then do nothing.
        """
        ...

    def seek(self, offset: int) -> None:
        """Fetch from `offset` next (the ingestor applied auto.offset.reset)."""
        ...

    def latest_offset(self) -> int | None:
        """The offset the partition's next message will get (its end, Kafka's high watermark), as the
        consumer last heard it. Cheap enough to call every second: no broker round trip per call (it may
        lag the truth by a fetch). None when not known yet."""
        ...

    def commit(self, offset: int) -> None:
        """Publish `offset` (the next offset to read) where the stream's own tools look for a consumer's
        position, asynchronously and best effort (failures are logged, never raised). For monitoring only:
        the ingestor never reads it back."""
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
