"""Typed readers for raw JSON config values that raise ConfigError naming the field's path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingestd.errors import ConfigError


def require_mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(path, f"must be a JSON object, got {type(value).__name__}")
    return value


def optional_mapping(parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    value = parent.get(key)
    return {} if value is None else require_mapping(value, join(path, key))


def require_str(parent: Mapping[str, Any], key: str, path: str) -> str:
    if key not in parent or parent[key] is None:
        raise ConfigError(join(path, key), "is missing")
    value = parent[key]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(join(path, key), f"must be a non-empty string, got {value!r}")
    return value.strip()


def optional_str(parent: Mapping[str, Any], key: str, path: str) -> str | None:
    if parent.get(key) is None:
        return None
    return require_str(parent, key, path)


def optional_list(parent: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(join(path, key), f"must be a JSON array, got {type(value).__name__}")
    return value


def optional_bool(parent: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    value = parent.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ConfigError(join(path, key), f"must be true or false, got {value!r}")


def parse_int(value: Any, path: str, minimum: int = 0) -> int:
    """Pinot stream configs hold numbers as strings ("50000"); accept both forms."""
    if isinstance(value, bool):
        raise ConfigError(path, f"must be an integer, got {value!r}")
    try:
        number = int(value) if not isinstance(value, float) or value.is_integer() else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        raise ConfigError(path, f"must be an integer, got {value!r}")
    if number < minimum:
        raise ConfigError(path, f"must be >= {minimum}, got {number}")
    return number


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


MAX_NAME_BYTES = 255  # a column name (UTF-8)
# Table and schema names become file names: `<schema>.json`, and a segment file
# `.sealing-<table>__<partition>__<sequence>__<yyyyMMddTHHmmZ>.arrow` must fit the usual 255-byte limit.
MAX_IDENTIFIER_BYTES = 150


def check_name(name: str, path: str, max_bytes: int = MAX_NAME_BYTES) -> None:
    """Any name (table, schema, column): non-empty, printable, at most `max_bytes` bytes of UTF-8."""
    if not name:
        raise ConfigError(path, "must not be empty")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name):
        raise ConfigError(path, f"must not contain NUL or other control characters, got {name!r}")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise ConfigError(path, f"must be valid Unicode, got {name!r}") from None
    if size > max_bytes:
        raise ConfigError(path, f"must be at most {max_bytes} bytes long (UTF-8), got {size} bytes")


def check_identifier(name: str, path: str) -> None:
    """Names become file and segment names (`table__partition__seq__time`): keep them safe."""
    check_name(name, path, MAX_IDENTIFIER_BYTES)
    if "__" in name or "/" in name or name.startswith("."):
        raise ConfigError(path, f"must not contain '__' or '/' or start with '.', got {name!r}")
