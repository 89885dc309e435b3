"""Consumer-group mode's handover log rule: where a server's sealed segments of a partition stop counting
(the next owner's start after its own latest takeover, else the group's committed offset)."""

from __future__ import annotations

from ingestd.config import parse_schema, parse_table_config
from ingestd.devtools.seed import seed_configs
from ingestd.stream.kafka_group import group_id, is_group_mode
from ingestd.stream.kafka_handovers import Handover, handover_topic, trim_points


def test_a_segment_committed_before_the_crash_is_kept_though_the_next_owner_went_far_beyond() -> None:
    # A took partition 0 over at 0, sealed [0, 300) and committed 300 (crashed before recording that);
    # B took over at 300 and has committed 900 since
    log = [Handover(0, "A", None), Handover(0, "B", 300)]
    assert trim_points(log, "A", {0: 900}, [0]) == {0: 300}


def test_a_segment_never_committed_is_dropped_though_the_committed_offset_passed_it() -> None:
    # A committed 300, sealed [300, 600) and crashed before committing it; B took over at 300 and
    # committed 900: the offset alone (900) would keep A's segment, doubling 300-599
    log = [Handover(0, "A", None), Handover(0, "B", 300)]
    assert trim_points(log, "A", {0: 900}, [0]) == {0: 300}
    log = [Handover(0, "A", 0), Handover(0, "B", 300), Handover(0, "A", 900)]
    assert trim_points(log, "A", {0: 1200}, [0]) == {0: 1200}  # A's latest run is the current one


def test_the_committed_offset_rules_when_no_one_took_over_after_this_server() -> None:
    log = [Handover(0, "B", None), Handover(0, "A", 100), Handover(1, "A", None)]
    assert trim_points(log, "A", {0: 400}, [0, 1, 2]) == {0: 400, 1: 0}  # 1: never committed; 2: unknown
    assert trim_points([], "A", {2: 50}, [2]) == {2: 50}  # no record (expired log): the offset alone
    assert trim_points([Handover(0, "A", 5), Handover(0, "B", None)], "A", {}, [0]) == {0: 0}


def test_the_log_topic_is_named_after_the_group() -> None:
    assert handover_topic("ingestd-orders") == "ingestd-orders.ingestd-handovers"
    assert handover_topic("a b/c") == "a_b_c.ingestd-handovers"


def test_pinot_high_level_configs_parse_into_group_mode() -> None:
    """Pinot's highLevel example names the brokers `stream.kafka.hlc.bootstrap.server` (and a ZooKeeper
    string ingestd ignores); the group defaults to `ingestd-<table>`."""
    schema_doc, table_doc = seed_configs("orders")
    streams = table_doc["tableIndexConfig"]["streamConfigs"]
    brokers = streams.pop("stream.kafka.broker.list")
    streams |= {"stream.kafka.consumer.type": "highLevel", "stream.kafka.hlc.bootstrap.server": brokers,
                "stream.kafka.hlc.zk.connect.string": "localhost:2191/kafka"}
    schema = parse_schema(schema_doc)
    stream = parse_table_config(table_doc, {"orders": schema}).stream
    assert is_group_mode(stream) and stream.bootstrap_servers == brokers
    assert group_id(stream, "orders") == "ingestd-orders"
    streams["stream.kafka.hlc.group.id"] = "shared"
    assert group_id(parse_table_config(table_doc, {"orders": schema}).stream, "orders") == "shared"
    streams |= {"stream.kafka.consumer.type": "LowLevel", "stream.kafka.broker.list": brokers}
    assert not is_group_mode(parse_table_config(table_doc, {"orders": schema}).stream)
