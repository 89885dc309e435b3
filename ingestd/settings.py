"""The server's TOML config file (`ingestd start --config FILE`) as frozen dataclasses.

Every key is checked: an unknown key, a wrong type or an out-of-range value is a ConfigError naming
the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ingestd.deepstore.config import (
    CLUSTER_KEYS,
    DEEP_STORE_KEYS,
    DeepStoreSettings,
    parse_deep_store,
    parse_peers,
)
from ingestd.errors import ConfigError
from ingestd.logs import LOG_FORMATS

_SECTIONS: dict[str, set[str]] = {
    "": {"data_dir", "http", "workers", "log", "query", "auth", "security", "deep_store", "cluster"},
    "http": {"host", "port", "max_body_bytes"},
    "workers": {"count", "rediscover_interval_s"},
    "log": {"level", "format"},
    "query": {"timeout_ms", "max_concurrent", "threads_per_worker", "duckdb_threads",
              "duckdb_memory_limit_mb", "max_sql_bytes"},
    "auth": {"users", "tokens"},
    "security": {"allowed_file_dirs"},
    "deep_store": DEEP_STORE_KEYS,
    "cluster": CLUSTER_KEYS,
}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class QuerySettings:
    timeout_ms: int = 10_000  # Pinot's broker default (pinot.broker.timeoutMs)
    max_concurrent: int = 16  # queries running at once; 4 times as many may wait for a slot, more are "busy"
    threads_per_worker: int = 4  # query threads in each worker process (ingestion has its own thread)
    duckdb_threads: int = 0  # DuckDB threads per process; 0: cores shared among the processes
    duckdb_memory_limit_mb: int = 0  # DuckDB memory per process; 0: half the RAM shared among processes
    max_sql_bytes: int = 256 << 10  # a 10,000-literal IN list plans in ~0.3 s, 100,000 in ~3 s

    def duckdb_limits(self, processes: int) -> tuple[int, int]:
        """(threads, memory MiB) for one of `processes` DuckDB-using processes (workers + coordinator)."""
        threads = self.duckdb_threads or max(1, _CORES // processes)
        memory_mb = self.duckdb_memory_limit_mb or max(
            256, psutil.virtual_memory().total // 2 // processes >> 20)
        return threads, memory_mb


@dataclass(frozen=True)
class AuthSettings:
    users: tuple[tuple[str, str], ...] = ()  # HTTP Basic (name, password)
    tokens: tuple[str, ...] = ()  # Bearer tokens

    @property
    def enabled(self) -> bool:
        return bool(self.users or self.tokens)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    http_host: str = "127.0.0.1"
    http_port: int = 9000
    max_body_bytes: int = 4 << 20
    worker_count: int = _CORES
    rediscover_interval_s: int = 30  # how often each table's partition set is asked for (new / vanished ones)
    log_level: str = "INFO"
    log_format: str = "text"  # "text", or "json": one object per line for log shippers
    query: QuerySettings = field(default_factory=QuerySettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    allowed_file_dirs: tuple[Path, ...] = ()  # where librdkafka file-path properties may point
    config_path: Path | None = None  # the file these came from (start-up line, SIGHUP re-check)
    deep_store: DeepStoreSettings | None = None  # [deep_store]: sealed segments also go to a Delta table
    peers: tuple[str, ...] = ()  # [cluster] peers: other servers sharing the topics (group mode)


def load_settings(path: str | Path) -> Settings:
    try:
        with open(path, "rb") as handle:
            doc = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(str(path), f"cannot be read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"is not valid TOML: {exc}") from exc
    settings = parse_settings(doc, base_dir=Path(path).resolve().parent)
    return dataclasses.replace(settings, config_path=Path(path).resolve())


def parse_settings(doc: dict[str, Any], base_dir: Path) -> Settings:
    _reject_unknown_keys(doc)
    data_dir = doc.get("data_dir")
    if not isinstance(data_dir, str) or not data_dir:
        raise ConfigError("data_dir", "is missing: give a directory for segments and the ledger")
    http, workers, query = doc.get("http", {}), doc.get("workers", {}), doc.get("query", {})
    host = http.get("host", Settings.http_host)
    if not isinstance(host, str) or not host:
        raise ConfigError("http.host", f"must be a host name or address, got {host!r}")
    defaults = QuerySettings()
    return Settings(
        data_dir=(base_dir / data_dir).resolve(),
        http_host=host,
        http_port=_int(http, "port", "http.port", Settings.http_port, 0, 65535),
        max_body_bytes=_int(http, "max_body_bytes", "http.max_body_bytes", Settings.max_body_bytes,
                            1024, 1 << 30),
        worker_count=_int(workers, "count", "workers.count", Settings.worker_count, 1, 256),
        rediscover_interval_s=_int(workers, "rediscover_interval_s", "workers.rediscover_interval_s",
                                   Settings.rediscover_interval_s, 1, 86_400),
        log_level=_log_level(doc.get("log", {})),
        log_format=_log_format(doc.get("log", {})),
        query=QuerySettings(
            timeout_ms=_int(query, "timeout_ms", "query.timeout_ms", defaults.timeout_ms, 1, 3_600_000),
            max_concurrent=_int(query, "max_concurrent", "query.max_concurrent", defaults.max_concurrent,
                                1, 1024),
            threads_per_worker=_int(query, "threads_per_worker", "query.threads_per_worker",
                                    defaults.threads_per_worker, 1, 64),
            duckdb_threads=_int(query, "duckdb_threads", "query.duckdb_threads", 0, 0, 1024),
            duckdb_memory_limit_mb=_int(query, "duckdb_memory_limit_mb", "query.duckdb_memory_limit_mb",
                                        0, 0, 1 << 24),
            max_sql_bytes=_int(query, "max_sql_bytes", "query.max_sql_bytes", defaults.max_sql_bytes,
                               64, 1 << 28),
        ),
        auth=_auth(doc.get("auth", {})),
        allowed_file_dirs=tuple(
            (base_dir / entry).resolve()
            for entry in _str_list(doc.get("security", {}), "allowed_file_dirs", "security.allowed_file_dirs")
        ),
        deep_store=parse_deep_store(doc.get("deep_store"), base_dir),
        peers=parse_peers(doc.get("cluster")),
    )


def _log_level(section: dict[str, Any]) -> str:
    level = section.get("level", "INFO")
    if not isinstance(level, str) or level.upper() not in _LOG_LEVELS:
        raise ConfigError("log.level", f"must be one of {', '.join(_LOG_LEVELS)}, got {level!r}")
    return level.upper()


def _log_format(section: dict[str, Any]) -> str:
    log_format = section.get("format", "text")
    if log_format not in LOG_FORMATS:
        raise ConfigError("log.format", f"must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    return str(log_format)


def _auth(section: dict[str, Any]) -> AuthSettings:
    users = section.get("users", {})
    if not isinstance(users, dict):
        raise ConfigError("auth.users", 'must be a TOML table of user = "password"')
    for name, password in users.items():
        if not isinstance(password, str) or not password:
            raise ConfigError(f"auth.users.{name}", "must be a non-empty password string")
        if ":" in name:
            raise ConfigError(f"auth.users.{name}", "must not contain ':' (HTTP Basic separates on it)")
    tokens = _str_list(section, "tokens", "auth.tokens")
    if any(len(token) < 16 for token in tokens):
        raise ConfigError("auth.tokens", "entries must be at least 16 characters long")
    return AuthSettings(tuple(sorted(users.items())), tuple(tokens))


def _str_list(section: dict[str, Any], key: str, path: str) -> list[str]:
    value = section.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(path, f"must be a list of non-empty strings, got {value!r}")
    return value


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


def warn_if_exposed(settings: Settings, log: logging.Logger) -> None:
    """Binding beyond loopback without authentication lets anyone on the network drop tables."""
    host = settings.http_host
    loopback = host in ("::1", "localhost") or host.startswith("127.")
    if not loopback and not settings.auth.enabled:
        log.warning("listening on %s without authentication: anyone who can reach port %d can create "
                    "and drop tables and read all data; set [auth] users or tokens",
                    settings.http_host, settings.http_port)
