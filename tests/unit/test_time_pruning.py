"""Time-column pruning never skips a segment that could hold a matching row."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ingestd.ingest.view import PartitionView, SealedPiece
from ingestd.query.pieces import gather
from ingestd.query.plan import QueryPlan
from ingestd.query.sql_ast import parse_select
from ingestd.query.time_pruning import time_bounds

SCHEMA = pa.schema([("ts", pa.int64()), ("v", pa.int32())])


@pytest.mark.parametrize("where, bounds", [
    ("ts >= 10 AND ts < 20", (10, 19)),
    ("20 > ts AND v = 1 AND ts > 5", (6, 19)),
    ("ts BETWEEN 3 AND 7 AND ts = 5", (5, 5)),
    ("ts > 5 OR ts < 2", None),  # OR bounds nothing
    ("v > 5", None),
    ("ts + 1 > 5", None),  # not the bare column
    ("TS <= 9", (None, 9)),  # identifiers are case-insensitive
])
def test_bounds_come_only_from_top_level_comparisons_of_the_bare_time_column(
        where: str, bounds: tuple[int | None, int | None] | None) -> None:
    assert time_bounds(parse_select(f"SELECT * FROM t WHERE {where}")["where_clause"], "ts") == bounds


def piece(name: str, low: int, high: int) -> SealedPiece:
    return SealedPiece(pa.table({"ts": [low, high], "v": pa.array([1, 2], pa.int32())}), name, low, high)


def test_segments_outside_the_bounds_are_skipped_and_virtual_columns_name_each_row() -> None:
    view = PartitionView((piece("s0", 0, 9), piece("s1", 10, 19), piece("s2", 20, 29)),
                         tuple(pa.table({"ts": [30], "v": pa.array([3], pa.int32())}).to_batches()),
                         "s3", 1234)
    plan = QueryPlan("t", "selection", "", "", "", "", "", time_range=(15, 25),
                     virtual_columns=("$segmentName", "$docId"))
    data = gather([view], SCHEMA, plan)
    assert (data.segments, data.segments_processed, data.total_docs, data.freshness_ms) == (4, 3, 7, 1234)
    assert data.table.column("$segmentName").to_pylist() == ["s1", "s1", "s2", "s2", "s3"]
    assert data.table.column("$docId").to_pylist() == [0, 1, 0, 1, 0]
