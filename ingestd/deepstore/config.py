"""The server's `[deep_store]` and `[cluster]` settings: where the Delta tables live, how to reach the store,
how long local copies of committed segments stay, and which peer servers share the topics.

    [deep_store]
    uri = "s3://bucket/prefix"        # or "file:///path"; table `t` lives at <uri>/t
    endpoint = "http://127.0.0.1:9000" # an S3-compatible endpoint (MinIO, moto); default: AWS
    region = "us-east-1"
    allow_http = false                 # plain-HTTP endpoints (tests, a local MinIO)
    local_retention = "1h"             # drop a local segment file this long after it is in the store
    orphan_age = "1h"                  # files no commit references are swept once this old
    [cluster]
    peers = ["http://host-b:9000"]     # other servers on the same topics (group mode)

Credentials come from the environment as AWS tools read them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, AWS_PROFILE...): never from this file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ingestd.config.units import parse_duration_ms
from ingestd.errors import ConfigError

DEEP_STORE_KEYS = {"uri", "endpoint", "region", "allow_http", "local_retention", "orphan_age"}
CLUSTER_KEYS = {"peers"}
DEFAULT_ORPHAN_AGE_MS = 3_600_000


@dataclass(frozen=True)
class DeepStoreSettings:
    uri: str  # file:///path or s3://bucket/prefix, without a trailing slash
    storage_options: Mapping[str, str] = field(default_factory=dict)  # for deltalake (delta-rs)
    local_retention_ms: int | None = None  # None: keep local files
    orphan_age_ms: int = DEFAULT_ORPHAN_AGE_MS

    def table_uri(self, table: str) -> str:
        return f"{self.uri}/{table}"


def parse_deep_store(section: Any, base_dir: Path) -> DeepStoreSettings | None:
    if section is None:
        return None
    if not isinstance(section, dict):
        raise ConfigError("deep_store", "must be a TOML table")
    uri = section.get("uri")
    if not isinstance(uri, str) or not uri:
        raise ConfigError("deep_store.uri", 'is missing: give "s3://bucket/prefix" or "file:///path"')
    parsed = urlparse(uri)
    if parsed.scheme == "file" or not parsed.scheme:
        path = Path(parsed.path if parsed.scheme else uri)
        uri = f"file://{(base_dir / path).resolve()}"
    elif parsed.scheme not in ("s3", "s3a"):
        raise ConfigError("deep_store.uri", f"must be an s3:// or file:// URI, got {uri!r}")
    elif not parsed.netloc:
        raise ConfigError("deep_store.uri", f"names no bucket: {uri!r}")
    options: dict[str, str] = {}
    for key, option in (("endpoint", "AWS_ENDPOINT_URL"), ("region", "AWS_REGION")):
        value = section.get(key)
        if value is not None:
            if not isinstance(value, str) or not value:
                raise ConfigError(f"deep_store.{key}", f"must be a non-empty string, got {value!r}")
            options[option] = value
    allow_http = section.get("allow_http", False)
    if not isinstance(allow_http, bool):
        raise ConfigError("deep_store.allow_http", f"must be true or false, got {allow_http!r}")
    if allow_http:
        options["AWS_ALLOW_HTTP"] = "true"
    return DeepStoreSettings(
        uri=uri.rstrip("/"),
        storage_options=options,
        local_retention_ms=_duration(section, "local_retention"),
        orphan_age_ms=_duration(section, "orphan_age") or DEFAULT_ORPHAN_AGE_MS,
    )


def parse_peers(section: Any) -> tuple[str, ...]:
    if section is None:
        return ()
    if not isinstance(section, dict):
        raise ConfigError("cluster", "must be a TOML table")
    peers = section.get("peers", [])
    if not isinstance(peers, list):
        raise ConfigError("cluster.peers", f"must be a list of URLs, got {peers!r}")
    for peer in peers:
        parsed = urlparse(peer) if isinstance(peer, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError("cluster.peers", f"entries must be http(s)://host:port URLs, got {peer!r}")
    return tuple(str(p).rstrip("/") for p in peers)


def _duration(section: Mapping[str, Any], key: str) -> int | None:
    value = section.get(key)
    return None if value is None else parse_duration_ms(value, f"deep_store.{key}")
