"""What a worker needs to ingest a table: its parsed config, its schema and its incarnation uid."""

from __future__ import annotations

from dataclasses import dataclass

from ingestd.config.schema import Schema
from ingestd.config.table import TableConfig


@dataclass(frozen=True)
class TableSpec:
    config: TableConfig
    schema: Schema
    uid: str

    @property
    def name(self) -> str:
        return self.config.name
