"""Lag and freshness as the coordinator reports them from worker reports: the table status (freshness at
the moment asked, a table total, metrics-only data left out), Pinot's consumingSegmentsInfo shape, and
the Prometheus exposition (names, labels, values)."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from ingestd.columns import now_ms
from ingestd.config import parse_schema, parse_table_config
from ingestd.devtools.seed import seed_configs
from ingestd.ingest.table_spec import TableSpec
from ingestd.messages import WorkerStatus
from ingestd.metrics import ServerMetrics, query_outcome
from ingestd.table_status import CoordinatorView, consuming_segments_info, table_status

NOW = 1_800_000_000_000
SEALS = {"count": 3, "sum": 0.3, "buckets": [[0.1, 2], [1.0, 3]]}


def spec() -> TableSpec:
    schema, table = seed_configs("t")
    parsed = parse_schema(schema)
    return TableSpec(parse_table_config(table, {"t": parsed}), parsed, "uid")


def report(partition: int, **fields: Any) -> dict[str, Any]:
    return {"partition": partition, "state": "CONSUMING", "consumingSegment": f"t__{partition}__4__x",
            "currentOffset": 900, "latestOffset": 1000, "lag": 100, "lastConsumedMs": NOW - 2_000,
            "newestIngestTimeMs": NOW - 2_500, "newestEventTimeMs": NOW - 60_000, "availabilityLagMs": 500,
            "messagesConsumed": 900, "rowsIndexed": 880, "malformedMessages": 20, "bytesConsumed": 90_000,
            "sealSeconds": SEALS, "consumingRows": 80} | fields


def view(**fields: Any) -> CoordinatorView:
    worker0 = WorkerStatus(0, 10, 1 << 20, {"t": [report(0, **fields), report(
        2, lag=None, latestOffset=None, state="ERROR")]}, cpu_seconds=1.5)
    return CoordinatorView(assignment={0: (0, 2), 1: (1,)}, worker_status={0: worker0},
                           worker_health={0: {}, 1: {}}, unreachable=None, error=None)


def test_the_status_measures_freshness_when_asked_and_totals_the_known_lags() -> None:
    status = table_status(spec(), view(), now=NOW)
    first = status["partitions"][0]
    assert (first["ingestFreshnessMs"], first["eventFreshnessMs"]) == (2_500, 60_000)
    assert "sealSeconds" not in first  # for /metrics only
    assert status["partitions"][1] | {"worker": 1} == {"partition": 1, "worker": 1, "state": "STARTING",
                                                       "ingestFreshnessMs": None, "eventFreshnessMs": None}
    assert status["lag"] == 100  # partition 2's lag is unknown, partition 1 has not reported
    future = table_status(spec(), view(), now=NOW - 70_000)["partitions"][0]
    assert (future["ingestFreshnessMs"], future["eventFreshnessMs"]) == (0, 0)  # clocks differ: never < 0


def test_consuming_segments_info_has_pinots_shape_with_strings_and_unknowns() -> None:
    info = consuming_segments_info(spec(), view())
    assert info["serversFailingToRespond"] == 1 and info["serversUnparsableRespond"] == 0
    segments = info["_segmentToConsumingInfoMap"]
    assert list(segments) == ["t__0__4__x", "t__2__4__x"]
    assert segments["t__0__4__x"] == [{
        "serverName": "worker-0", "consumerState": "CONSUMING", "lastConsumedTimestamp": NOW - 2_000,
        "partitionToOffsetMap": {"0": "900"},
        "partitionOffsetInfo": {"currentOffsetsMap": {"0": "900"}, "latestUpstreamOffsetMap": {"0": "1000"},
                                "recordsLagMap": {"0": "100"}, "availabilityLagMsMap": {"0": "500"}}}]
    erring = segments["t__2__4__x"][0]
    assert erring["consumerState"] == "NOT_CONSUMING"
    assert erring["partitionOffsetInfo"]["recordsLagMap"] == {"2": "UNKNOWN"}


def test_metrics_follow_prometheus_conventions_and_carry_the_reported_values() -> None:
    reported = view(newestIngestTimeMs=now_ms() - 2_500)
    metrics = ServerMetrics(lambda: [(spec(), reported)], lambda: reported.worker_status)
    metrics.queries.observe({"exceptions": []}, 0.02)
    metrics.queries.observe({"exceptions": [{"errorCode": 250, "message": "timed out"}]}, 2.0)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(metrics.render().decode())
               for s in family.samples}
    p0 = (("partition", "0"), ("table", "t"))
    assert samples[("ingestd_messages_consumed_total", p0)] == 900
    assert samples[("ingestd_rows_indexed_total", p0)] == 880
    assert samples[("ingestd_malformed_messages_total", p0)] == 20
    assert samples[("ingestd_consumed_bytes_total", p0)] == 90_000
    assert samples[("ingestd_partition_lag_messages", p0)] == 100
    assert samples[("ingestd_partition_latest_offset", p0)] == 1000
    assert samples[("ingestd_partition_current_offset", p0)] == 900
    assert samples[("ingestd_segments_sealed_total", p0)] == 3
    assert samples[("ingestd_seal_duration_seconds_bucket", (("le", "0.1"), *p0))] == 2
    assert samples[("ingestd_seal_duration_seconds_bucket", (("le", "+Inf"), *p0))] == 3
    assert samples[("ingestd_seal_duration_seconds_sum", p0)] == 0.3
    assert samples[("ingestd_partition_state", (("partition", "2"), ("state", "ERROR"), ("table", "t")))] == 1
    assert samples[("ingestd_table_lag_messages", (("table", "t"),))] == 100
    assert samples[("ingestd_worker_resident_memory_bytes", (("worker", "0"),))] == 1 << 20
    assert samples[("ingestd_worker_cpu_seconds_total", (("worker", "0"),))] == 1.5
    assert samples[("ingestd_queries_total", (("outcome", "ok"),))] == 1
    assert samples[("ingestd_queries_total", (("outcome", "timeout"),))] == 1
    assert samples[("ingestd_queries_total", (("outcome", "busy"),))] == 0
    assert samples[("ingestd_query_duration_seconds_count", ())] == 2
    assert samples[("ingestd_query_duration_seconds_bucket", (("le", "0.025"),))] == 1
    assert ("ingestd_partition_lag_messages", (("partition", "2"), ("table", "t"))) not in samples
    freshness = samples[("ingestd_partition_ingest_freshness_seconds", p0)]
    assert 2.5 <= freshness < 60  # measured at scrape time


def test_query_outcomes() -> None:
    assert query_outcome({"exceptions": []}) == "ok"
    assert query_outcome({"exceptions": [{"errorCode": 710}]}) == "error"
    assert query_outcome({"exceptions": [{"errorCode": 427}], "partialResult": True}) == "partial"
    assert query_outcome({"exceptions": [{"errorCode": 429}]}) == "busy"
    assert query_outcome({"exceptions": [{"errorCode": 503}]}) == "cancelled"
