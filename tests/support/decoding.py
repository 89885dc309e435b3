"""Decoders as the ingestor applies them in tests: the decoder, then the conforming step."""

from __future__ import annotations

from typing import Any

from ingestd.config.schema import Schema
from ingestd.config.table import TableConfig
from ingestd.decode.conform import Conformer
from ingestd.decode.spi import DecodedBatch


class Conformed:
    """`decoder` followed by the table's conforming step; other attributes are the decoder's."""

    def __init__(self, decoder: Any, schema: Schema, table: TableConfig) -> None:
        self.decoder = decoder
        self._conformer = Conformer(schema, table)

    def decode(self, values: list[bytes | None]) -> DecodedBatch:
        return self._conformer.apply(self.decoder.decode(values))

    def conform(self, decoded: DecodedBatch) -> DecodedBatch:
        return self._conformer.apply(decoded)
