"""Names (tables, schemas, columns) that would break files, segment names or lookups are 400s."""

from __future__ import annotations

from typing import Any

import pytest

from ingestd.config import parse_schema, parse_table_config
from ingestd.config.fields import MAX_IDENTIFIER_BYTES, MAX_NAME_BYTES
from ingestd.devtools.seed import seed_configs
from ingestd.errors import ConfigError

BAD_NAMES = [
    ("a\x00b", "NUL or other control characters"),
    ("a\nb", "NUL or other control characters"),
    ("a\x1bb", "NUL or other control characters"),
    ("a\x85b", "NUL or other control characters"),
    ("é" * 200, "at most"),
    ("_REALTIME", "must not be empty"),
    ("x_REALTIME_REALTIME", "must not end in _REALTIME"),
    ("x_OFFLINE", "must not end in _REALTIME or _OFFLINE"),
]


def error_of(function: Any, document: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        function(document)
    return caught.value


@pytest.mark.parametrize(("name", "problem"), BAD_NAMES)
def test_bad_table_names_are_refused_naming_the_field(name: str, problem: str) -> None:
    _, table = seed_configs("t")
    table["tableName"] = name
    error = error_of(parse_table_config, table)
    assert error.path == "tableName" and problem in str(error)


@pytest.mark.parametrize(("name", "problem"), BAD_NAMES[:5])
def test_bad_schema_and_column_names_are_refused_naming_the_field(name: str, problem: str) -> None:
    schema, _ = seed_configs("t")
    schema["schemaName"] = name
    error = error_of(parse_schema, schema)
    assert error.path == "schemaName" and problem in str(error)
    schema, _ = seed_configs("t")
    schema["dimensionFieldSpecs"][0]["name"] = name
    error = error_of(parse_schema, schema)
    assert error.path == "dimensionFieldSpecs[0].name" and problem in str(error)


def test_length_limits_are_bytes_of_utf8() -> None:
    schema, table = seed_configs("t")
    table["tableName"] = "t" * MAX_IDENTIFIER_BYTES
    table["segmentsConfig"]["schemaName"] = "t"
    parse_table_config(table)
    table["tableName"] = "t" * (MAX_IDENTIFIER_BYTES + 1)
    assert "at most 150 bytes" in str(error_of(parse_table_config, table))
    schema["dimensionFieldSpecs"][0]["name"] = "c" * MAX_NAME_BYTES
    parse_schema(schema)
    schema["dimensionFieldSpecs"][0]["name"] = "c" * (MAX_NAME_BYTES - 1) + "é"
    assert "got 256 bytes" in str(error_of(parse_schema, schema))


def test_the_table_config_checks_the_names_it_refers_to() -> None:
    _, table = seed_configs("t")
    table["segmentsConfig"]["schemaName"] = "s\x00"
    assert error_of(parse_table_config, table).path == "segmentsConfig.schemaName"
    _, table = seed_configs("t")
    table["segmentsConfig"]["timeColumnName"] = "time\x00"
    assert error_of(parse_table_config, table).path == "segmentsConfig.timeColumnName"
    _, table = seed_configs("t")
    table["tableIndexConfig"]["noDictionaryColumns"] = ["ok", "x" * 300]
    assert error_of(parse_table_config, table).path == "tableIndexConfig.noDictionaryColumns[1]"
