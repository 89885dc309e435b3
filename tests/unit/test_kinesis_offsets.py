"""Offsets as Kinesis has them (~56-digit sequence numbers, with gaps): the ledger stores them exactly,
JSON answers carry them as strings beyond 2^53, and the continuity check takes gaps as normal for a
consumer that says its offsets are not dense (a backward jump still is a reset)."""

from __future__ import annotations

from pathlib import Path

import orjson

from ingestd.config.table import OffsetReset
from ingestd.ingest.continuity import OffsetGuard
from ingestd.ledger import OffsetLedger, read_ledger
from ingestd.segment.metadata import SegmentMetadata
from ingestd.stream.spi import JSON_SAFE_INTEGER, PartitionBounds, offset_json
from ingestd.table_status import with_freshness

SEQUENCE = 49590338271490256608559692538361571095921575989136588898


def meta(start: int, end: int) -> SegmentMetadata:
    return SegmentMetadata("t", "uid", 3, 0, "t__3__0__20261127T1200Z", start, end, rows=2, min_time=1,
                           max_time=2, created_ms=1, sealed_ms=2, size_bytes=10, crc32=7)


def test_the_ledger_keeps_56_digit_offsets_exactly(tmp_path: Path) -> None:
    ledger = OffsetLedger(tmp_path / "ledger.bin")
    ledger.append(meta(SEQUENCE, SEQUENCE + 2**40 + 1))
    ledger.append(meta(5, 9))
    ledger.close()
    records = read_ledger(tmp_path / "ledger.bin").records
    assert [(r.start_offset, r.end_offset) for r in records] == [(SEQUENCE, SEQUENCE + 2**40 + 1), (5, 9)]
    assert orjson.loads(orjson.dumps(meta(5, 9).to_dict()))["end_offset"] == 9  # small ones stay numbers


def test_offsets_beyond_what_javascript_reads_exactly_go_to_json_as_strings() -> None:
    assert offset_json(None) is None and offset_json(JSON_SAFE_INTEGER) == JSON_SAFE_INTEGER
    assert offset_json(JSON_SAFE_INTEGER + 1) == str(JSON_SAFE_INTEGER + 1)
    assert offset_json(SEQUENCE) == str(SEQUENCE)
    report = {"partition": 3, "startOffset": SEQUENCE, "currentOffset": SEQUENCE + 5, "latestOffset": None,
              "lag": None, "rowsIndexed": 7, "sealSeconds": {},
              "lastOffsetReset": {"fromOffset": SEQUENCE, "toOffset": 12, "messagesLost": 0}}
    entry = with_freshness(report, now=0)
    assert (entry["startOffset"], entry["currentOffset"]) == (str(SEQUENCE), str(SEQUENCE + 5))
    assert entry["lastOffsetReset"] == {"fromOffset": str(SEQUENCE), "toOffset": 12, "messagesLost": 0}
    assert entry["rowsIndexed"] == 7 and entry["latestOffset"] is None and "sealSeconds" not in entry


class SparseConsumer:
    """Just enough of a consumer for OffsetGuard: offsets with gaps, bounds counted."""

    dense_offsets = False

    def __init__(self) -> None:
        self.bounds_asked = 0

    def bounds(self, position: int, timeout_s: float) -> PartitionBounds | None:
        self.bounds_asked += 1
        return PartitionBounds(SEQUENCE, SEQUENCE + 10**30)


def test_gaps_between_sparse_offsets_are_no_loss_and_cost_no_probe() -> None:
    consumer = SparseConsumer()
    guard = OffsetGuard(consumer, OffsetReset.SMALLEST, "t[3]")  # type: ignore[arg-type]
    assert guard.check_batch(SEQUENCE + 1, SEQUENCE + 2**20 + 7) is None
    assert consumer.bounds_asked == 0
    jump = guard.check_batch(SEQUENCE + 2**21, SEQUENCE + 1)  # the stream went back: still a reset
    assert jump is not None and jump.target == SEQUENCE + 1 and jump.unknown_loss
