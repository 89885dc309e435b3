"""The decoder plugin interface: a whole batch of raw values in, one Arrow record batch out.

Batches, not rows: a decoder sees every value of a fetch at once so it can vectorize. Messages it
cannot decode are reported by index (so the caller knows which offsets they held) and skipped; a decoder
never raises for bad input (it may raise for a transient failure of its own, such as an unreachable
schema registry: the ingestor then retries the batch after a back-off).

A decoder yields the raw values: one column per schema field (missing ones are all null), nulls left as
nulls, in any Arrow type castable to the field's storage type. Pinot's default null values and time-column
rules are applied after every decoder by the conforming step (conform.py). Its settings come with the
table config: `table.stream.decoder_properties` (`stream.<type>.decoder.prop.*`, prefix stripped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa

from ingestd.config.schema import Schema
from ingestd.config.table import TableConfig


@dataclass
class DecodedBatch:
    rows: pa.RecordBatch
    bad_indices: list[int] = field(default_factory=list)
    first_error: str | None = None
    time_defaulted: int = 0  # rows whose time value was missing and got the default
    time_invalid: int = 0  # rows whose time value lies outside Pinot's valid range

    def message_index_of_row(self, row: int, message_count: int) -> int:
        """The index of the message that produced `row` (or `message_count` past the last row)."""
        if not self.bad_indices:
            return row
        if row >= self.rows.num_rows:
            return message_count
        bad = set(self.bad_indices)
        good = [i for i in range(message_count) if i not in bad]
        return good[row]


class MessageDecoder(Protocol):
    def __init__(self, schema: Schema, table: TableConfig) -> None: ...

    def decode(self, values: list[bytes | None]) -> DecodedBatch: ...
