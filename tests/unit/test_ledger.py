"""The offset ledger: every truncation point recovers to a prefix; corruption is detected, never trusted."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ingestd.ledger import OffsetLedger, encode_record, read_ledger, scan
from ingestd.segment.metadata import SegmentMetadata


def record(sequence: int) -> SegmentMetadata:
    return SegmentMetadata(
        table="t", table_uid="u", partition=0, sequence=sequence, name=f"t__0__{sequence}__20240101T0000Z",
        start_offset=sequence * 100, end_offset=(sequence + 1) * 100, rows=100, min_time=1, max_time=2,
        created_ms=3, sealed_ms=4, size_bytes=5, crc32=6)


RECORDS = [record(i) for i in range(5)]
IMAGE = b"".join(encode_record(r) for r in RECORDS)


def test_every_truncation_point_recovers_to_a_prefix() -> None:
    boundaries = [0]
    for r in RECORDS:
        boundaries.append(boundaries[-1] + len(encode_record(r)))
    for cut in range(len(IMAGE) + 1):
        records, valid = scan(IMAGE[:cut])
        complete = max(i for i, b in enumerate(boundaries) if b <= cut)
        assert records == RECORDS[:complete]
        assert valid == boundaries[complete]


@settings(max_examples=300)
@given(position=st.integers(min_value=0, max_value=len(IMAGE) - 1),
       flip=st.integers(min_value=1, max_value=255))
def test_a_flipped_byte_is_detected_and_only_earlier_records_are_trusted(position: int, flip: int) -> None:
    damaged = bytearray(IMAGE)
    damaged[position] ^= flip
    records, _ = scan(bytes(damaged))
    assert records == RECORDS[: len(records)]  # a prefix, and never a corrupted record
    assert len(records) < len(RECORDS)


def test_recover_truncates_a_torn_tail_and_appends_cleanly_after_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger.bin"
    ledger = OffsetLedger(path)
    for r in RECORDS[:3]:
        ledger.append(r)
    with open(path, "ab") as handle:
        handle.write(encode_record(RECORDS[3])[:7])  # a crash mid-append
    assert read_ledger(path).torn
    assert ledger.recover() == RECORDS[:3]
    ledger.append(RECORDS[3])
    assert OffsetLedger(path).recover() == RECORDS[:4]


def test_rewrite_replaces_the_ledger_atomically(tmp_path: Path) -> None:
    ledger = OffsetLedger(tmp_path / "ledger.bin")
    for r in RECORDS:
        ledger.append(r)
    ledger.rewrite(RECORDS[:2])
    assert ledger.recover() == RECORDS[:2]
    assert list(tmp_path.iterdir()) == [tmp_path / "ledger.bin"]


def test_random_garbage_never_yields_records() -> None:
    rng = random.Random(7)
    for _ in range(200):
        assert scan(rng.randbytes(rng.randint(0, 300)))[0] == []
