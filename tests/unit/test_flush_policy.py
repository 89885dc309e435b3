"""Flush thresholds as Pinot defines them: precedence of the keys, and size-based auto-tuning."""

from __future__ import annotations

from ingestd.config import parse_schema, parse_table_config
from ingestd.config.table import FlushThresholds
from ingestd.devtools.seed import seed_configs
from ingestd.segment.metadata import SegmentMetadata
from ingestd.segment.thresholds import MINIMUM_ROWS, FlushPolicy

MB = 1 << 20


def flush_of(**streams: str) -> FlushThresholds:
    schema_doc, table_doc = seed_configs("t", **streams)
    stream_configs = table_doc["tableIndexConfig"]["streamConfigs"]
    for key in [k for k, v in streams.items() if v == "-"]:
        del stream_configs[key]
    schema = parse_schema(schema_doc)
    return parse_table_config(table_doc, {"t": schema}).stream.flush


def sealed(rows: int, size: int, limit: int, seconds: float = 1.0) -> SegmentMetadata:
    return SegmentMetadata("t", "u", 0, 0, "n", 0, rows, rows, None, None, 0, int(seconds * 1000), size, 0,
                           row_limit=limit)


def test_key_precedence_follows_pinot() -> None:
    rows_key = "realtime.segment.flush.threshold.rows"
    assert flush_of(**{rows_key: "1000"}).rows == 1000
    assert flush_of(**{rows_key: "0"}).rows is None  # auto-tuning, 200 MiB target by default
    assert flush_of(**{rows_key: "0"}).segment_size_bytes == 200 * MB
    assert flush_of(**{rows_key: "-", "realtime.segment.flush.threshold.segment.size": "50M"}).rows is None
    assert flush_of(**{rows_key: "-"}).rows == 5_000_000
    assert flush_of(**{rows_key: "0", "realtime.segment.flush.threshold.segment.rows": "777"}).rows == 777
    assert flush_of(**{rows_key: "-", "realtime.segment.flush.threshold.size": "300"}).rows == 300
    desired = flush_of(**{rows_key: "0", "realtime.segment.flush.desired.size": "1G"})
    assert desired.segment_size_bytes == 1 << 30


def test_auto_tuning_converges_to_the_desired_size() -> None:
    flush = FlushThresholds(rows=None, time_ms=10**9, segment_size_bytes=4 * MB, initial_rows=100_000)
    policy = FlushPolicy(flush, [])
    bytes_per_row = 23.7
    sizes = []
    for _ in range(8):
        limit = policy.row_limit()
        size = int(limit * bytes_per_row)
        sizes.append(size)
        policy.on_sealed(sealed(limit, size, limit))
    assert sizes[0] == int(100_000 * bytes_per_row)  # the first segment uses initialRows
    assert all(abs(s - 4 * MB) <= 0.2 * 4 * MB for s in sizes[3:]), sizes


def test_a_segment_stopped_by_time_asks_for_ten_percent_more_rows_and_never_below_the_minimum() -> None:
    flush = FlushThresholds(rows=None, time_ms=60_000, segment_size_bytes=100 * MB, initial_rows=100_000)
    policy = FlushPolicy(flush, [sealed(50_000, 2 * MB, 100_000, seconds=30)])
    assert policy.row_limit() == 55_000
    policy.on_sealed(sealed(100, 4_000, 55_000))
    assert policy.row_limit() == MINIMUM_ROWS


def test_the_learned_limit_is_rebuilt_from_the_ledger_history() -> None:
    flush = FlushThresholds(rows=None, time_ms=10**9, segment_size_bytes=4 * MB, initial_rows=100_000)
    history = [sealed(100_000, 8 * MB, 100_000), sealed(50_000, 4 * MB, 50_000),
               sealed(52_000, 4 * MB + 10_000, 52_000), sealed(0, 0, 52_000)]
    live = FlushPolicy(flush, [])
    for record in history:
        live.on_sealed(record)
    assert FlushPolicy(flush, history).row_limit() == live.row_limit()


def test_threshold_rows_and_the_default_are_shared_by_the_partitions_one_server_consumes() -> None:
    """Pinot's DefaultFlushThresholdUpdater: the table's rows / the partitions one instance consumes;
    FixedFlushThresholdUpdater: `threshold.segment.rows` per segment as it is."""
    default = flush_of(**{"realtime.segment.flush.threshold.rows": "-"})
    assert FlushPolicy(default, [], server_partitions=4).row_limit() == 1_250_000
    explicit = flush_of(**{"realtime.segment.flush.threshold.rows": "5000000"})
    assert FlushPolicy(explicit, [], server_partitions=4).row_limit() == 1_250_000
    fixed = flush_of(**{"realtime.segment.flush.threshold.rows": "-",
                        "realtime.segment.flush.threshold.segment.rows": "30000"})
    assert FlushPolicy(fixed, [], server_partitions=4).row_limit() == 30_000
