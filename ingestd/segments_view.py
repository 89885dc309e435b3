"""Segments as the API shows them: sealed ones read from the partitions' ledgers (read-only, no
repair), consuming ones from the partition's last reported status (Pinot's IN_PROGRESS)."""

from __future__ import annotations

from typing import Any

from ingestd.errors import NotFound
from ingestd.ingest.recovery import live_segments
from ingestd.ingest.table_spec import TableSpec
from ingestd.ledger import read_ledger
from ingestd.paths import DataPaths
from ingestd.segment.metadata import SegmentMetadata


def sealed_segments(paths: DataPaths, spec: TableSpec) -> list[SegmentMetadata]:
    found: list[SegmentMetadata] = []
    for _, partition in paths.partitions_of(spec.name, spec.uid):
        found.extend(live_segments(read_ledger(partition.ledger).records))
    return found


def segment_names(paths: DataPaths, spec: TableSpec) -> list[str]:
    return [meta.name for meta in sealed_segments(paths, spec)]


def segment_metadata(paths: DataPaths, spec: TableSpec, name: str) -> dict[str, Any]:
    for meta in sealed_segments(paths, spec):
        if meta.name == name:
            return {
                "segmentName": meta.name,
                "tableName": f"{spec.name}_REALTIME",
                "partition": meta.partition,
                "sequenceNumber": meta.sequence,
                "startOffset": str(meta.start_offset),
                "endOffset": str(meta.end_offset),
                "totalDocs": meta.rows,
                "startTime": meta.min_time,
                "endTime": meta.max_time,
                "creationTimeMs": meta.created_ms,
                "sealedTimeMs": meta.sealed_ms,
                "sizeInBytes": meta.size_bytes,
                "crc": str(meta.crc32),
                "status": "DONE",
            }
    raise NotFound(f"segment {name!r} of table {spec.name!r} does not exist")


def consuming_segment_metadata(spec: TableSpec, partition: dict[str, Any]) -> dict[str, Any]:
    """A consuming segment, from its partition's status: rows and offsets so far, still open."""
    name = partition["consumingSegment"]
    start = partition.get("startOffset")
    return {
        "segmentName": name,
        "tableName": f"{spec.name}_REALTIME",
        "partition": partition["partition"],
        "sequenceNumber": int(name.split("__")[2]),
        "startOffset": None if start is None else str(start),
        "totalDocs": partition.get("consumingRows", 0),
        "status": "IN_PROGRESS",
    }
