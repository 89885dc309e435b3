"""Consumer-group mode's handover log rule: where a server's sealed segments of a partition stop counting
(the next owner's start after its own latest takeover, else the group's committed offset)."""

from __future__ import annotations

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
