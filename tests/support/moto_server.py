"""moto's server for Kinesis tests: started in this process on a free port, and made to behave like AWS
where moto differs in ways the Kinesis consumer must not code to.

moto 5 differs from Kinesis in three ways that matter here (`KinesisLikeAws` corrects them, in this
process only, where `ThreadedMotoServer` serves from):
  * sequence numbers are 1, 2, 3... per shard; Kinesis' are ~56-digit numbers, sparse and far beyond
    2^53 (and 2^64): records get realistic ones, so every test exercises big, non-contiguous offsets;
  * after SplitShard or MergeShards new records keep going to the closed parent (routing does not skip
    closed shards): records go to open shards only, as in Kinesis;
  * SplitShard moves the parent's records into the children and MergeShards copies them into the child:
    in Kinesis a closed parent keeps its records (readable until retention) and a child starts empty.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto.kinesis.models import Record, Shard, Stream
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
# A real Kinesis sequence number (56 digits): records count up from here, one shard per 10**40 band,
# each record 2**20 + 7 apart (never dense).
SEQUENCE_BASE = 49590338271490256608559692538361571095921575989136588898
SEQUENCE_STEP = 2**20 + 7
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": REGION}


class MotoServer:
    """A running moto server and boto3 clients for it."""

    def __init__(self, server: ThreadedMotoServer, endpoint: str) -> None:
        self._server = server
        self.endpoint = endpoint

    @classmethod
    def start(cls) -> MotoServer:
        for key, value in CREDENTIALS.items():
            os.environ.setdefault(key, value)  # boto3 needs some credentials; moto accepts any
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        return cls(server, f"http://{host}:{port}")

    def stop(self) -> None:
        self._server.stop()

    def kinesis(self) -> Any:
        return boto3.client("kinesis", region_name=REGION, endpoint_url=self.endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing")


_shard_seq: dict[int, Iterator[int]] = {}


def _aws_put_record(self: Shard, partition_key: str, data: str, explicit_hash_key: str) -> str:
    counter = _shard_seq.setdefault(id(self), itertools.count(1))
    sequence_number = SEQUENCE_BASE + self._shard_id * 10**40 + next(counter) * SEQUENCE_STEP
    self.records[sequence_number] = Record(partition_key, data, sequence_number, explicit_hash_key)
    return str(sequence_number)


def _open_shard_for_key(self: Stream, partition_key: str, explicit_hash_key: str) -> Shard | None:
    if explicit_hash_key:
        key = int(explicit_hash_key)
    else:
        key = int(hashlib.md5(partition_key.encode("utf-8")).hexdigest(), 16)  # Kinesis' own hash
    return next((s for s in self.shards.values() if s.is_open and s.starting_hash <= key <= s.ending_hash),
                None)


def _split_keeping_records(self: Stream, shard_to_split: str, new_starting_hash_key: str) -> None:
    parent = self.shards[shard_to_split]
    kept = OrderedDict(parent.records)
    _ORIGINAL["split_shard"](self, shard_to_split, new_starting_hash_key)
    parent.records = kept
    for shard in self.shards.values():
        if shard.parent == parent.shard_id:
            shard.records = OrderedDict()


def _merge_keeping_records(self: Stream, shard_to_merge: str, adjacent_shard_to_merge: str) -> None:
    before = set(self.shards)
    _ORIGINAL["merge_shards"](self, shard_to_merge, adjacent_shard_to_merge)
    for shard_id in set(self.shards) - before:
        self.shards[shard_id].records = OrderedDict()


_ORIGINAL: dict[str, Any] = {"split_shard": Stream.split_shard, "merge_shards": Stream.merge_shards}


@contextmanager
def kinesis_like_aws() -> Iterator[None]:
    """Patch moto's Kinesis model (this process) to AWS's behaviour described in the module docstring."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Shard, "put_record", _aws_put_record)
        patch.setattr(Stream, "get_shard_for_key", _open_shard_for_key)
        patch.setattr(Stream, "split_shard", _split_keeping_records)
        patch.setattr(Stream, "merge_shards", _merge_keeping_records)
        yield


@contextmanager
def moto_kinesis() -> Iterator[MotoServer]:
    """A moto server whose Kinesis behaves like AWS's (see above), stopped on exit."""
    with kinesis_like_aws():
        server = MotoServer.start()
        try:
            yield server
        finally:
            server.stop()
