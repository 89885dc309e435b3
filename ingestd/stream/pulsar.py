"""Pulsar through `pulsar-client` (the optional extra `ingestd[pulsar]`): a reader per partition, started
at an exact message id, like Pinot's PulsarPartitionLevelConsumer.

NEVER RUN AGAINST A REAL PULSAR BROKER: none can be installed where ingestd is developed. Its logic is
tested against an in-process fake of pulsar-client's Client and Reader (tests/unit/test_pulsar_consumer.py);
of the real library, only its MessageId objects, its exceptions and its client against an address where
nothing listens (a 400 naming the service URL, also through a real server) are exercised.

* Partitions: a partitioned topic's partitions `<topic>-partition-<n>` are ingestd partitions n; a
  non-partitioned topic is partition 0 (read under its own name).
* Offsets: message ids packed into ordered ints (pulsar_offsets.py); they are sparse
  (`dense_offsets = False`). A consumer at position p starts a reader inclusively at the id p unpacks to,
  and drops any message before p the reader delivers (the last one consumed, or a whole batch).
* Readers, not subscriptions: nothing is created on the broker, and `commit` publishes nothing (Pinot's
  Pulsar consumer commits nothing either); lag in messages is unknown (`latest_offset` is None), as
  message ids do not count messages.
* Bounds: a probe reader finds the earliest message. Ledger ids only grow, so a re-created or trimmed
  topic always starts past an old position, and a position at or after the earliest message is held. When
  the position is before it, the probe reads on to the last message (within the timeout) for the end.
* auto.offset.reset as a point in time: the reader starts at the earliest message and seeks by publish
  time; messages published before the point are dropped until the first one at or after it.
* Clients connect lazily (on the first fetch or metadata request): building them for a config check
  needs no broker. Each consumer and metadata provider owns its client and closes it with itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ingestd.config.table import OffsetReset, StreamConfig
from ingestd.errors import StreamError
from ingestd.stream.checks import StreamUnreachable, TopicNotFound
from ingestd.stream.pulsar_config import BOOTSTRAP_KEY, CONFIG_KEYS, PulsarSettings, parse_pulsar_settings
from ingestd.stream.pulsar_offsets import MessagePosition, pack, start_at
from ingestd.stream.spi import PartitionBounds, StartPosition

log = logging.getLogger(__name__)

RECEIVER_QUEUE_SIZE = 5_000  # messages a reader prefetches
OPERATION_TIMEOUT_S = 5  # a lookup or reader creation that takes longer fails (and is retried); as for
# Kafka, a service that does not answer within 5 s is a 400 at POST /tables
DRAIN_WAIT_MS = 1  # after a batch's first message, how long to wait for each further one
_PARTITION_SUFFIX = "-partition-"

Connect = Callable[[PulsarSettings, str], Any]  # (settings, client id) → a pulsar.Client


def pulsar_library() -> Any:
    """The `pulsar` module; StreamError naming the extra when it is not installed."""
    try:
        import pulsar
    except ImportError as exc:
        raise StreamError("streamType pulsar needs the pulsar-client library: pip install 'ingestd[pulsar]' "
                          f"({exc})") from None
    return pulsar


def connect(settings: PulsarSettings, client_id: str) -> Any:
    pulsar = pulsar_library()
    authentication = pulsar.AuthenticationToken(settings.token) if settings.token else None
    return pulsar.Client(settings.service_url, authentication=authentication,
                         operation_timeout_seconds=OPERATION_TIMEOUT_S, connection_timeout_ms=5_000,
                         logger=logging.getLogger(f"{__name__}.client"))


class LazyClient:
    """A client connected on first use and closed with its owner (one per consumer or provider, so
    closing a consumer releases its connections and threads)."""

    def __init__(self, connect_client: Connect, settings: PulsarSettings, client_id: str) -> None:
        self._connect = connect_client
        self._settings = settings
        self._client_id = client_id
        self._client: Any = None

    def __call__(self) -> Any:
        if self._client is None:
            self._client = self._connect(self._settings, self._client_id)
        return self._client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and hasattr(client, "close"):
            try:
                client.close()
            except Exception as exc:  # a client of a dead connection: nothing left to release
                log.debug("closing a Pulsar client: %s", exc)


class PulsarMessageBatch:
    __slots__ = ("_offsets", "_timestamp", "values")

    def __init__(self, values: list[bytes | None], offsets: list[int], last_timestamp_ms: int | None) -> None:
        self.values = values
        self._offsets = offsets
        self._timestamp = last_timestamp_ms

    def offset_at(self, index: int) -> int:
        return self._offsets[index]

    @property
    def next_offset(self) -> int:
        return self._offsets[-1] + 1

    @property
    def last_timestamp_ms(self) -> int | None:
        return self._timestamp


def offset_of(message_id: Any) -> int:
    return pack(MessagePosition(message_id.ledger_id(), message_id.entry_id(), message_id.batch_index()))


class PulsarPartitionConsumer:
    dense_offsets = False

    def __init__(self, settings: PulsarSettings, client: LazyClient, partition: int,
                 start: StartPosition, not_before_ms: int | None = None) -> None:
        """`not_before_ms`: with no start offset, start at the first message published at or after it
        (auto.offset.reset as a point in time)."""
        self._settings = settings
        self._client = client
        self._partition = partition
        self._topic: str | None = None
        self._reader: Any = None
        self._position: int | None = start.offset  # next offset to deliver; None: wherever `start` says
        self._from_latest = start.offset is None and start.reset is OffsetReset.LARGEST
        self._not_before_ms = not_before_ms if start.offset is None else None

    def fetch(self, max_messages: int, timeout_s: float) -> PulsarMessageBatch | None:
        pulsar = pulsar_library()
        reader = self._open()
        values: list[bytes | None] = []
        offsets: list[int] = []
        timestamp: int | None = None
        deadline = time.monotonic() + timeout_s
        waited = False
        while len(values) < max_messages:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if not values and waited and remaining_ms <= 0:
                break
            waited = True
            try:  # the first message may take the whole timeout; the rest only what is already here
                message = reader.read_next(DRAIN_WAIT_MS if values else max(1, remaining_ms))
            except pulsar.Timeout:
                break
            except pulsar.PulsarException as exc:
                raise StreamError(f"{self._label()}: {exc}") from exc
            offset = offset_of(message.message_id())
            if self._position is not None and offset < self._position:
                continue  # delivered again (a batch re-read from its start): already consumed
            if self._not_before_ms is not None:
                if message.publish_timestamp() < self._not_before_ms:
                    continue  # before the reset's point in time (a seek by time lands at or before it)
                self._not_before_ms = None
            values.append(message.data())
            offsets.append(offset)
            timestamp = message.publish_timestamp() or None
            self._position = offset + 1
        return PulsarMessageBatch(values, offsets, timestamp) if values else None

    def bounds(self, position: int, timeout_s: float) -> PartitionBounds | None:
        pulsar = pulsar_library()
        deadline = time.monotonic() + timeout_s
        probe = None
        try:
            probe = self._client().create_reader(self._partition_topic(), pulsar.MessageId.earliest,
                                                 start_message_id_inclusive=True)
            earliest = offset_of(probe.read_next(max(1, int(timeout_s * 1000))).message_id())
            if earliest <= position:
                return PartitionBounds(earliest, position)  # held: ledger ids only grow
            last = earliest
            while time.monotonic() < deadline:  # before the earliest message: find the end too
                try:
                    last = offset_of(probe.read_next(max(1, int((deadline - time.monotonic()) * 1000)))
                                     .message_id())
                except pulsar.Timeout:
                    return PartitionBounds(earliest, last + 1)
            return None
        except (pulsar.PulsarException, StreamError) as exc:  # unknown: the caller then does nothing
            log.debug("%s: bounds unknown: %s", self._label(), exc)
            return None
        finally:
            if probe is not None:
                probe.close()

    def seek(self, offset: int) -> None:
        self._close_reader()
        self._position, self._from_latest, self._not_before_ms = offset, False, None

    def latest_offset(self) -> int | None:
        return None  # message ids do not count messages: lag is unknown

    def commit(self, offset: int) -> None:
        pass  # a reader has no subscription to commit to (as in Pinot); the ledger is the checkpoint

    def close(self) -> None:
        self._close_reader()
        self._client.close()

    def _open(self) -> Any:
        if self._reader is None:
            pulsar = pulsar_library()
            if self._position is None:
                # latest, exclusive: only what arrives from now on (inclusive would re-read the last one)
                start = pulsar.MessageId.latest if self._from_latest else pulsar.MessageId.earliest
                inclusive = not self._from_latest
            else:
                at = start_at(self._position)
                topic = self._partition_topic()  # a plain topic's message ids have partition -1
                start = pulsar.MessageId.earliest if at is None else pulsar.MessageId(
                    -1 if topic == self._settings.topic else self._partition, at.ledger_id, at.entry_id,
                    at.batch_index)
                inclusive = True
            try:
                self._reader = self._client().create_reader(
                    self._partition_topic(), start, receiver_queue_size=RECEIVER_QUEUE_SIZE,
                    start_message_id_inclusive=inclusive)
            except pulsar.PulsarException as exc:
                raise StreamError(f"{self._label()}: cannot create a reader: {exc}") from exc
            if self._position is None and self._not_before_ms is not None:
                try:  # skip what the broker can skip; fetch drops anything earlier still
                    self._reader.seek(self._not_before_ms)
                except pulsar.PulsarException as exc:
                    log.info("%s: seeking to %d ms failed (%s): reading from the earliest message",
                             self._label(), self._not_before_ms, exc)
        return self._reader

    def _partition_topic(self) -> str:
        if self._topic is None:
            names = _partition_names(self._client(), self._settings.topic)
            self._topic = (self._settings.topic if names == [self._settings.topic]
                           else f"{self._settings.topic}{_PARTITION_SUFFIX}{self._partition}")
        return self._topic

    def _close_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            try:
                reader.close()
            except Exception as exc:  # closing a reader of a dead connection: nothing left to do
                log.debug("%s: closing the reader: %s", self._label(), exc)

    def _label(self) -> str:
        return f"{self._settings.topic}[{self._partition}]"


class PulsarMetadataProvider:
    def __init__(self, settings: PulsarSettings, client: LazyClient) -> None:
        self._settings = settings
        self._client = client

    def partition_ids(self) -> list[int]:
        names = _partition_names(self._client(), self._settings.topic)
        if names == [self._settings.topic]:
            return [0]
        return sorted(int(name.rpartition(_PARTITION_SUFFIX)[2]) for name in names)

    def close(self) -> None:
        self._client.close()


class PulsarConsumerFactory:
    """`streamType: pulsar` and Pinot's `org.apache.pinot.plugin.stream.pulsar.PulsarConsumerFactory`.
    Each consumer and metadata provider has a client of its own, connected on first use, closed with it."""

    config_keys = CONFIG_KEYS  # Pinot's Pulsar keys after `stream.pulsar.` (never reported as unrecognized)

    def __init__(self, config: StreamConfig, client_id: str, connect_client: Connect = connect) -> None:
        self._settings = parse_pulsar_settings(config)
        self._reset_time = config.offset_reset_time
        self._client_id = client_id
        self._connect = connect_client

    @staticmethod
    def check_config(config: StreamConfig) -> None:
        parse_pulsar_settings(config)

    def partition_consumer(self, partition: int, start: StartPosition) -> PulsarPartitionConsumer:
        not_before = None
        if start.offset is None and start.reset is OffsetReset.TIMESTAMP and self._reset_time is not None:
            not_before = self._reset_time.start_ms()
            log.info("%s[%d]: auto.offset.reset=%s: from the first message published at or after %d ms",
                     self._settings.topic, partition, self._reset_time.text, not_before)
        return PulsarPartitionConsumer(self._settings, self._client(), partition, start, not_before)

    def metadata_provider(self) -> PulsarMetadataProvider:
        return PulsarMetadataProvider(self._settings, self._client())

    def _client(self) -> LazyClient:
        return LazyClient(self._connect, self._settings, self._client_id)


def _partition_names(client: Any, topic: str) -> list[str]:
    pulsar = pulsar_library()
    try:
        return list(client.get_topic_partitions(topic))
    except pulsar.TopicNotFound as exc:
        raise TopicNotFound(f"names topic {topic!r}, which does not exist: {exc}", key="topic.name") from None
    except (pulsar.Timeout, pulsar.ConnectError) as exc:
        raise StreamUnreachable(f"cannot be reached: {exc}", key=BOOTSTRAP_KEY.removeprefix("stream.pulsar.")
                                ) from None
    except pulsar.PulsarException as exc:
        raise StreamError(f"{topic}: {exc}") from exc
