"""Pinot schema and table configs parsed into typed, validated, frozen models."""

from ingestd.config.schema import DataType, FieldRole, FieldSpec, Schema, parse_schema
from ingestd.config.table import (
    LoadMode,
    OffsetReset,
    StreamConfig,
    TableConfig,
    parse_table_config,
)

__all__ = [
    "DataType",
    "FieldRole",
    "FieldSpec",
    "LoadMode",
    "OffsetReset",
    "Schema",
    "StreamConfig",
    "TableConfig",
    "parse_schema",
    "parse_table_config",
]
