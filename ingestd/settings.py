"""The server's TOML config file (`ingestd start --config FILE`) as a frozen dataclass."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestd.errors import ConfigError

_SECTIONS: dict[str, set[str]] = {
    "": {"data_dir", "http", "workers", "log"},
    "http": {"host", "port"},
    "workers": {"count"},
    "log": {"level"},
}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    http_host: str = "127.0.0.1"
    http_port: int = 9000
    worker_count: int = os.cpu_count() or 1
    log_level: str = "INFO"


def load_settings(path: str | Path) -> Settings:
    try:
        with open(path, "rb") as handle:
            doc = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(str(path), f"cannot be read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"is not valid TOML: {exc}") from exc
    return parse_settings(doc, base_dir=Path(path).resolve().parent)


def parse_settings(doc: dict[str, Any], base_dir: Path) -> Settings:
    _reject_unknown_keys(doc)
    data_dir = doc.get("data_dir")
    if not isinstance(data_dir, str) or not data_dir:
        raise ConfigError("data_dir", "is missing: give a directory for segments and the ledger")
    http = doc.get("http", {})
    workers = doc.get("workers", {})
    log = doc.get("log", {})
    host = http.get("host", Settings.http_host)
    if not isinstance(host, str) or not host:
        raise ConfigError("http.host", f"must be a host name or address, got {host!r}")
    return Settings(
        data_dir=(base_dir / data_dir).resolve(),
        http_host=host,
        http_port=_int(http, "port", "http.port", Settings.http_port, 0, 65535),
        worker_count=_int(workers, "count", "workers.count", Settings.worker_count, 1, 256),
        log_level=str(log.get("level", "INFO")).upper(),
    )


def _int(section: dict[str, Any], key: str, path: str, default: int, low: int, high: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(path, f"must be an integer from {low} to {high}, got {value!r}")
    return value


def _reject_unknown_keys(doc: dict[str, Any]) -> None:
    for section, allowed in _SECTIONS.items():
        table = doc if not section else doc.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(section, "must be a TOML table")
        for key in table:
            if key not in allowed:
                name = f"{section}.{key}" if section else key
                raise ConfigError(name, f"is not a known setting (known: {', '.join(sorted(allowed))})")
