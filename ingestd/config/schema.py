"""A Pinot schema (dimension, metric and dateTime field specs) parsed into a typed model."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ingestd.config.fields import (
    check_identifier,
    check_name,
    join,
    optional_bool,
    optional_list,
    require_mapping,
    require_str,
)
from ingestd.config.units import TIME_UNIT_MS
from ingestd.errors import ConfigError, NotSupportedYet


class DataType(enum.Enum):
    INT = "INT"
    LONG = "LONG"
    FLOAT = "FLOAT"
    DOUBLE = "DOUBLE"
    BIG_DECIMAL = "BIG_DECIMAL"
    BOOLEAN = "BOOLEAN"
    TIMESTAMP = "TIMESTAMP"
    STRING = "STRING"
    JSON = "JSON"
    BYTES = "BYTES"


class FieldRole(enum.Enum):
    DIMENSION = "dimension"
    METRIC = "metric"
    DATE_TIME = "dateTime"


_METRIC_TYPES = {
    DataType.INT, DataType.LONG, DataType.FLOAT, DataType.DOUBLE, DataType.BIG_DECIMAL,
    DataType.BYTES,
}

# Pinot's default null values (FieldSpec.DEFAULT_*_NULL_VALUE_OF_*): used when a field is absent or null.
_DIMENSION_DEFAULTS: dict[DataType, Any] = {
    DataType.INT: -(2**31),
    DataType.LONG: -(2**63),
    DataType.FLOAT: float("-inf"),
    DataType.DOUBLE: float("-inf"),
    DataType.BIG_DECIMAL: 0,
    DataType.BOOLEAN: False,
    DataType.TIMESTAMP: 0,
    DataType.STRING: "null",
    DataType.JSON: "null",
    DataType.BYTES: b"",
}
_METRIC_DEFAULTS: dict[DataType, Any] = {t: 0 for t in DataType} | {DataType.BYTES: b""}

_SECTIONS = (
    ("dimensionFieldSpecs", FieldRole.DIMENSION),
    ("metricFieldSpecs", FieldRole.METRIC),
    ("dateTimeFieldSpecs", FieldRole.DATE_TIME),
)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    data_type: DataType
    role: FieldRole
    single_value: bool = True
    default_null_value: Any = None
    format: str | None = None
    granularity: str | None = None

    def epoch_ms_factor(self) -> int | None:
        """Milliseconds per unit of this time field's values (EPOCH formats and TIMESTAMP), else None."""
        if self.data_type is DataType.TIMESTAMP:
            return 1
        parts = (self.format or "").replace("|", ":").split(":")
        if "EPOCH" not in [p.upper() for p in parts]:
            return None
        size = next((int(p) for p in parts if p.isdigit()), 1)
        unit = next((p.upper() for p in parts if p.upper() in TIME_UNIT_MS), None)
        return size * TIME_UNIT_MS[unit] if unit else None

    @property
    def null_value(self) -> Any:
        """The value stored when a message lacks this field or holds null."""
        if self.default_null_value is not None:
            return self.default_null_value
        defaults = _METRIC_DEFAULTS if self.role is FieldRole.METRIC else _DIMENSION_DEFAULTS
        return defaults[self.data_type]


@dataclass(frozen=True)
class Schema:
    name: str
    fields: tuple[FieldSpec, ...]
    raw: Mapping[str, Any]

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def column_names(self) -> list[str]:
        return [f.name for f in self.fields]


def parse_schema(raw: Any) -> Schema:
    """Validate a Pinot schema JSON document; raise ConfigError naming the bad field."""
    doc = require_mapping(raw, "schema")
    name = require_str(doc, "schemaName", "")
    check_identifier(name, "schemaName")
    if doc.get("timeFieldSpec") is not None:
        raise NotSupportedYet("timeFieldSpec", "the legacy timeFieldSpec (use dateTimeFieldSpecs)")
    fields: list[FieldSpec] = []
    seen: dict[str, str] = {}
    for section, role in _SECTIONS:
        for index, item in enumerate(optional_list(doc, section, "")):
            path = join(section, index)
            spec = _parse_field(require_mapping(item, path), path, role)
            if spec.name in seen:
                raise ConfigError(join(path, "name"), f"duplicates the field at {seen[spec.name]}")
            seen[spec.name] = path
            fields.append(spec)
    if not fields:
        raise ConfigError("dimensionFieldSpecs", "is missing: a schema needs at least one field")
    return Schema(name=name, fields=tuple(fields), raw=dict(doc))


def _parse_field(item: Mapping[str, Any], path: str, role: FieldRole) -> FieldSpec:
    name = require_str(item, "name", path)
    check_name(name, join(path, "name"))
    type_name = require_str(item, "dataType", path).upper()
    try:
        data_type = DataType(type_name)
    except ValueError:
        allowed = ", ".join(t.value for t in DataType)
        raise ConfigError(join(path, "dataType"), f"must be one of {allowed}, got {type_name!r}") from None
    single_value = optional_bool(item, "singleValueField", path, default=True)
    if role is FieldRole.METRIC and data_type not in _METRIC_TYPES:
        raise ConfigError(join(path, "dataType"), f"{type_name} is not a metric type (numeric or BYTES)")
    if role is not FieldRole.DIMENSION and not single_value:
        raise ConfigError(join(path, "singleValueField"), "must be true: only dimensions are multi-valued")
    fmt = granularity = None
    if role is FieldRole.DATE_TIME:
        fmt = require_str(item, "format", path)
        granularity = require_str(item, "granularity", path)
    return FieldSpec(
        name=name,
        data_type=data_type,
        role=role,
        single_value=single_value,
        default_null_value=item.get("defaultNullValue"),
        format=fmt,
        granularity=granularity,
    )
