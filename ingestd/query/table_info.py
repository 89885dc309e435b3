"""What the query planner knows of a table: its name, its Pinot schema and time column, and the Arrow
schema its segments store (plain data, built by the coordinator from the catalog)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from ingestd.config.schema import DataType, FieldSpec, Schema

# Pinot's virtual columns: which segment a row is in, its position there, and the server that holds it.
VIRTUAL_COLUMNS: dict[str, pa.DataType] = {"$segmentName": pa.string(), "$docId": pa.int32(),
                                           "$hostName": pa.string()}


@dataclass(frozen=True)
class TableInfo:
    name: str
    arrow_schema: pa.Schema
    schema: Schema
    time_column: str

    @property
    def columns(self) -> list[str]:
        return list(self.arrow_schema.names)

    def field(self, column: str) -> FieldSpec | None:
        """The field spec of `column`, matched case-insensitively (Pinot's default)."""
        wanted = column.lower()
        return next((f for f in self.schema.fields if f.name.lower() == wanted), None)

    def with_virtual(self, names: tuple[str, ...]) -> pa.Schema:
        """The Arrow schema plus the virtual columns `names`, as workers present them to a query."""
        return pa.schema([*self.arrow_schema, *(pa.field(n, VIRTUAL_COLUMNS[n]) for n in names)])

    def is_json(self, column: str) -> bool:
        spec = self.field(column)
        return spec is not None and spec.data_type is DataType.JSON

    def is_numeric(self, column: str) -> bool:
        spec = self.field(column)
        return spec is not None and spec.single_value and spec.data_type in (
            DataType.INT, DataType.LONG, DataType.FLOAT, DataType.DOUBLE, DataType.BIG_DECIMAL)

    def is_multi_value(self, column: str) -> bool:
        spec = self.field(column)
        return spec is not None and not spec.single_value
