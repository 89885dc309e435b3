"""The Pulsar consumer's batching, positions, partitions and bounds, and a Pulsar table ingested end to end
by the partition ingestor (sealed, "crashed", resumed from its ledger without a duplicate).

THIS USES A FAKE: no Pulsar broker can be installed where ingestd is developed, so `FakePulsarClient` and
`FakeReader` below are a small in-process stand-in for pulsar-client's `Client` (get_topic_partitions,
create_reader) and `Reader` (read_next, close), written from the library's documented behaviour. Only the
message ids (`pulsar.MessageId`) and exceptions (`pulsar.Timeout`, `pulsar.TopicNotFound`) are the real
library's. The Pulsar consumer has therefore never run against a real broker (README, docs/plugins.md).
The last test does use the real library's client, against an address where nothing listens.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulsar
import pyarrow as pa
import pytest

from ingestd.config import parse_schema, parse_table_config
from ingestd.config.table import OffsetReset, StreamConfig
from ingestd.decode.json_decoder import JsonDecoder
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.errors import ConfigError
from ingestd.ingest.partition import PartitionIngestor
from ingestd.ingest.table_spec import TableSpec
from ingestd.paths import PartitionPaths
from ingestd.stream import pulsar as pulsar_stream
from ingestd.stream.checks import check_stream
from ingestd.stream.pulsar import PulsarConsumerFactory, offset_of
from ingestd.stream.spi import StartPosition
from tests.unit.test_pulsar_config import pinot_docs_pulsar_configs

TOPIC = "persistent://public/default/transcript"
STREAMS = "tableIndexConfig.streamConfigs"


@dataclass
class FakeMessage:
    _id: Any
    _data: bytes
    _publish_ms: int

    def message_id(self) -> Any:
        return self._id

    def data(self) -> bytes:
        return self._data

    def publish_timestamp(self) -> int:
        return self._publish_ms


def _key(message_id: Any) -> tuple[int, int, int]:
    return message_id.ledger_id(), message_id.entry_id(), message_id.batch_index()


class FakeReader:
    """Delivers the topic's messages after (or from, inclusive) a start id; `whole_batches` re-delivers a
    batch from its first message when the start id lies inside it, as a client may."""

    def __init__(self, log: list[FakeMessage], start: Any, inclusive: bool, whole_batches: bool,
                 seek_by_time: bool = True) -> None:
        self._log = log
        self._seek_by_time = seek_by_time
        if _key(start) == _key(pulsar.MessageId.latest):
            self._index = len(log)
        elif _key(start) == _key(pulsar.MessageId.earliest):
            self._index = 0
        else:
            ledger, entry, batch = _key(start)
            floor = (ledger, entry, -1) if whole_batches and batch >= 0 else None
            self._index = next((i for i, m in enumerate(log)
                                if (floor is not None and _key(m.message_id()) >= floor)
                                or _key(m.message_id()) > (ledger, entry, batch)
                                or (inclusive and _key(m.message_id()) == (ledger, entry, batch))), len(log))
        self.closed = False

    def read_next(self, timeout_millis: int | None = None) -> FakeMessage:
        if self.closed:
            raise pulsar.AlreadyClosed("reader closed")
        if self._index >= len(self._log):
            raise pulsar.Timeout("no message")
        self._index += 1
        return self._log[self._index - 1]

    def seek(self, timestamp_ms: int) -> None:
        """By publish time (the only seek the consumer uses); `seek_by_time` False: a client that cannot,
        and stays where it was."""
        if self._seek_by_time:
            self._index = next((i for i, m in enumerate(self._log) if m.publish_timestamp() >= timestamp_ms),
                               len(self._log))

    def close(self) -> None:
        self.closed = True


class FakePulsarClient:
    def __init__(self, partitions: int | None = 2, whole_batches: bool = False,
                 seek_by_time: bool = True) -> None:
        """`partitions` None: a non-partitioned topic."""
        names = [TOPIC] if partitions is None else [f"{TOPIC}-partition-{p}" for p in range(partitions)]
        self.topics: dict[str, list[FakeMessage]] = {name: [] for name in names}
        self.readers: list[tuple[str, tuple[int, int, int], bool]] = []
        self.start_partitions: list[int] = []
        self._partitioned = partitions is not None
        self._whole_batches = whole_batches
        self._seek_by_time = seek_by_time
        self._ledger = 100
        self.closes = 0

    def publish(self, topic: str, values: list[bytes], batch: int = 1) -> None:
        """Entries of `batch` messages each (batch 1: unbatched messages); a new ledger every 5 entries."""
        log = self.topics[topic]
        partition = int(topic.rpartition("-")[2]) if self._partitioned else -1
        for start in range(0, len(values), batch):
            last = log[-1].message_id() if log else None
            entry = 0 if last is None else last.entry_id() + 1
            ledger = self._ledger if last is None else last.ledger_id()
            if entry == 5:
                self._ledger += 1
                ledger, entry = self._ledger, 0
            chunk = values[start:start + batch]
            for index, value in enumerate(chunk):
                message_id = pulsar.MessageId(partition, ledger, entry, index if batch > 1 else -1)
                log.append(FakeMessage(message_id, value, 1_700_000_000_000 + len(log)))

    def close(self) -> None:
        self.closes += 1

    def get_topic_partitions(self, topic: str) -> list[str]:
        if topic != TOPIC:
            raise pulsar.TopicNotFound(f"topic {topic} not found")
        return list(self.topics)

    def create_reader(self, topic: str, start_message_id: Any, receiver_queue_size: int = 1000,
                      start_message_id_inclusive: bool = False) -> FakeReader:
        self.readers.append((topic, _key(start_message_id), start_message_id_inclusive))
        self.start_partitions.append(start_message_id.partition())
        return FakeReader(self.topics[topic], start_message_id, start_message_id_inclusive,
                          self._whole_batches, self._seek_by_time)


def stream_config(**changes: str | None) -> StreamConfig:
    schema_doc, table_doc = seed_configs("t")
    table_doc["tableIndexConfig"]["streamConfigs"] = pinot_docs_pulsar_configs(**changes)
    return parse_table_config(table_doc, {"t": parse_schema(schema_doc)}).stream


def factory_for(client: FakePulsarClient, **changes: str | None) -> PulsarConsumerFactory:
    return PulsarConsumerFactory(stream_config(**changes), "ingestd-t", lambda settings, client_id: client)


def records(first: int, count: int) -> list[bytes]:
    return [student_record(n) for n in range(first, first + count)]


def test_partitions_of_a_partitioned_and_of_a_plain_topic() -> None:
    assert factory_for(FakePulsarClient(partitions=3)).metadata_provider().partition_ids() == [0, 1, 2]
    plain = FakePulsarClient(partitions=None)
    plain.publish(TOPIC, records(0, 3))
    factory = factory_for(plain)
    assert factory.metadata_provider().partition_ids() == [0]
    batch = factory.partition_consumer(0, StartPosition(None, OffsetReset.SMALLEST)).fetch(10, 0.1)
    assert batch is not None and len(batch.values) == 3
    assert plain.readers[0][0] == TOPIC  # read under its own name, not as "-partition-0"
    resumed = factory.partition_consumer(0, StartPosition(batch.offset_at(1), OffsetReset.SMALLEST))
    again = resumed.fetch(10, 0.1)
    assert again is not None and again.values == records(1, 2)
    assert plain.start_partitions[-1] == -1  # a plain topic's message ids have no partition
    factory.metadata_provider().close()  # never connected: nothing to close
    assert plain.closes == 0
    consumer = factory.partition_consumer(0, StartPosition(None, OffsetReset.SMALLEST))
    consumer.fetch(1, 0.01)
    consumer.close()  # a consumer closes the client it connected
    assert plain.closes == 1


def test_batches_carry_values_packed_offsets_and_publish_times_in_order() -> None:
    client = FakePulsarClient()
    topic0 = f"{TOPIC}-partition-0"
    client.publish(topic0, records(0, 12), batch=4)
    consumer = factory_for(client).partition_consumer(0, StartPosition(None, OffsetReset.SMALLEST))
    assert consumer.dense_offsets is False and consumer.latest_offset() is None
    first = consumer.fetch(5, 0.1)
    assert first is not None and first.values == records(0, 5)
    log = client.topics[topic0]
    assert [first.offset_at(i) for i in range(5)] == [offset_of(m.message_id()) for m in log[:5]]
    assert first.next_offset == offset_of(log[4].message_id()) + 1
    assert first.last_timestamp_ms == log[4].publish_timestamp()
    rest = consumer.fetch(100, 0.1)
    assert rest is not None and rest.values == records(5, 7)
    assert consumer.fetch(100, 0.05) is None
    assert client.readers == [(topic0, (-1, -1, -1), True)]  # one reader, from the earliest message


@pytest.mark.parametrize("whole_batches", [False, True])
def test_a_consumer_resumes_just_after_the_checkpoint_without_a_duplicate(whole_batches: bool) -> None:
    client = FakePulsarClient(whole_batches=whole_batches)
    topic1 = f"{TOPIC}-partition-1"
    client.publish(topic1, records(0, 30), batch=3)
    factory = factory_for(client)
    batch = factory.partition_consumer(1, StartPosition(None, OffsetReset.SMALLEST)).fetch(7, 0.1)
    assert batch is not None and len(batch.values) == 7  # stops inside the third entry's batch
    resumed = factory.partition_consumer(1, StartPosition(batch.next_offset, OffsetReset.SMALLEST))
    rest = resumed.fetch(100, 0.1)
    assert rest is not None and rest.values == records(7, 23)
    assert client.start_partitions[-1] == 1
    last = client.topics[topic1][6].message_id()  # batch index 0 of its entry: start at index 1, inclusive
    assert client.readers[-1] == (topic1, (last.ledger_id(), last.entry_id(), last.batch_index() + 1), True)


def test_largest_reads_only_what_arrives_later_and_seek_goes_back() -> None:
    client = FakePulsarClient()
    topic0 = f"{TOPIC}-partition-0"
    client.publish(topic0, records(0, 4))
    consumer = factory_for(client).partition_consumer(0, StartPosition(None, OffsetReset.LARGEST))
    assert consumer.fetch(10, 0.05) is None
    client.publish(topic0, records(4, 3))
    batch = consumer.fetch(10, 0.05)
    assert batch is not None and batch.values == records(4, 3)
    consumer.seek(offset_of(client.topics[topic0][2].message_id()))  # a message's own offset: from it
    again = consumer.fetch(10, 0.05)
    assert again is not None and again.values == records(2, 5)


@pytest.mark.parametrize("seek_by_time", [True, False])
def test_a_point_in_time_reset_starts_at_the_first_message_published_at_or_after_it(
        seek_by_time: bool) -> None:
    client = FakePulsarClient(seek_by_time=seek_by_time)
    topic0 = f"{TOPIC}-partition-0"
    client.publish(topic0, records(0, 10))  # published at 1_700_000_000_000 + n
    factory = factory_for(client, **{"stream.pulsar.consumer.prop.auto.offset.reset": "1700000000006"})
    consumer = factory.partition_consumer(0, StartPosition(None, OffsetReset.TIMESTAMP))
    batch = consumer.fetch(100, 0.1)
    assert batch is not None and batch.values == records(6, 4)
    client.publish(topic0, records(10, 2))
    later = consumer.fetch(100, 0.1)  # once started, nothing is held back by its time
    assert later is not None and later.values == records(10, 2)
    checkpointed = factory.partition_consumer(0, StartPosition(batch.next_offset, OffsetReset.TIMESTAMP))
    again = checkpointed.fetch(100, 0.1)  # a checkpoint wins over the reset's time
    assert again is not None and again.values == records(10, 2)


def test_bounds_hold_a_position_after_the_earliest_message_and_find_the_end_before_it() -> None:
    client = FakePulsarClient()
    topic0 = f"{TOPIC}-partition-0"
    consumer = factory_for(client).partition_consumer(0, StartPosition(None, OffsetReset.SMALLEST))
    assert consumer.bounds(12345, 0.1) is None  # empty: nothing can be said, nothing is reset
    client.publish(topic0, records(0, 8))
    log = client.topics[topic0]
    earliest, last = offset_of(log[0].message_id()), offset_of(log[-1].message_id())
    held = consumer.bounds(last + 1, 0.1)
    assert held is not None and held.holds(last + 1) and held.earliest == earliest
    trimmed = consumer.bounds(earliest - 1, 0.5)  # retention deleted what the checkpoint pointed at
    assert trimmed is not None and (trimmed.earliest, trimmed.end) == (earliest, last + 1)
    assert not trimmed.holds(earliest - 1)


def test_bounds_of_a_topic_that_cannot_be_looked_up_are_unknown_not_an_error() -> None:
    client = FakePulsarClient()
    config = stream_config(**{"stream.pulsar.topic.name": "deleted"})
    consumer = PulsarConsumerFactory(config, "ingestd-t", lambda settings, client_id: client
                                     ).partition_consumer(0, StartPosition(5, OffsetReset.SMALLEST))
    assert consumer.bounds(5, 0.1) is None


def test_a_missing_topic_is_a_400_naming_the_topic() -> None:
    client = FakePulsarClient()
    config = stream_config(**{"stream.pulsar.topic.name": "missing"})
    factory = PulsarConsumerFactory(config, "ingestd-t", lambda settings, client_id: client)
    with pytest.raises(ConfigError) as error:
        check_stream(factory, config)
    assert error.value.path == f"{STREAMS}.stream.pulsar.topic.name"


def test_a_pulsar_table_is_ingested_sealed_and_resumed_from_its_ledger_without_duplicates(
        tmp_path: Path) -> None:
    schema_doc, table_doc = seed_configs("t")
    table_doc["tableIndexConfig"]["streamConfigs"] = pinot_docs_pulsar_configs(
        **{"realtime.segment.flush.threshold.rows": "10"})
    schema = parse_schema(schema_doc)
    spec = TableSpec(parse_table_config(table_doc, {"t": schema}), schema, "uid1")
    client = FakePulsarClient(whole_batches=True)
    topic0 = f"{TOPIC}-partition-0"
    client.publish(topic0, records(0, 25), batch=4)

    def ingestor() -> PartitionIngestor:
        factory = PulsarConsumerFactory(spec.config.stream, "ingestd-t", lambda settings, client_id: client)
        return PartitionIngestor(spec, 0, PartitionPaths(tmp_path), factory,
                                 JsonDecoder(spec.schema, spec.config), clock=time.monotonic)

    def drain(worker: PartitionIngestor) -> None:
        while worker.poll(6):
            pass

    first = ingestor()
    drain(first)
    assert [m.rows for m, _ in first.sealed] == [10, 10]  # 5 rows left unsealed: the "crash" loses them
    client.publish(topic0, records(25, 6), batch=4)
    restarted = ingestor()
    drain(restarted)
    sealed, consuming = restarted.tables()
    names = pa.concat_tables([*sealed, consuming]).column("firstName").to_pylist()
    assert names == [f"s{n}" for n in range(31)]
    assert restarted.counters.offset_resets == 0


def test_the_real_client_reports_an_unreachable_service_url_as_a_400_naming_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pulsar_stream, "OPERATION_TIMEOUT_S", 1)
    config = stream_config(**{"stream.pulsar.bootstrap.servers": "pulsar://127.0.0.1:1"})
    with pytest.raises(ConfigError) as error:
        check_stream(PulsarConsumerFactory(config, "ingestd-t"), config)
    assert error.value.path == f"{STREAMS}.stream.pulsar.bootstrap.servers"


@pytest.mark.parametrize("whole_batches", [False, True])
def test_the_pulsar_consumer_keeps_the_stream_spi_contract_over_the_fake(whole_batches: bool) -> None:
    from ingestd.devtools.stream_contract import ContractStream, check_stream_contract

    client = FakePulsarClient(whole_batches=whole_batches)
    check_stream_contract(ContractStream(
        factory_for(client), 1, lambda values: client.publish(f"{TOPIC}-partition-1", values, batch=2),
        timeout_s=2.0))
