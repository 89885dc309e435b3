"""Where everything lives under `data_dir`: one place, so no module builds paths by hand.

    data_dir/metadata/schemas/<schema>.json       uploaded schemas
    data_dir/metadata/tables/<table>.json         uploaded table configs (+ the table's uid)
    data_dir/tables/<table>/<uid>/<partition>/ledger.bin        the partition's offset ledger
    data_dir/tables/<table>/<uid>/<partition>/segments/*.arrow  its sealed segments

The uid changes each time a table is created, so a re-created table never sees old offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataPaths:
    root: Path

    @property
    def schemas(self) -> Path:
        return self.root / "metadata" / "schemas"

    @property
    def tables(self) -> Path:
        return self.root / "metadata" / "tables"

    def table_data(self, table: str) -> Path:
        return self.root / "tables" / table

    def partition(self, table: str, uid: str, partition: int) -> PartitionPaths:
        return PartitionPaths(self.table_data(table) / uid / str(partition))

    def partitions_of(self, table: str, uid: str) -> list[tuple[int, PartitionPaths]]:
        base = self.table_data(table) / uid
        if not base.is_dir():
            return []
        found = [(int(p.name), PartitionPaths(p)) for p in base.iterdir() if p.name.isdigit()]
        return sorted(found, key=lambda item: item[0])


@dataclass(frozen=True)
class PartitionPaths:
    root: Path

    @property
    def ledger(self) -> Path:
        return self.root / "ledger.bin"

    @property
    def segments(self) -> Path:
        return self.root / "segments"
