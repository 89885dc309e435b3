"""The first offset of a Kafka partition whose message is stamped at or after a point in time.

Kafka answers this from its time index (ListOffsets by timestamp, `offsets_for_times`). Some brokers that
speak Kafka's protocol answer it wrongly: Tansu says offset 0 for every time, librdkafka's mock cluster
says "none" (-1). So the broker's answer is checked against the messages themselves — the message at the
answer must be stamped at or after the time and the one before it earlier — and when it does not hold, the
offset is found by a binary search over message timestamps (a handful of one-message reads; it assumes
timestamps do not decrease along the partition, as broker append times and ordinary producers give).
An answer of "no message that late" is searched too: it is then the partition's end.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaError, KafkaException, TopicPartition

from ingestd.errors import StreamError

log = logging.getLogger(__name__)

_NO_MESSAGE = -1  # a read at or past the partition's end


class _Reader:
    """One-message reads from a partition through a short-lived consumer, all within one deadline."""

    def __init__(self, consumer: Consumer, topic: str, partition: int, deadline: float) -> None:
        self._consumer = consumer
        self._topic = topic
        self._partition = partition
        self._deadline = deadline
        self.reads = 0

    def left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise StreamError(f"{self._topic}[{self._partition}]: the offset for the reset time could not be "
                              "found in time; retrying")
        return left

    def timestamp_at(self, offset: int) -> int:
        """The timestamp of the first message at or after `offset`; _NO_MESSAGE past the end."""
        self.reads += 1
        self._consumer.assign([TopicPartition(self._topic, self._partition, offset)])
        while True:
            messages = self._consumer.consume(1, self.left())
            if not messages:
                continue
            error = messages[0].error()
            if error is None:
                kind, stamp = messages[0].timestamp()
                return int(stamp) if kind != TIMESTAMP_NOT_AVAILABLE else 0
            if error.code() == KafkaError._PARTITION_EOF:
                return _NO_MESSAGE
            if error.fatal():
                raise StreamError(f"{self._topic}[{self._partition}]: {error}")

    def reaches(self, offset: int, when_ms: int) -> bool:
        """Whether the message at `offset` (or the end, if none) is at or after `when_ms`."""
        stamp = self.timestamp_at(offset)
        return stamp == _NO_MESSAGE or stamp >= when_ms


def offset_for_time(settings: dict[str, Any], topic: str, partition: int, when_ms: int,
                    timeout_s: float = 30.0) -> int:
    """The first offset stamped at or after `when_ms` (the partition's end if none is); StreamError when
    the broker does not answer within `timeout_s`."""
    consumer = Consumer(settings | {"enable.partition.eof": True, "enable.auto.commit": False,
                                    "fetch.wait.max.ms": 50})
    reader = _Reader(consumer, topic, partition, time.monotonic() + timeout_s)
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=reader.left(),
                                                   cached=False)
        answer = consumer.offsets_for_times([TopicPartition(topic, partition, when_ms)],
                                            timeout=reader.left())[0].offset
        if answer >= 0 and _holds(reader, answer, low, when_ms):
            return int(answer)
        found = _search(reader, low, max(high, low + 1), when_ms)
        log.info("%s[%d]: the broker's time index answered %s for %d ms; the message timestamps say %d "
                 "(%d reads)", topic, partition, answer, when_ms, found, reader.reads)
        return found
    except KafkaException as exc:
        raise StreamError(f"{topic}[{partition}]: cannot look up the offset for {when_ms} ms: {exc}") from exc
    finally:
        consumer.close()


def _holds(reader: _Reader, answer: int, low: int, when_ms: int) -> bool:
    """The broker's answer is the first message at or after the time (the one before is earlier)."""
    if not reader.reaches(answer, when_ms):
        return False
    return answer <= low or not reader.reaches(answer - 1, when_ms)


def _search(reader: _Reader, low: int, high: int, when_ms: int) -> int:
    """The smallest offset in [low, ∞) that reaches `when_ms` (past the end always does)."""
    upper = high
    while not reader.reaches(upper, when_ms):  # the reported end may be short of the real one
        low, upper = upper + 1, upper + 2 * max(1, upper - low)
    while low < upper:
        middle = (low + upper) // 2
        if reader.reaches(middle, when_ms):
            upper = middle
        else:
            low = middle + 1
    return low
