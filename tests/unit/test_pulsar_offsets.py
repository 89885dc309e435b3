"""Pulsar message ids packed into ingestd offsets: reversible, and ordered as Pulsar orders messages in a
partition (ledger, entry, batch index). Property tests over the whole id ranges, plus real
`pulsar.MessageId` objects of the pulsar-client library (no broker is involved in either)."""

from __future__ import annotations

import pulsar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestd.stream.pulsar import offset_of
from ingestd.stream.pulsar_offsets import MessagePosition, pack, start_at, unpack

positions = st.builds(MessagePosition, st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1),
                      st.integers(-1, 2**31 - 2))


@given(positions)
def test_packing_round_trips(position: MessagePosition) -> None:
    assert unpack(pack(position)) == position


@given(positions, positions)
def test_offsets_order_as_pulsar_orders_messages(a: MessagePosition, b: MessagePosition) -> None:
    assert (pack(a) < pack(b)) == (a < b)
    assert (pack(a) == pack(b)) == (a == b)


@given(positions)
def test_a_reader_starts_at_or_before_the_position_and_never_past_the_next_message(
        position: MessagePosition) -> None:
    own = start_at(pack(position))  # a message's own offset (a reset target): start at that message
    assert own == (None if pack(position) == 0 else position)
    after = start_at(pack(position) + 1)  # the next offset after it: the same entry, the next batch index
    assert after == MessagePosition(position.ledger_id, position.entry_id, position.batch_index + 1)
    assert after is not None and after > position


def test_an_unbatched_message_sorts_before_the_first_message_of_a_batch_in_the_next_entry() -> None:
    ids = [MessagePosition(7, 0), MessagePosition(7, 1, 0), MessagePosition(7, 1, 1), MessagePosition(7, 2),
           MessagePosition(8, 0, 0)]
    assert [pack(i) for i in ids] == sorted(pack(i) for i in ids)
    assert pack(MessagePosition(0, 0)) == 0 and start_at(0) is None


@pytest.mark.parametrize("bad", [MessagePosition(-1, -1, -1), MessagePosition(2**63 - 1, 2**63, -1),
                                 MessagePosition(1, 1, -2), MessagePosition(1, 1, 2**31 - 1)])
def test_ids_that_name_no_stored_message_are_refused(bad: MessagePosition) -> None:
    with pytest.raises(ValueError, match="not a stored message"):
        pack(bad)


def test_real_pulsar_message_ids_pack_by_ledger_entry_and_batch_index() -> None:
    a = pulsar.MessageId(partition=3, ledger_id=12, entry_id=40, batch_index=-1)
    b = pulsar.MessageId(partition=3, ledger_id=12, entry_id=41, batch_index=0)
    c = pulsar.MessageId(partition=3, ledger_id=13, entry_id=0, batch_index=-1)
    assert offset_of(a) < offset_of(b) < offset_of(c)
    assert unpack(offset_of(b)) == MessagePosition(12, 41, 0)
    with pytest.raises(ValueError):
        offset_of(pulsar.MessageId.earliest)
