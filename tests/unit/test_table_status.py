"""A table's status: worker reports merged into the coordinator's assignment; errors never show secrets."""

from __future__ import annotations

from ingestd.config import parse_schema, parse_table_config
from ingestd.devtools.seed import seed_configs
from ingestd.ingest.table_spec import TableSpec
from ingestd.messages import WorkerStatus
from ingestd.table_status import CoordinatorView, table_status


def spec_with_password(password: str) -> TableSpec:
    schema, table = seed_configs("t", **{"sasl.password": password, "sasl.username": "alice",
                                          "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN"})
    parsed = parse_schema(schema)
    return TableSpec(parse_table_config(table, {"t": parsed}), parsed, "uid")


def test_partitions_merge_worker_reports_and_secrets_are_scrubbed_from_errors() -> None:
    spec = spec_with_password("hunter2-very-secret")
    report = WorkerStatus(0, 123, 1 << 20, {"t": [{"partition": 0, "state": "ERROR",
                                                    "lastError": "auth failed for hunter2-very-secret"}]})
    view = CoordinatorView(assignment={0: (0, 2), 1: (1,)}, worker_status={0: report},
                           worker_health={0: {"restarts": 0}, 1: {"restarts": 1}},
                           unreachable=None, error="Invalid value \"hunter2-very-secret\" for sasl.password")
    status = table_status(spec, view)
    assert [(p["partition"], p["worker"], p["state"]) for p in status["partitions"]] == [
        (0, 0, "ERROR"), (1, 1, "STARTING"), (2, 0, "STARTING")]
    assert "hunter2" not in repr(status)
    assert status["partitions"][0]["lastError"] == "auth failed for ********"
    assert status["streamError"] == 'Invalid value "********" for sasl.password'
    assert status["workers"] == {0: {"pid": 123, "rssBytes": 1 << 20, "restarts": 0}}


def test_an_unreachable_stream_stalls_the_table_and_its_consuming_partitions() -> None:
    report = WorkerStatus(0, 1, 1, {"t": [{"partition": 0, "state": "CONSUMING"}]})
    view = CoordinatorView({0: (0,)}, {0: report}, {0: {}}, unreachable="broker down", error=None)
    status = table_status(spec_with_password("x" * 8), view)
    assert (status["state"], status["streamError"], status["partitions"][0]["state"]) == (
        "STALLED", "broker down", "STALLED")
