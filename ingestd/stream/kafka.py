"""Kafka through confluent-kafka: per-partition consumers with assign() and explicit offsets.

No consumer-group offset is ever committed: the offset ledger is the only source of truth, so the
group id exists only because librdkafka requires one.

Bounds (where a partition begins and ends, for offset-reset detection) come first from the watermarks
the consumer's own fetch responses carried (no broker round trip). Only when those do not vouch for the
position does a short-lived probe consumer ask the broker (ListOffsets) and, if the position is past the
end it reports, read from the last reported offset to see where the partition really ends: a broker may
report less than it holds (Tansu reports the base offset of its last record batch + 1), so a reported end
alone never triggers a reset. The probe has its own connection, so it never waits behind the main
consumer's long-poll fetch, and it is bounded by the caller's timeout.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from ingestd.config.table import OffsetReset, StreamConfig
from ingestd.errors import StreamError
from ingestd.stream.spi import PartitionBounds, StartPosition

log = logging.getLogger(__name__)

_RESET_NAMES = {OffsetReset.SMALLEST: "earliest", OffsetReset.LARGEST: "latest"}
_RESET_OFFSETS = {OffsetReset.SMALLEST: OFFSET_BEGINNING, OffsetReset.LARGEST: OFFSET_END}
# A table's consumer.prop.* override these. librdkafka prefetches up to 64 MiB per consumer by default and
# there is one consumer per partition: cap it so a worker with many partitions stays bounded. Once that
# prefetch queue is full, librdkafka waits fetch.queue.backoff.ms (1 s by default) before fetching again,
# which left a fast worker idle most of the time: raw consume in ingestd's layout went from ~0.42M to
# ~1.3M msg/s with 10 ms (perf/README.md). Larger per-partition fetches add another ~25%.
CONSUMER_DEFAULTS = {"queued.max.messages.kbytes": 16_384, "fetch.queue.backoff.ms": 10,
                     "max.partition.fetch.bytes": 4 << 20}
PROBE_BATCH = 10_000
PROBE_QUIET_S = 0.2  # nothing more for this long after the reported end was read: the end is reached
PROBE_SETTINGS = {"enable.partition.eof": True, "auto.offset.reset": "earliest", "fetch.wait.max.ms": 50}


class KafkaMessageBatch:
    """A batch over confluent-kafka Message objects; offsets are read only when asked for."""

    __slots__ = ("_messages", "values")

    def __init__(self, messages: list[Message], values: list[bytes | None]) -> None:
        self._messages = messages
        self.values = values

    def offset_at(self, index: int) -> int:
        return int(self._messages[index].offset())

    @property
    def next_offset(self) -> int:
        return int(self._messages[-1].offset()) + 1


class KafkaPartitionConsumer:
    def __init__(self, config: StreamConfig, client_id: str, partition: int, start: StartPosition) -> None:
        self._topic = config.topic
        self._partition = partition
        settings = CONSUMER_DEFAULTS | _client_config(config, client_id) | {
            "group.id": client_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": False,
            "auto.offset.reset": _RESET_NAMES[start.reset],
        }
        self._probe_settings = settings | PROBE_SETTINGS
        self._consumer = Consumer(settings)
        offset = start.offset if start.offset is not None else _RESET_OFFSETS[start.reset]
        self.seek(offset)

    def fetch(self, max_messages: int, timeout_s: float) -> KafkaMessageBatch | None:
        messages = self._consumer.consume(max_messages, timeout_s)
        if not messages:
            return None
        values = [m.value() for m in messages]
        if None in values:  # tombstones or error events: only then look at each message's error
            messages, values = self._drop_errors(messages, values)
            if not messages:
                return None
        return KafkaMessageBatch(messages, values)

    def _drop_errors(self, messages: list[Message], values: list[Any]) -> tuple[list[Message], list[Any]]:
        kept_messages, kept_values = [], []
        for message, value in zip(messages, values, strict=True):
            error = message.error()
            if error is None:
                kept_messages.append(message)
                kept_values.append(value)
            elif error.fatal():
                raise StreamError(f"{self._topic}[{self._partition}]: fatal Kafka error: {error}")
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("%s[%d]: Kafka error (retrying): %s", self._topic, self._partition, error)
        return kept_messages, kept_values

    def seek(self, offset: int) -> None:
        """Re-assign at `offset`: unlike seek(), assign() works whether or not fetching has started."""
        self._consumer.assign([TopicPartition(self._topic, self._partition, offset)])

    def bounds(self, position: int, timeout_s: float) -> PartitionBounds | None:
        deadline = time.monotonic() + timeout_s
        cached = self._cached_bounds()
        if cached is not None and cached.holds(position):
            return cached
        try:
            probe = Consumer(self._probe_settings)
        except KafkaException as exc:
            log.debug("%s[%d]: cannot create a bounds probe: %s", self._topic, self._partition, exc)
            return None
        try:
            return self._probe(probe, position, deadline)
        except KafkaException as exc:  # the broker did not answer in time, the topic is missing...
            log.debug("%s[%d]: bounds probe failed: %s", self._topic, self._partition, exc)
            return None
        finally:
            probe.close()

    def _cached_bounds(self) -> PartitionBounds | None:
        """The watermarks of the last fetch response (no round trip); None until one arrived."""
        try:
            low, high = self._consumer.get_watermark_offsets(
                TopicPartition(self._topic, self._partition), cached=True)
        except KafkaException:
            return None
        return PartitionBounds(low, high) if 0 <= low <= high else None

    def _probe(self, probe: Consumer, position: int, deadline: float) -> PartitionBounds | None:
        low, high = probe.get_watermark_offsets(TopicPartition(self._topic, self._partition),
                                                timeout=max(0.01, deadline - time.monotonic()), cached=False)
        if not 0 <= low <= high:
            return None
        if position <= high:
            return PartitionBounds(low, high)
        end = self._read_end(probe, low, high, position, deadline)
        return PartitionBounds(low, end) if end is not None else None

    def _read_end(self, probe: Consumer, low: int, high: int, position: int, deadline: float) -> int | None:
        """Where the partition really ends: read from the last offset the broker reported (from the start
        if it reported none) until `position` is reached, the end-of-partition event arrives, or nothing
        more comes for PROBE_QUIET_S. None (undecided) if even the reported last message never came."""
        must_see = high - 1 if high > low else None
        probe.assign([TopicPartition(self._topic, self._partition, low if must_see is None else must_see)])
        end, seen, at_eof = high, must_see is None, False
        while not at_eof and (left := deadline - time.monotonic()) > 0:
            messages = probe.consume(1, left if not seen else min(left, PROBE_QUIET_S))
            if not messages:
                break
            for message in messages + probe.consume(PROBE_BATCH, 0):
                error = message.error()
                if error is None:
                    end = max(end, int(message.offset()) + 1)
                    seen = seen or int(message.offset()) >= high - 1
                elif error.code() == KafkaError._PARTITION_EOF:
                    end, at_eof = max(end, int(message.offset())), seen
                else:
                    log.debug("%s[%d]: bounds probe read failed: %s", self._topic, self._partition, error)
                    return None
            if end >= position:
                break
        return end if seen else None

    def close(self) -> None:
        self._consumer.close()


class KafkaMetadataProvider:
    def __init__(self, config: StreamConfig, client_id: str) -> None:
        self._topic = config.topic
        self._admin = AdminClient(_client_config(config, client_id))

    def partition_ids(self) -> list[int]:
        try:
            metadata = self._admin.list_topics(self._topic, timeout=5)
        except Exception as exc:  # KafkaException: broker unreachable within the timeout
            raise StreamError(f"cannot read metadata of topic {self._topic!r}: {exc}") from exc
        topic = metadata.topics.get(self._topic)
        if topic is None or topic.error is not None or not topic.partitions:
            reason = topic.error if topic is not None else "not found"
            raise StreamError(f"topic {self._topic!r} is not available: {reason}")
        return sorted(topic.partitions)

    def close(self) -> None:
        """AdminClient holds no resources that need an explicit close."""


class KafkaConsumerFactory:
    def __init__(self, config: StreamConfig, client_id: str) -> None:
        self._config = config
        self._client_id = client_id

    def partition_consumer(self, partition: int, start: StartPosition) -> KafkaPartitionConsumer:
        return KafkaPartitionConsumer(self._config, self._client_id, partition, start)

    def metadata_provider(self) -> KafkaMetadataProvider:
        return KafkaMetadataProvider(self._config, self._client_id)


def _client_config(config: StreamConfig, client_id: str) -> dict[str, Any]:
    return {"bootstrap.servers": config.bootstrap_servers, "client.id": client_id} | dict(
        config.client_properties
    )
