"""Amazon Kinesis Data Streams through boto3, as Pinot's KinesisConsumerFactory reads them.

* Partitions are shards: partition id = the shard id's number (`shardId-000000000003` → 3). The
  metadata provider lists every shard still listed, open or closed, so the coordinator's re-listing
  (every 30 s) picks up the children of a SplitShard or MergeShards.
* Offsets are sequence numbers (ints of ~56 digits, with gaps: `dense_offsets = False`). The position
  after a record is its sequence number + 1; a consumer resumes at position p with an
  AFTER_SEQUENCE_NUMBER iterator at p - 1, at or below the shard's first sequence number with
  TRIM_HORIZON. A shard with no checkpoint starts where `kinesis_config.py` says (auto.offset.reset,
  else shardIteratorType); a shard born of a split or merge starts at its beginning, whatever the
  policy, so the records written between the reshard and its discovery are not skipped.
* A closed shard is read to its end (GetRecords returns no next iterator; moto never says so, so an
  empty answer past the shard's EndingSequenceNumber counts too), then the consumer leaves the end
  marker its children wait for, and answers nothing more (kinesis_shards.py has the ordering rule).
* GetRecords runs on the ingest thread, at most `requests_per_second_limit` times a second per shard
  (Pinot's default 1; Kinesis allows 5), up to `maxRecordsToFetch` records; fetch() returns None at once
  while the pause between requests runs, so other partitions keep going. Throttling and expired
  iterators are retried quietly; anything else is a StreamError (the ingestor backs off and retries).
* There is no consumer group to publish checkpoints to (`commit` does nothing), and no cheap "latest
  offset" (lag in sequence numbers means nothing): `latest_offset` is None, so the status shows no lag.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from ingestd.config.table import OffsetReset, StreamConfig
from ingestd.errors import StreamError
from ingestd.stream.checks import StreamUnreachable, TopicNotFound
from ingestd.stream.kinesis_config import (
    ACCESS_KEY,
    ENDPOINT,
    REGION,
    SECRET_KEY,
    KinesisSettings,
    kinesis_settings,
)
from ingestd.stream.kinesis_shards import ShardInfo, ShardLineage, list_shards, partition_of, shard_id_of
from ingestd.stream.spi import PartitionBounds, StartPosition

log = logging.getLogger(__name__)

CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"})
SHARD_REFRESH_S = 10.0  # how often an idle consumer re-reads its shard's description (closed yet?)
GATE_CHECK_S = 0.5  # how often a child shard waiting for its parents looks for their end markers
THROTTLED_WAIT_S = 1.0
_REFUSED = {"UnrecognizedClientException", "InvalidSignatureException", "AccessDeniedException",
            "ExpiredTokenException", "IncompleteSignature"}
_RETRYABLE = {"ProvisionedThroughputExceededException", "LimitExceededException", "KMSThrottlingException"}


def kinesis_client(settings: KinesisSettings) -> Any:
    """A boto3 Kinesis client for these settings, shared within the process: making one costs ~70 ms of
    CPU, and the coordinator's stream probe asks every table's stream every few seconds. boto3 clients
    are thread-safe."""
    return _client(settings.region, settings.endpoint, settings.access_key, settings.secret_key)


@functools.lru_cache(maxsize=64)
def _client(region: str, endpoint: str | None, access_key: str | None, secret_key: str | None) -> Any:
    credentials = {}
    if access_key is not None:
        credentials = {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key}
    return boto3.session.Session().client("kinesis", region_name=region, endpoint_url=endpoint,
                                          config=CLIENT_CONFIG, **credentials)


class KinesisMessageBatch:
    __slots__ = ("_sequence_numbers", "_timestamp_ms", "values")

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.values: list[bytes | None] = [record["Data"] for record in records]
        self._sequence_numbers = [record["SequenceNumber"] for record in records]
        arrival = records[-1].get("ApproximateArrivalTimestamp")
        self._timestamp_ms = int(arrival.timestamp() * 1000) if arrival is not None else None

    def offset_at(self, index: int) -> int:
        return int(self._sequence_numbers[index])

    @property
    def next_offset(self) -> int:
        return int(self._sequence_numbers[-1]) + 1

    @property
    def last_timestamp_ms(self) -> int | None:
        return self._timestamp_ms


class KinesisPartitionConsumer:
    """One shard. Nothing is asked of Kinesis before the first fetch (start-up never blocks)."""

    dense_offsets = False

    def __init__(self, settings: KinesisSettings, client: Any, partition: int, start: StartPosition) -> None:
        self._settings = settings
        self._client = client
        self._shard_id = shard_id_of(partition)
        self._lineage = ShardLineage(start.partition_dir)
        self._position = start.offset  # next position to read; None: not known until the first record
        self._gated = start.offset is None  # a checkpoint means the parents were awaited before
        self._shard: ShardInfo | None = None
        self._listed: dict[str, ShardInfo] = {}
        self._shard_read_at = -SHARD_REFRESH_S
        self._iterator: str | None = None
        self._finished = False  # read to the shard's end and marked
        self._end_reached = False  # the shard's last records were handed over; mark at the next fetch
        self._next_request = 0.0
        self._gate_check_at = 0.0
        self._waiting_logged = False

    @property
    def _label(self) -> str:
        return f"{self._settings.stream_name}/{self._shard_id}"

    def fetch(self, max_messages: int, timeout_s: float) -> KinesisMessageBatch | None:
        now = time.monotonic()
        if self._finished or now < self._next_request:
            return None
        if self._end_reached:
            self._finish()
            return None
        if self._gated and not self._parents_done(now):
            return None
        if self._iterator is None:
            self._iterator = self._new_iterator()
            if self._iterator is None:
                return None
        self._next_request = now + self._settings.request_interval_s
        answer = self._call("get_records", ShardIterator=self._iterator,
                            Limit=min(max_messages, self._settings.max_records))
        if answer is None:
            return None
        records = answer.get("Records", [])
        self._iterator = answer.get("NextShardIterator")
        if records:
            self._position = int(records[-1]["SequenceNumber"]) + 1
        if self._iterator is None or (not records and self._past_closed_end(now)):
            self._end_reached = True
            if not records:
                self._finish()
        return KinesisMessageBatch(records) if records else None

    def _parents_done(self, now: float) -> bool:
        if now < self._gate_check_at:
            return False
        self._gate_check_at = now + GATE_CHECK_S
        shard = self._describe(now)
        if shard is None:
            return False
        waiting = self._lineage.waiting_for(shard, self._listed)
        if waiting:
            if not self._waiting_logged:
                log.info("%s: waiting until parent shard(s) %s are read to their end", self._label,
                         ", ".join(waiting))
                self._waiting_logged = True
            return False
        if shard.parents:
            log.info("%s: parent shard(s) %s finished; reading from the start of this shard", self._label,
                     ", ".join(shard.parents))
        self._gated = False
        return True

    def _describe(self, now: float) -> ShardInfo | None:
        """This shard as ListShards describes it (re-read at most every SHARD_REFRESH_S)."""
        if self._shard is None or now - self._shard_read_at >= SHARD_REFRESH_S:
            try:
                self._listed = list_shards(self._client, self._settings.stream_name)
            except (ClientError, BotoCoreError) as exc:
                raise StreamError(f"{self._label}: cannot list the stream's shards: {exc}") from exc
            self._shard_read_at = now
            self._shard = self._listed.get(self._shard_id)
            if self._shard is None:
                log.warning("%s: the shard is not listed (expired or never existed); nothing to read",
                            self._label)
                self._finished = True
        return self._shard

    def _new_iterator(self) -> str | None:
        shard = self._describe(time.monotonic())
        if shard is None:
            return None
        request: dict[str, Any] = {"StreamName": self._settings.stream_name, "ShardId": self._shard_id}
        if self._position is not None and self._position > shard.starting:
            if shard.closed and self._position > (shard.ending or 0):
                self._finish()  # nothing after this position: the shard was read to its end before
                return None
            request |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                        "StartingSequenceNumber": str(self._position - 1)}
        elif self._position is not None or shard.parents or self._settings.start is OffsetReset.SMALLEST:
            request["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            request["ShardIteratorType"] = "LATEST"
        answer = self._call("get_shard_iterator", **request)
        return None if answer is None else answer.get("ShardIterator")

    def _past_closed_end(self, now: float) -> bool:
        """An empty answer from a shard that is closed, once everything up to its end has been read."""
        shard = self._describe(now)
        if shard is None or not shard.closed:
            return False
        return self._position is None or shard.ending is None or self._position > shard.ending

    def _finish(self) -> None:
        self._lineage.mark_finished(self._shard_id, self._position or 0)
        self._finished, self._end_reached, self._iterator = True, False, None

    def _call(self, operation: str, **request: Any) -> Any:
        """A Kinesis call; None when throttled (retried after THROTTLED_WAIT_S) or the iterator expired
        (a new one is made at the position); StreamError otherwise."""
        try:
            return getattr(self._client, operation)(**request)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _RETRYABLE:
                self._next_request = time.monotonic() + THROTTLED_WAIT_S
                log.debug("%s: throttled (%s); retrying", self._label, code)
                return None
            if code == "ExpiredIteratorException":
                self._iterator = None
                return None
            raise StreamError(f"{self._label}: {operation} failed: {exc}") from exc
        except (BotoCoreError, NoCredentialsError) as exc:
            raise StreamError(f"{self._label}: {operation} failed: {exc}") from exc

    def bounds(self, position: int, timeout_s: float) -> PartitionBounds | None:
        """From the shard's first sequence number to the position after everything it holds. An open
        shard continues after any position this consumer reached; asked beyond that (a resume from the
        largest offset), the shard is read to its end, within `timeout_s`."""
        try:
            shard = self._describe(time.monotonic())
        except StreamError as exc:
            log.debug("%s: bounds: %s", self._label, exc)
            return None
        if shard is None:
            return None
        if shard.closed:
            return PartitionBounds(shard.starting, max((shard.ending or 0) + 1, self._position or 0))
        known = max(shard.starting, self._position or shard.starting)
        if shard.starting <= position <= known:
            return PartitionBounds(shard.starting, known)
        end = self._read_to_end(known, time.monotonic() + timeout_s)
        return None if end is None else PartitionBounds(shard.starting, end)

    def _read_to_end(self, known: int, deadline: float) -> int | None:
        """The position after the shard's newest record, read with an iterator of its own from `known`."""
        start = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": str(known - 1)} \
            if self._position is not None else {"ShardIteratorType": "TRIM_HORIZON"}
        try:
            iterator = self._client.get_shard_iterator(StreamName=self._settings.stream_name,
                                                       ShardId=self._shard_id, **start)["ShardIterator"]
            end = known
            while iterator and time.monotonic() < deadline:
                answer = self._client.get_records(ShardIterator=iterator, Limit=self._settings.max_records)
                records = answer.get("Records", [])
                if records:
                    end = int(records[-1]["SequenceNumber"]) + 1
                elif answer.get("MillisBehindLatest", 0) == 0:
                    return end
                iterator = answer.get("NextShardIterator")
            return end if not iterator else None
        except (ClientError, BotoCoreError) as exc:
            log.debug("%s: reading to the shard's end failed: %s", self._label, exc)
            return None

    def seek(self, offset: int) -> None:
        self._position = offset
        self._iterator = None
        self._finished = self._end_reached = False

    def latest_offset(self) -> int | None:
        return None

    def commit(self, offset: int) -> None:
        """Kinesis keeps no consumer positions (KCL's DynamoDB leases are a library's, not the stream's)."""

    def close(self) -> None:
        self._iterator = None


