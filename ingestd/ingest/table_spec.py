"""What a worker needs to ingest a table: its parsed config, its schema and its incarnation uid."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pyarrow as pa

from ingestd.columns import table_arrow_schema
from ingestd.config.schema import Schema
from ingestd.config.table import TableConfig
from ingestd.stream.spi import ConsumerFactory


@dataclass(frozen=True)
class TableSpec:
    config: TableConfig
    schema: Schema
    uid: str

    @property
    def name(self) -> str:
        return self.config.name

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        """The table's columns as every segment of it stores them (consuming and sealed alike)."""
        return table_arrow_schema(self.schema, self.config)

    def consumer_factory(self) -> ConsumerFactory:
        """The table's stream plugin, built for this table (its client id names the table)."""
        factory_class = self.config.stream.consumer_factory.load()
        return factory_class(self.config.stream, f"ingestd-{self.name}")  # type: ignore[no-any-return]
