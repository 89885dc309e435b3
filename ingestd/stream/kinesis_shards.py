"""Kinesis shards as ingestd partitions, and the order resharding imposes on them.

* Partition ids: a shard id's numeric suffix (`shardId-000000000003` → 3), as Pinot numbers its
  partition groups. Kinesis gives every new shard a higher number, so ids never collide.
* Order after SplitShard / MergeShards: a child shard's records come after its parents' (the same keys,
  later), so a child is read only once each parent still listed has been read to its end. The parent's
  consumer leaves a marker file when it has handed over its shard's last records (the fetch after the
  last batch: that batch is in the consuming segment by then); the child's consumer, possibly in another
  worker process, waits for its parents' markers. Markers live in the partitions' directories of the
  table incarnation (`StartPosition.partition_dir`: `<data_dir>/tables/<table>/<uid>/<partition>/`), so
  they go with the table and a re-created table starts afresh. A parent no longer listed (past the
  stream's retention) is not waited for. A child that already has a checkpoint read before, so it does
  not wait again; a restart re-reads an unsealed parent tail from the parent's own ledger, so nothing is
  lost or doubled across the handover.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestd.errors import StreamError

log = logging.getLogger(__name__)

SHARD_PREFIX = "shardId-"
MARKER_NAME = "kinesis-shard-end"


def partition_of(shard_id: str) -> int:
    """`shardId-000000000003` → 3; StreamError for a shard id without a numeric suffix."""
    digits = shard_id.removeprefix(SHARD_PREFIX)
    if not digits.isdigit():
        raise StreamError(f"Kinesis shard id {shard_id!r} does not end in a number (expected shardId-NNN)")
    return int(digits)


def shard_id_of(partition: int) -> str:
    return f"{SHARD_PREFIX}{partition:012d}"


@dataclass(frozen=True)
class ShardInfo:
    """One shard as ListShards describes it; sequence numbers as ints."""

    shard_id: str
    parents: tuple[str, ...]  # ParentShardId and AdjacentParentShardId, when present
    starting: int  # StartingSequenceNumber
    ending: int | None  # EndingSequenceNumber: set once the shard is closed (split, merged)

    @property
    def partition(self) -> int:
        return partition_of(self.shard_id)

    @property
    def closed(self) -> bool:
        return self.ending is not None

    @classmethod
    def from_api(cls, shard: Mapping[str, Any]) -> ShardInfo:
        numbers = shard.get("SequenceNumberRange", {})
        ending = numbers.get("EndingSequenceNumber")
        parents = tuple(shard[key] for key in ("ParentShardId", "AdjacentParentShardId") if shard.get(key))
        return cls(shard["ShardId"], parents, int(numbers.get("StartingSequenceNumber", "0")),
                   int(ending) if ending is not None else None)


def list_shards(client: Any, stream_name: str) -> dict[str, ShardInfo]:
    """Every shard of the stream still listed (open, or closed within retention), by shard id."""
    shards: dict[str, ShardInfo] = {}
    request: dict[str, Any] = {"StreamName": stream_name}
    while True:
        answer = client.list_shards(**request)
        for shard in answer.get("Shards", []):
            info = ShardInfo.from_api(shard)
            shards[info.shard_id] = info
        token = answer.get("NextToken")
        if not token:
            return shards
        request = {"NextToken": token}


class ShardLineage:
    """The end-of-shard markers of one table incarnation's partitions (see the module docstring)."""

    def __init__(self, partition_dir: Path | None) -> None:
        self._dir = partition_dir

    def mark_finished(self, shard_id: str, end: int) -> None:
        """Record that this partition's shard has been read to its end (next position `end`)."""
        if self._dir is None:
            return
        self._dir.mkdir(parents=True, exist_ok=True)
        marker = self._dir / MARKER_NAME
        temp = marker.with_suffix(".tmp")
        temp.write_text(f"{shard_id} {end}\n")
        os.replace(temp, marker)
        log.info("Kinesis %s read to its end; its child shards may start", shard_id)

    def is_finished(self, shard_id: str) -> bool:
        """Whether `shard_id`'s partition (a sibling of this one) left its end marker."""
        if self._dir is None:
            return True
        marker = self._dir.parent / str(partition_of(shard_id)) / MARKER_NAME
        try:
            return marker.read_text().split()[0] == shard_id
        except (OSError, IndexError):
            return False

    def waiting_for(self, shard: ShardInfo, listed: Mapping[str, ShardInfo]) -> list[str]:
        """The parents of `shard` still listed whose end has not been reached yet."""
        if self._dir is None and shard.parents:
            log.warning("Kinesis %s: no partition directory, so its parents' ends cannot be awaited",
                        shard.shard_id)
        return [parent for parent in shard.parents if parent in listed and not self.is_finished(parent)]
