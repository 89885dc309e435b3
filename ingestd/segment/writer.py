"""Sealing: a consuming segment's rows become an immutable, durable Arrow IPC file.

`seal_segment` is step 1-4 of the commit protocol; the caller appends the ledger record (step 5)
only after it returns:
  1. write the IPC file to a hidden temp name in the partition's segment directory;
  2. fsync the file;
  3. rename it to its final name `<segment>.arrow`;
  4. fsync the directory, so the rename itself survives a crash.
A crash before 5 leaves a file with no ledger record: recovery deletes it as an orphan.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from ingestd.columns import now_ms, time_values_ms
from ingestd.durable import fsync_directory
from ingestd.segment.consuming import ConsumingSegment
from ingestd.segment.metadata import SegmentMetadata

TEMP_PREFIX = ".sealing-"


def seal_segment(
    segment: ConsumingSegment, directory: Path, table_uid: str, time_column: str
) -> SegmentMetadata:
    if segment.start_offset is None or segment.end_offset is None:
        raise ValueError("cannot seal a segment that consumed nothing")
    table = segment.to_table().unify_dictionaries()  # an IPC file holds one dictionary per column
    directory.mkdir(parents=True, exist_ok=True)
    temp = directory / f"{TEMP_PREFIX}{segment.name}.arrow"
    with pa.OSFile(str(temp), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)  # straight to the file: no second in-memory copy of the segment
    with open(temp, "rb+") as handle:
        os.fsync(handle.fileno())
    metadata = SegmentMetadata(
        table=segment.table,
        table_uid=table_uid,
        partition=segment.partition,
        sequence=segment.sequence,
        name=segment.name,
        start_offset=segment.start_offset,
        end_offset=segment.end_offset,
        rows=table.num_rows,
        **_time_range(table, time_column),
        created_ms=segment.created_ms,
        sealed_ms=now_ms(),
        size_bytes=temp.stat().st_size,
        crc32=file_crc32(temp),  # read back from the page cache
        row_limit=segment.row_limit,
    )
    os.rename(temp, directory / metadata.file_name)
    fsync_directory(directory)
    return metadata


def file_crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _time_range(table: pa.Table, time_column: str) -> dict[str, int | None]:
    if table.num_rows == 0:
        return {"min_time": None, "max_time": None}
    bounds = pc.min_max(time_values_ms(table.column(time_column)))
    return {"min_time": bounds["min"].as_py(), "max_time": bounds["max"].as_py()}
