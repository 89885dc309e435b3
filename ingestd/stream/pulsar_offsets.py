"""Pulsar message ids as ingestd offsets: one ordered Python int per message, and back.

A Pulsar message id is (ledgerId, entryId, partition, batchIndex). Within one partition (the partition is
the ingestd partition id, so it is not packed) messages are ordered by (ledgerId, entryId, batchIndex):
BookKeeper ledger ids only grow, entries grow within a ledger, and a batch's messages share an entry.
The packing keeps that order as integer order and is reversible:

    offset = ledgerId << 96 | entryId << 32 | (batchIndex + 1)

with 0 <= ledgerId < 2^63, 0 <= entryId < 2^63 and -1 <= batchIndex < 2^31 - 1 (the client's int64 and
int32 fields; -1: not batched, packed as 0, so it sorts before a batch's first message 0, packed as 1).
Offsets are therefore sparse and large (beyond 2^64; JSON answers show them as strings, see
spi.offset_json), and "next offset" is, as for every stream, the last message's offset + 1: its batch
field + 1. A reader resumes at position p by starting *inclusively* at the id p unpacks to, which is
either the message p names (a reset to a partition's earliest offset) or a point just after the
message p - 1 (for an unbatched message that point is the message itself, batch index 0 of its entry):
the consumer then drops every message whose offset is below p. Position 0 means the earliest message.
"""

from __future__ import annotations

from dataclasses import dataclass

LEDGER_SHIFT = 96
ENTRY_SHIFT = 32
_ENTRY_MASK = (1 << 64) - 1
_BATCH_MASK = (1 << 32) - 1
_MAX_BATCH = (1 << 31) - 1  # the client's batch index is an int32; the packed field keeps room for +1


@dataclass(frozen=True, order=True)
class MessagePosition:
    """A message id without its partition, in Pulsar's order."""

    ledger_id: int
    entry_id: int
    batch_index: int = -1


def pack(position: MessagePosition) -> int:
    """The offset of a message; ValueError for ids that name no stored message (e.g. earliest/latest
    markers, or a non-persistent topic's ids)."""
    ledger, entry, batch = position.ledger_id, position.entry_id, position.batch_index
    if not (0 <= ledger < 1 << 63 and 0 <= entry < 1 << 63 and -1 <= batch < _MAX_BATCH):
        raise ValueError(f"message id ({ledger}, {entry}, batch {batch}) is not a stored message's id")
    return ledger << LEDGER_SHIFT | entry << ENTRY_SHIFT | (batch + 1)


def unpack(offset: int) -> MessagePosition:
    """The message id an offset was packed from (the inverse of `pack`)."""
    if offset < 0:
        raise ValueError(f"offset {offset} is negative: not a packed Pulsar message id")
    return MessagePosition(offset >> LEDGER_SHIFT, (offset >> ENTRY_SHIFT) & _ENTRY_MASK,
                           (offset & _BATCH_MASK) - 1)


def start_at(position: int) -> MessagePosition | None:
    """Where a reader starts, inclusively, to deliver every message from `position` on (and maybe one or
    a batch before it, which the consumer drops); None: from the earliest message."""
    if position <= 0:
        return None
    start = unpack(position)
    return MessagePosition(start.ledger_id, min(start.entry_id, (1 << 63) - 1),
                           min(start.batch_index, _MAX_BATCH))
