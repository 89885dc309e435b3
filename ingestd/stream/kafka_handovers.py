"""Consumer-group mode's handover log: which server took over which partition, starting where.

The group's committed offset alone cannot tell a server that restarts after a crash whether its newest
sealed segment [s, e) was committed before the crash (crashed between the ledger record and the commit):
by then the partition's next owner may have committed far beyond e, having started either at e (the
commit happened: keep the segment) or at s (it did not: the next owner read those rows again: drop it).
So each server, when the group assigns it a partition and before its workers read a message, appends a
record to a one-partition topic beside the group (`<group>.ingestd-handovers`): (partition, owner, the
group's committed offset it starts from). A server settling its sealed segments of a partition finds its
own latest record there and the first record after it: the next owner's start is the point beyond which
its segments were never committed (`trim_points`). With no later record, the group's committed offset is.

Each record is produced and flushed on its own (one record per batch, acks=all), so the log's end is
exact even on brokers that report a batch's base offset + 1 as the end (Tansu).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from ingestd.errors import StreamError

log = logging.getLogger(__name__)

# A table's consumer.prop.* reach the log's producer too (security settings); these would only draw
# librdkafka's "consumer property ignored" warnings there.
_CONSUMER_ONLY = ("session.", "heartbeat.", "max.poll.", "auto.", "enable.auto.", "fetch.", "queued.",
                  "max.partition.", "isolation.", "group.", "partition.assignment.", "enable.partition.eof",
                  "check.crcs", "coordinator.")
READ_TIMEOUT_S = 10.0
WRITE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Handover:
    partition: int
    owner: str  # the table's uid on the server that took the partition over
    start: int | None  # the group's committed offset then (None: the group had none)


def handover_topic(group: str) -> str:
    """The log's topic: the group id with what a topic name may not hold replaced."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in group)
    return f"{safe}.ingestd-handovers"[:249]


def trim_points(handovers: list[Handover], owner: str, committed: Mapping[int, int],
                partitions: list[int]) -> dict[int, int]:
    """For each partition: the offset beyond which `owner`'s sealed segments were never committed by it.
    After its own latest takeover, the next owner's start; without a later takeover, the group's committed
    offset (0 when the group has none); without any record of its own (a log that expired, or a partition
    it never took over through the group), the committed offset as well. Partitions with neither a
    committed offset nor a later takeover are left out (nothing tells; kept as they are)."""
    points: dict[int, int] = {}
    for partition in partitions:
        records = [h for h in handovers if h.partition == partition]
        mine = [i for i, h in enumerate(records) if h.owner == owner]
        later = records[mine[-1] + 1:] if mine else []
        if later:
            points[partition] = later[0].start if later[0].start is not None else 0
        elif partition in committed:
            points[partition] = committed[partition]
        elif mine:
            points[partition] = 0  # it took the partition over and never committed anything
    return points


class HandoverLog:
    def __init__(self, client_settings: Mapping[str, Any], group: str) -> None:
        self.topic = handover_topic(group)
        self._settings = dict(client_settings)
        self._group = group
        self._producer: Producer | None = None

    def ensure_topic(self) -> None:
        admin = AdminClient(self._settings)
        for future in admin.create_topics([NewTopic(self.topic, 1, 1)]).values():
            try:
                future.result(WRITE_TIMEOUT_S)
            except Exception as exc:
                error = exc.args[0] if exc.args else None
                if not (isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS):
                    raise StreamError(f"cannot create the handover log topic {self.topic!r}: {exc}") from exc

    def append(self, handovers: list[Handover]) -> None:
        """Write the records durably (each one flushed on its own); StreamError if that fails."""
        if self._producer is None:
            producer_settings = {k: v for k, v in self._settings.items() if not k.startswith(_CONSUMER_ONLY)}
            self._producer = Producer(producer_settings | {"acks": "all", "linger.ms": 0,
                                                           "enable.idempotence": False})
        failures: list[str] = []

        def delivered(error: KafkaError | None, _message: Any) -> None:
            if error is not None:
                failures.append(str(error))

        for handover in handovers:
            value = orjson.dumps({"p": handover.partition, "owner": handover.owner, "start": handover.start})
            self._producer.produce(self.topic, value=value, partition=0, on_delivery=delivered)
            if self._producer.flush(WRITE_TIMEOUT_S) or failures:
                raise StreamError(f"cannot write to the handover log {self.topic!r}: "
                                  f"{failures[0] if failures else 'timed out'}")

    def read(self) -> list[Handover]:
        """Every record, oldest first; StreamError if the log's end is not reached in time."""
        consumer = Consumer(self._settings | {"group.id": f"{self._group}.ingestd-handover-reader",
                                              "enable.auto.commit": False, "enable.partition.eof": True})
        try:
            consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
            found: list[Handover] = []
            deadline = time.monotonic() + READ_TIMEOUT_S
            while time.monotonic() < deadline:
                for message in consumer.consume(1000, 0.2):
                    error = message.error()
                    if error is not None and error.code() == KafkaError._PARTITION_EOF:
                        return found
                    if error is not None:
                        raise StreamError(f"cannot read the handover log {self.topic!r}: {error}")
                    found.append(_parse(message.value()))
            raise StreamError(f"the handover log {self.topic!r} was not read to its end within "
                              f"{READ_TIMEOUT_S:.0f} s")
        finally:
            consumer.close()

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(WRITE_TIMEOUT_S)


def _parse(value: bytes | None) -> Handover:
    doc = orjson.loads(value or b"{}")
    return Handover(int(doc["p"]), str(doc["owner"]), None if doc.get("start") is None else int(doc["start"]))
