"""What a worker needs to ingest a table: its parsed config, its schema and its incarnation uid."""

from __future__ import annotations

from dataclasses import dataclass

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

    def consumer_factory(self) -> ConsumerFactory:
        """The table's stream plugin, built for this table (its client id names the table)."""
        factory_class = self.config.stream.consumer_factory.load()
        return factory_class(self.config.stream, f"ingestd-{self.name}")  # type: ignore[no-any-return]
