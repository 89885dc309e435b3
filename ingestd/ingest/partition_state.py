"""A partition ingestor's bookkeeping: the work a poll still owes (kept while a seal fails), the counters
its status reports, and the status document itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingestd.decode.spi import DecodedBatch
from ingestd.ingest.continuity import OffsetJump
from ingestd.segment.consuming import ConsumingSegment
from ingestd.stream.spi import MessageBatch


@dataclass(frozen=True)
class Work:
    """What a poll still has to do: commit an offset reset (`jump`), then append a fetched batch's rows
    from the cursor (`row`, `message`) on. Kept while a seal fails, and retried before fetching more."""

    jump: OffsetJump | None = None
    batch: MessageBatch | None = None
    decoded: DecodedBatch | None = None
    row: int = 0
    message: int = 0


@dataclass
class PartitionCounters:
    """What the status reports of one partition since this process started it."""

    messages: int = 0
    rows: int = 0
    bytes: int = 0
    malformed: int = 0
    seal_failures: int = 0
    offset_resets: int = 0
    messages_lost: int = 0
    time_defaulted: int = 0
    time_invalid: int = 0
    last_error: str | None = None
    last_reset: dict[str, Any] | None = None


def status_document(partition: int, state: str, segment: ConsumingSegment, consuming_name: str | None,
                    sealed_segments: int, sealed_rows: int, counters: PartitionCounters) -> dict[str, Any]:
    """One partition's status as the worker reports it (`consuming_name` None: paused, all sealed)."""
    return {
        "partition": partition,
        "state": state,
        "consumingSegment": consuming_name,
        "consumingRows": segment.rows,
        "rowLimit": segment.row_limit,
        "startOffset": segment.start_offset,
        "currentOffset": segment.end_offset,
        "lastConsumedMs": segment.last_consumed_ms,
        "sealedSegments": sealed_segments,
        "sealedRows": sealed_rows,
        "messagesConsumed": counters.messages,
        "rowsIndexed": counters.rows,
        "bytesConsumed": counters.bytes,
        "malformedMessages": counters.malformed,
        "sealFailures": counters.seal_failures,
        "offsetResets": counters.offset_resets,
        "messagesLost": counters.messages_lost,
        "lastOffsetReset": counters.last_reset,
        "timeValuesDefaulted": counters.time_defaulted,
        "timeValuesOutOfRange": counters.time_invalid,
        "lastError": counters.last_error,
    }
