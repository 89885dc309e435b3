"""Kafka through confluent-kafka: per-partition consumers with assign() and explicit offsets.

Positions come from the offset ledger alone (assign() at an explicit offset or the reset policy, never
the group's committed offset). Each checkpoint is still committed, asynchronously, to the consumer group
`ingestd-<table>`, only so that Kafka's own lag tools (kafka-consumer-groups, Burrow) see ingestd's lag.
The partition's latest offset, for ingestd's own lag figures, is the high watermark librdkafka keeps from
its fetch responses (no round trip, no statistics needed).

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
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from ingestd.config.table import OffsetReset, StreamConfig
from ingestd.errors import StreamError
from ingestd.stream.checks import StreamUnreachable, TopicNotFound
from ingestd.stream.kafka_logging import with_client_logger
from ingestd.stream.kafka_time_lookup import offset_for_time
from ingestd.stream.partition_subset import parse_partition_ids, select_partitions
from ingestd.stream.spi import PartitionBounds, StartPosition

log = logging.getLogger(__name__)

# A time reset starts at an offset looked up once; past that, librdkafka's out-of-range policy is earliest.
_RESET_NAMES = {OffsetReset.SMALLEST: "earliest", OffsetReset.LARGEST: "latest",
                OffsetReset.TIMESTAMP: "earliest"}
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
_UNKNOWN_TOPIC = KafkaError.UNKNOWN_TOPIC_OR_PART
PROBE_SETTINGS = {"enable.partition.eof": True, "auto.offset.reset": "earliest", "fetch.wait.max.ms": 50}
COMMIT_REMINDER_S = 300.0  # a failing group commit (monitoring only) is logged once, then at most this often


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

    @property
    def last_timestamp_ms(self) -> int | None:
        kind, timestamp = self._messages[-1].timestamp()
        return int(timestamp) if kind != TIMESTAMP_NOT_AVAILABLE and timestamp >= 0 else None


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
        self._group = client_id
        self._commit_failing = False
        self._commit_remind_at = 0.0
        self._consumer = Consumer(settings | {"on_commit": self._on_commit})
        self.seek(self._start_offset(config, start))

    def _start_offset(self, config: StreamConfig, start: StartPosition) -> int:
        if start.offset is not None:
            return start.offset
        if start.reset is not OffsetReset.TIMESTAMP:
            return _RESET_OFFSETS[start.reset]
        assert config.offset_reset_time is not None
        when_ms = config.offset_reset_time.start_ms()
        offset = offset_for_time(self._probe_settings, self._topic, self._partition, when_ms)
        log.info("%s[%d]: auto.offset.reset=%s: starting at offset %d, the first message at or after %d ms",
                 self._topic, self._partition, config.offset_reset_time.text, offset, when_ms)
        return offset

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

    def latest_offset(self) -> int | None:
        """The high watermark of the last fetch response (librdkafka keeps it; no round trip)."""
        try:
            _, high = self._consumer.get_watermark_offsets(TopicPartition(self._topic, self._partition),
                                                           cached=True)
        except (KafkaException, RuntimeError):
            return None
        return int(high) if high >= 0 else None

    def commit(self, offset: int) -> None:
        """Commit `offset` to the consumer group without waiting; librdkafka reports the outcome to
        _on_commit from a later consume()."""
        try:
            self._consumer.commit(offsets=[TopicPartition(self._topic, self._partition, offset)],
                                  asynchronous=True)
        except (KafkaException, RuntimeError) as exc:
            self._commit_failed(str(exc))

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        failure = error or next((p.error for p in partitions if p.error is not None), None)
        if failure is not None:
            self._commit_failed(str(failure))
        elif self._commit_failing:
            self._commit_failing = False
            log.info("%s[%d]: committing to consumer group %s works again", self._topic, self._partition,
                     self._group)

    def _commit_failed(self, error: str) -> None:
        now = time.monotonic()
        if not self._commit_failing or now >= self._commit_remind_at:
            log.warning("%s[%d]: cannot commit the checkpoint to consumer group %s (only Kafka's lag tools "
                        "miss it; ingestion goes on): %s", self._topic, self._partition, self._group, error)
            self._commit_remind_at = now + COMMIT_REMINDER_S
        self._commit_failing = True

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


PARTITION_IDS_KEY = "stream.kafka.partition.ids"


class KafkaMetadataProvider:
    def __init__(self, config: StreamConfig, client_id: str) -> None:
        self._topic = config.topic
        self._wanted = parse_partition_ids(config.properties.get(PARTITION_IDS_KEY),
                                           config.key_path(PARTITION_IDS_KEY))
        # a metadata request naming a topic creates it on brokers with auto-create on: never let it
        self._admin = AdminClient(_client_config(config, client_id) | {"allow.auto.create.topics": False})

    def partition_ids(self) -> list[int]:
        try:
            metadata = self._admin.list_topics(self._topic, timeout=5)
        except Exception as exc:  # KafkaException: broker unreachable within the timeout
            raise StreamUnreachable(f"cannot read metadata of topic {self._topic!r}: {exc}") from exc
        topic = metadata.topics.get(self._topic)
        unknown = topic is not None and topic.error is not None and topic.error.code() == _UNKNOWN_TOPIC
        if topic is None or unknown:
            raise TopicNotFound(f"topic {self._topic!r} does not exist")
        if topic.error is not None or not topic.partitions:
            raise StreamError(f"topic {self._topic!r} is not available: {topic.error or 'no partitions'}")
        return select_partitions(self._topic, sorted(topic.partitions), self._wanted)

    def close(self) -> None:
        """AdminClient holds no resources that need an explicit close; its queued log lines are logged."""
        self._admin.poll(0)


class KafkaConsumerFactory:
    def __init__(self, config: StreamConfig, client_id: str) -> None:
        self._config = config
        self._client_id = client_id

    @staticmethod
    def check_config(config: StreamConfig) -> None:
        """Kafka's own keys beyond the generic ones: ConfigError naming the key."""
        parse_partition_ids(config.properties.get(PARTITION_IDS_KEY), config.key_path(PARTITION_IDS_KEY))

    def partition_consumer(self, partition: int, start: StartPosition) -> KafkaPartitionConsumer:
        return KafkaPartitionConsumer(self._config, self._client_id, partition, start)

    def metadata_provider(self) -> KafkaMetadataProvider:
        return KafkaMetadataProvider(self._config, self._client_id)


def _client_config(config: StreamConfig, client_id: str) -> dict[str, Any]:
    return with_client_logger({"bootstrap.servers": config.bootstrap_servers, "client.id": client_id} | dict(
        config.client_properties
    ), client_id)
