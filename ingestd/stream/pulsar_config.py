"""Pinot's Pulsar stream keys (its PulsarConfig) → PulsarSettings, each mistake a ConfigError naming the key.

Read: `stream.pulsar.topic.name` (`persistent://tenant/namespace/topic`, `tenant/namespace/topic` or a
short name in public/default), `stream.pulsar.bootstrap.servers` (required: the service URL,
`pulsar://host:6650` or `pulsar+ssl://...`, several hosts comma-separated, each with or without the
scheme as Pinot's docs write it), `stream.pulsar.serviceHttpUrl`
(accepted and checked; ingestd needs no admin API), `stream.pulsar.authenticationToken` (a JWT; masked in
every answer). A partition without a checkpoint starts per `stream.pulsar.consumer.prop.auto.offset.reset`
(parsed generically): smallest, largest or a point in time (by the messages' publish time).

Refused with "not supported yet", never ignored: OAuth2 (`issuerUrl`, `credsFilePath`, `audience`) and
`tlsTrustCertsFilePath`, because they point at files on the server and the `[security] allowed_file_dirs`
policy does not cover Pulsar yet; `enableKeyValueStitch=true` and `metadata.populate=true`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ingestd.config.table import StreamConfig
from ingestd.errors import ConfigError, NotSupportedYet

PREFIX = "stream.pulsar."
BOOTSTRAP_KEY = PREFIX + "bootstrap.servers"
HTTP_URL_KEY = PREFIX + "serviceHttpUrl"
TOKEN_KEY = PREFIX + "authenticationToken"
TOPIC_KEY = PREFIX + "topic.name"
_FILE_KEYS = {
    PREFIX + "tlsTrustCertsFilePath": "a TLS trust certificate file",
    PREFIX + "issuerUrl": "OAuth2 authentication",
    PREFIX + "credsFilePath": "OAuth2 authentication",
    PREFIX + "audience": "OAuth2 authentication",
}
_FLAG_KEYS = {PREFIX + "enableKeyValueStitch": "enableKeyValueStitch (key and value in one record)",
              PREFIX + "metadata.populate": "Pulsar message metadata columns"}
CONFIG_KEYS = frozenset(key.removeprefix(PREFIX) for key in (
    BOOTSTRAP_KEY, HTTP_URL_KEY, TOKEN_KEY, *_FILE_KEYS, *_FLAG_KEYS, PREFIX + "metadata.fields"))
_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
_TOPIC_PART = re.compile(r"^[A-Za-z0-9_=:.\-]+$")
DEFAULT_TENANT_NAMESPACE = "public/default"


@dataclass(frozen=True)
class PulsarSettings:
    service_url: str
    topic: str  # the full name: persistent://tenant/namespace/topic
    token: str | None = None
    service_http_url: str | None = None


def parse_pulsar_settings(config: StreamConfig) -> PulsarSettings:
    props = config.properties
    for key, what in _FILE_KEYS.items():
        if props.get(key, "").strip():
            raise NotSupportedYet(config.key_path(key), f"{what} for Pulsar (it reads files on the "
                                  "server, which the [security] allowed_file_dirs policy does not cover for "
                                  "Pulsar yet)")
    for key, what in _FLAG_KEYS.items():
        value = props.get(key, "false").strip().lower()
        if value not in ("true", "false"):
            raise ConfigError(config.key_path(key), f"must be true or false, got {props[key]!r}")
        if value == "true":
            raise NotSupportedYet(config.key_path(key), what)
    service_url = props.get(BOOTSTRAP_KEY, "").strip()
    if not service_url:
        raise ConfigError(config.key_path(BOOTSTRAP_KEY), "is missing: the Pulsar service URL, e.g. "
                          "pulsar://localhost:6650")
    service_url = _service_url(service_url, config.key_path(BOOTSTRAP_KEY))
    http_url = props.get(HTTP_URL_KEY, "").strip() or None
    if http_url is not None:
        parts = urlsplit(http_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(config.key_path(HTTP_URL_KEY), f"must be an http:// or https:// URL, got "
                              f"{http_url!r}")
    token = props.get(TOKEN_KEY, "").strip() or None
    if token is not None and (any(c.isspace() for c in token) or not token.isprintable()):
        raise ConfigError(config.key_path(TOKEN_KEY), "must be a token without spaces or control characters")
    return PulsarSettings(service_url, full_topic_name(config.topic, config.key_path(TOPIC_KEY)), token,
                          http_url)


def full_topic_name(topic: str, path: str) -> str:
    """`persistent://tenant/namespace/topic` from any of Pulsar's three spellings."""
    text = topic.strip()
    domain, separator, rest = text.partition("://")
    if not separator:
        domain, rest = "persistent", text
    if domain == "non-persistent":
        raise ConfigError(path, f"names non-persistent topic {topic!r}: it keeps no messages to resume from, "
                          "so exactly-once ingestion cannot work; use a persistent topic")
    if domain != "persistent":
        raise ConfigError(path, f"must be persistent://tenant/namespace/topic, got {topic!r}")
    parts = rest.split("/")
    if len(parts) == 1:
        parts = [*DEFAULT_TENANT_NAMESPACE.split("/"), parts[0]]
    if len(parts) != 3 or not all(_TOPIC_PART.match(part) for part in parts):
        raise ConfigError(path, f"must be a topic name (topic, tenant/namespace/topic or "
                          f"persistent://tenant/namespace/topic), got {topic!r}")
    if re.search(r"-partition-[0-9]+$", parts[2]):
        raise ConfigError(path, f"names one partition ({topic!r}): name the partitioned topic itself")
    return "persistent://" + "/".join(parts)


def _service_url(url: str, path: str) -> str:
    """The client's service URL: `pulsar://h1:6650,h2:6650`; Pinot's docs also write each host as a URL
    (`pulsar://h1:6650,pulsar://h2:6650`), which is normalized to that."""
    scheme, separator, _ = url.partition("://")
    if not separator or scheme not in ("pulsar", "pulsar+ssl"):
        raise ConfigError(path, f"must be a pulsar:// or pulsar+ssl:// service URL, got {url!r}")
    hosts = []
    for part in url.split(","):
        part = part.strip().rstrip("/")
        if "://" in part:
            part_scheme, _, part = part.partition("://")
            if part_scheme != scheme:
                raise ConfigError(path, f"mixes {scheme}:// and {part_scheme}:// URLs: {url!r}")
        if not _HOST_PORT.match(part):
            raise ConfigError(path, f"must list host:port pairs after {scheme}://, got {url!r}")
        hosts.append(part)
    return f"{scheme}://{','.join(hosts)}"
