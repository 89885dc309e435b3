"""The stream SPI's contract as one check a stream plugin's tests can run (docs/plugins.md, "Test it").

`check_stream_contract` drives a plugin's factory through what the ingestor relies on, against a fresh
(empty) partition the test publishes to: reading from the earliest message in order; offsets that only
grow, with "next offset" = last + 1 (and consecutive offsets where the consumer says they are dense);
starting exactly at a handed-out position or at a message's own offset (a reset target); `seek` going
back; `bounds` holding a consumed position; the partition listed by the metadata provider; `largest`
reading nothing published before it started. It raises AssertionError naming the rule that broke.

ingestd runs it on its example plugin and, over its fake client, on Pulsar (tests/unit/); a plugin's own
tests run it against the plugin's real stream.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from ingestd.config.table import OffsetReset
from ingestd.stream.spi import ConsumerFactory, PartitionConsumer, StartPosition


@dataclass(frozen=True)
class ContractStream:
    factory: ConsumerFactory
    partition: int  # an empty partition (or one whose stream is new): the check publishes to it
    publish: Callable[[list[bytes]], None]  # append these messages to that partition, in order
    timeout_s: float = 5.0  # how long published messages may take to become readable


def check_stream_contract(stream: ContractStream) -> None:
    values = [f"contract-{uuid.uuid4().hex[:8]}-{n}".encode() for n in range(7)]
    stream.publish(values[:5])
    first = _consumer(stream, StartPosition(None, OffsetReset.SMALLEST))
    read = _read(stream, first, 5, "reading 5 published messages from the earliest one (smallest)")
    _require([value for _, value in read] == values[:5], "smallest reads every message, in order")
    offsets = [offset for offset, _ in read]
    _require(offsets == sorted(set(offsets)), f"offsets only grow within a partition, got {offsets}")
    if getattr(first, "dense_offsets", True):
        _require(offsets == list(range(offsets[0], offsets[0] + 5)),
                 f"dense offsets are consecutive (or set dense_offsets = False), got {offsets}")
    provider = stream.factory.metadata_provider()
    try:
        _require(stream.partition in provider.partition_ids(), "the metadata provider lists the partition")
    finally:
        provider.close()

    at_message = _consumer(stream, StartPosition(offsets[2], OffsetReset.SMALLEST))
    read = _read(stream, at_message, 3, "starting at a message's own offset (a reset target)")
    _require([value for _, value in read] == values[2:5], "a consumer started at a message's offset "
             "reads from that message on")
    at_message.close()

    resumed = _consumer(stream, StartPosition(offsets[4] + 1, OffsetReset.SMALLEST))
    _require(resumed.fetch(10, 0.2) is None, "a consumer at the end position gets nothing")
    stream.publish(values[5:7])
    read = _read(stream, resumed, 2, "resuming at a handed-out position")
    _require([value for _, value in read] == values[5:7], "a consumer started at a position (last "
             "offset + 1) reads exactly the messages after it")
    resumed.seek(offsets[1])
    read = _read(stream, resumed, 6, "after seek")
    _require([value for _, value in read] == values[1:7], "seek moves the consumer back to that offset")
    end = read[-1][0] + 1
    bounds = resumed.bounds(end, stream.timeout_s)
    _require(bounds is None or bounds.holds(end), f"bounds hold a consumed position ({end}), got {bounds}")
    resumed.commit(end)  # monitoring only: must not raise
    resumed.close()
    first.close()
    _check_largest(stream, values)


def _check_largest(stream: ContractStream, earlier: list[bytes]) -> None:
    """`largest` reads nothing published before the consumer existed. Where its end is resolved
    asynchronously (Kafka), messages published meanwhile may be skipped: markers are published until the
    consumer reads one, and from then on it must read exactly what comes."""
    latest = _consumer(stream, StartPosition(None, OffsetReset.LARGEST))
    markers: list[bytes] = []
    seen: list[bytes | None] = []
    deadline = time.monotonic() + stream.timeout_s
    while not seen and time.monotonic() < deadline:
        batch = latest.fetch(10, 0.2)
        if batch is not None:
            seen.extend(batch.values)
        elif len(markers) < 50:
            markers.append(f"marker-{uuid.uuid4().hex[:8]}".encode())
            stream.publish(markers[-1:])
    _require(bool(seen), f"largest reads what is published after it starts (within {stream.timeout_s} s)")
    _require(not set(seen) & set(earlier) and all(value in markers for value in seen),
             f"largest reads nothing published before it started, got {seen[:3]}")
    _read(stream, latest, len(markers) - 1 - markers.index(seen[-1]), "largest, the remaining markers")
    last = [f"contract-last-{uuid.uuid4().hex[:8]}".encode()]
    stream.publish(last)
    read = _read(stream, latest, 1, "largest, once reading")
    _require([value for _, value in read] == last, "largest then reads exactly what comes")
    latest.close()


def _consumer(stream: ContractStream, start: StartPosition) -> PartitionConsumer:
    return stream.factory.partition_consumer(stream.partition, start)


def _read(stream: ContractStream, consumer: PartitionConsumer, count: int, what: str
          ) -> list[tuple[int, bytes | None]]:
    """`count` messages as (offset, value), checking each batch's next offset."""
    found: list[tuple[int, bytes | None]] = []
    deadline = time.monotonic() + stream.timeout_s
    while len(found) < count and time.monotonic() < deadline:
        batch = consumer.fetch(count - len(found), 0.2)
        if batch is None:
            continue
        offsets = [batch.offset_at(i) for i in range(len(batch.values))]
        _require(batch.next_offset == offsets[-1] + 1, f"{what}: next_offset is the last offset + 1")
        found.extend(zip(offsets, batch.values, strict=True))
    _require(len(found) == count, f"{what}: {len(found)} of {count} messages within {stream.timeout_s} s")
    return found


def _require(condition: bool, rule: str) -> None:
    if not condition:
        raise AssertionError(f"stream SPI contract: {rule}")