class KinesisMetadataProvider:
    def __init__(self, settings: KinesisSettings, client: Any) -> None:
        self._settings = settings
        self._client = client

    def partition_ids(self) -> list[int]:
        name = self._settings.stream_name
        try:
            shards = list_shards(self._client, name)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ResourceNotFoundException":
                raise TopicNotFound(f"Kinesis stream {name!r} does not exist in {self._where}",
                                    key="topic.name") from None
            if code in _REFUSED:
                raise StreamUnreachable(f"Kinesis at {self._where} refused the credentials: {exc}",
                                        key=ACCESS_KEY) from exc
            raise StreamError(f"cannot list the shards of Kinesis stream {name!r}: {exc}") from exc
        except NoCredentialsError as exc:
            raise StreamUnreachable(f"no AWS credentials for Kinesis: set {ACCESS_KEY} and {SECRET_KEY}, or "
                                    "the server's AWS environment", key=ACCESS_KEY) from exc
        except (EndpointConnectionError, BotoCoreError) as exc:
            key = ENDPOINT if self._settings.endpoint else REGION
            raise StreamUnreachable(f"Kinesis at {self._where} cannot be reached: {exc}", key=key) from exc
        return sorted(partition_of(shard_id) for shard_id in shards)

    @property
    def _where(self) -> str:
        return self._settings.endpoint or f"region {self._settings.region}"

    def close(self) -> None:
        """boto3 clients hold pooled connections only; nothing to release explicitly."""


class KinesisConsumerFactory:
    """Pinot's `org.apache.pinot.plugin.stream.kinesis.KinesisConsumerFactory`."""

    def __init__(self, config: StreamConfig, client_id: str) -> None:
        self._settings = kinesis_settings(config)
        self._client: Any = None

    @staticmethod
    def check_config(config: StreamConfig) -> None:
        """The Kinesis keys of a table config (ConfigError naming the key path); no network."""
        kinesis_settings(config)

    def _shared_client(self) -> Any:
        if self._client is None:  # one client (thread-safe, pooled) for every shard of the table here
            self._client = kinesis_client(self._settings)
        return self._client

    def partition_consumer(self, partition: int, start: StartPosition) -> KinesisPartitionConsumer:
        return KinesisPartitionConsumer(self._settings, self._shared_client(), partition, start)

    def metadata_provider(self) -> KinesisMetadataProvider:
        return KinesisMetadataProvider(self._settings, self._shared_client())
