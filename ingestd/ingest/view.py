"""What a query sees of one partition: immutable pieces the ingest thread publishes and query threads
read without a lock (one reference assignment replaces the whole view). Sealed pieces keep the columns
they were written with; `defaults` fills the columns added since (ingest/evolution.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class SealedPiece:
    """A sealed segment as queries see it: its rows, its name, and its time column's range."""

    table: pa.Table
    name: str
    min_time: int | None
    max_time: int | None
    offsets: tuple[int, int] | None = None  # the stream offsets it holds, [start, end)


@dataclass(frozen=True)
class PartitionView:
    """What a query sees of one partition. Immutable: the ingest thread replaces it as a whole after
    each change, so a query thread never sees a segment both sealed and consuming, or neither."""

    sealed: tuple[SealedPiece, ...]
    consuming: tuple[pa.RecordBatch, ...]
    consuming_name: str = ""
    last_consumed_ms: int | None = None  # when the consuming segment last took messages
    # each column's value for rows stored before the column was added to the schema (evolution.py)
    defaults: Mapping[str, Any] = field(default_factory=dict)
