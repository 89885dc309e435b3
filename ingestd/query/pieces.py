"""The rows a worker's part of a query reads: its partitions' sealed and consuming segments (as their
views held them when the query arrived), minus the sealed segments the WHERE's time bounds rule out,
each conformed to the table's current schema (a column added since a segment was written reads as its
default null value: ingest/evolution.py), with the virtual columns the query names ($segmentName,
$docId, $hostName) added."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from ingestd.ingest.evolution import conform
from ingestd.ingest.view import PartitionView, SealedPiece
from ingestd.query.plan import QueryPlan

HOST_NAME = socket.gethostname()


@dataclass(frozen=True)
class QueryData:
    table: pa.Table  # every kept segment's rows, one after the other
    total_docs: int  # rows of all the segments, pruned ones included
    segments: int  # segments queried (sealed + consuming)
    segments_processed: int  # after time pruning
    consuming: int
    freshness_ms: int  # the oldest "last consumed" time among the consuming segments (0: none yet)


def gather(views: Sequence[PartitionView], schema: pa.Schema, plan: QueryPlan,
           exclude: frozenset[tuple[str, int, int]] = frozenset()) -> QueryData:
    """`exclude`: sealed segments (name, start, end offsets) the query reads elsewhere (the deep store)."""
    kept = [(piece, view) for view in views for piece in view.sealed if _kept(piece, exclude)]
    sealed = [piece for piece, _ in kept]
    named = [(conform(piece.table, schema, view.defaults), piece.name)
             for piece, view in kept if _may_match(piece, plan.time_range)]
    named += [(pa.Table.from_batches([conform(batch, schema, view.defaults) for batch in view.consuming],
                                     schema=schema), view.consuming_name) for view in views]
    tables = [with_virtual(table, name, plan.virtual_columns) for table, name in named]
    empty = with_virtual(schema.empty_table(), "", plan.virtual_columns)
    consumed = [view.last_consumed_ms for view in views if view.last_consumed_ms]
    return QueryData(
        table=pa.concat_tables(tables) if tables else empty,
        total_docs=sum(piece.table.num_rows for piece in sealed) + sum(
            batch.num_rows for view in views for batch in view.consuming),
        segments=len(sealed) + len(views),
        segments_processed=len(tables),
        consuming=len(views),
        freshness_ms=min(consumed, default=0),
    )


def _kept(piece: SealedPiece, exclude: frozenset[tuple[str, int, int]]) -> bool:
    return not exclude or piece.offsets is None or (piece.name, *piece.offsets) not in exclude


def _may_match(piece: SealedPiece, bounds: tuple[int | None, int | None] | None) -> bool:
    if bounds is None or piece.min_time is None or piece.max_time is None:
        return True
    low, high = bounds
    return not ((high is not None and piece.min_time > high) or (low is not None and piece.max_time < low))


def with_virtual(table: pa.Table, segment: str, names: tuple[str, ...]) -> pa.Table:
    rows = table.num_rows
    for name in names:
        if name == "$docId":
            column = pc.indices_nonzero(pc.is_null(pa.nulls(rows))).cast(pa.int32())
        else:
            value = segment if name == "$segmentName" else HOST_NAME
            zeros = pc.fill_null(pa.nulls(rows, pa.int32()), 0)
            column = pa.DictionaryArray.from_arrays(zeros, pa.array([value]))
        table = table.append_column(name, column)
    return table
