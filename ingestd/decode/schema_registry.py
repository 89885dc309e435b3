"""Schema registries the Avro decoders fetch writer schemas from, over HTTP, with cached answers.

* Confluent Schema Registry (`GET /schemas/ids/{id}`), with the client settings Pinot passes to
  Confluent's client from the decoder properties: `basic.auth.credentials.source` USER_INFO (with
  `basic.auth.user.info`, or the older `schema.registry.basic.auth.user.info`) or URL (user info in the
  URL), `bearer.auth.credentials.source` STATIC_TOKEN with `bearer.auth.token`, and PEM files for TLS
  (`schema.registry.ssl.truststore.location`, `schema.registry.ssl.keystore.location`).
* The registry of Pinot's KafkaAvroMessageDecoder: `GET /id=<md5 hex>` and `GET /latest_with_type=<name>`
  answer the schema text itself.

A schema that the registry says does not exist is "not found" (the messages naming it are malformed;
asked again after a minute); a registry that cannot be reached raises RegistryUnavailable, so the batch
is retried after the ingestor's back-off instead of its messages being dropped.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any

import httpx

from ingestd.errors import ConfigError, NotSupportedYet

RETRY_NOT_FOUND_S = 60.0
_ACCEPT = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json"


class RegistryUnavailable(RuntimeError):
    """The registry did not answer (connection, timeout, 5xx): transient, the batch is retried."""


class RegistryClient:
    """GETs against one registry (a comma-separated list of URLs: the next one is tried on failure)."""

    def __init__(self, urls: str, properties: Mapping[str, str], key_path: str, timeout_s: float = 15.0,
                 confluent_auth: bool = False) -> None:
        self._urls = [u.strip().rstrip("/") for u in urls.split(",") if u.strip()]
        if not self._urls:
            raise ConfigError(key_path, "must name the schema registry's URL")
        headers = {"Accept": _ACCEPT}
        auth: httpx.BasicAuth | None = None
        if confluent_auth:
            auth, bearer = _confluent_credentials(properties)
            if bearer:
                headers["Authorization"] = f"Bearer {bearer}"
        self._client = httpx.Client(timeout=timeout_s, headers=headers, auth=auth,
                                    verify=_pem_file(properties, "truststore") or True,
                                    cert=_pem_file(properties, "keystore"))
        self._not_found: dict[str, float] = {}

    def get(self, path: str) -> httpx.Response | None:
        """The answer to GET `path`; None if the registry says it does not exist (404)."""
        asked = self._not_found.get(path)
        if asked is not None and time.monotonic() - asked < RETRY_NOT_FOUND_S:
            return None
        failures = []
        start = random.randrange(len(self._urls))
        for url in self._urls[start:] + self._urls[:start]:
            try:
                answer = self._client.get(url + path)
            except httpx.HTTPError as exc:
                failures.append(f"{url}: {type(exc).__name__}: {exc}")
                continue
            if answer.status_code == 404:
                self._not_found[path] = time.monotonic()
                return None
            if answer.status_code >= 400:
                failures.append(f"{url}: HTTP {answer.status_code}: {answer.text[:200]}")
                continue
            self._not_found.pop(path, None)
            return answer
        raise RegistryUnavailable(f"schema registry GET {path} failed: {'; '.join(failures)}")

    def close(self) -> None:
        self._client.close()


def confluent_schema_text(answer: httpx.Response) -> str:
    """The Avro schema text of a Confluent `GET /schemas/ids/{id}` answer."""
    try:
        document: Any = answer.json()
    except ValueError:
        raise ValueError("the registry answered no JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("schema"), str):
        raise ValueError("the registry's answer has no schema")
    kind = document.get("schemaType", "AVRO")
    if kind != "AVRO":
        raise ValueError(f"the schema is {kind}, not AVRO")
    if document.get("references"):
        raise ValueError("schemas with references are not supported yet")
    return document["schema"]


def _confluent_credentials(properties: Mapping[str, str]) -> tuple[httpx.BasicAuth | None, str]:
    source = properties.get("basic.auth.credentials.source", "").strip().upper()
    bearer_source = properties.get("bearer.auth.credentials.source", "").strip().upper()
    auth = None
    if source == "USER_INFO":
        info = (properties.get("schema.registry.basic.auth.user.info")
                or properties.get("basic.auth.user.info") or "")
        if ":" not in info:
            raise ConfigError("decoder.prop.basic.auth.user.info",
                              "must be user:password when basic.auth.credentials.source is USER_INFO")
        user, _, password = info.partition(":")
        auth = httpx.BasicAuth(user, password)
    elif source in ("URL", ""):
        pass  # httpx sends the user info of a URL like http://user:password@host as Basic auth
    elif source == "SASL_INHERIT":
        raise NotSupportedYet("decoder.prop.basic.auth.credentials.source", "SASL_INHERIT")
    else:
        raise ConfigError("decoder.prop.basic.auth.credentials.source",
                          f"must be USER_INFO, URL or SASL_INHERIT, got {source!r}")
    bearer = ""
    if bearer_source == "STATIC_TOKEN":
        bearer = properties.get("bearer.auth.token", "")
        if not bearer:
            raise ConfigError("decoder.prop.bearer.auth.token",
                              "is needed when bearer.auth.credentials.source is STATIC_TOKEN")
    elif bearer_source:
        raise NotSupportedYet("decoder.prop.bearer.auth.credentials.source", bearer_source)
    if auth is not None and bearer:
        raise ConfigError("decoder.prop.bearer.auth.credentials.source",
                          "cannot be set together with basic.auth.credentials.source")
    return auth, bearer


def _pem_file(properties: Mapping[str, str], store: str) -> str | None:
    """The PEM file of `schema.registry.ssl.<store>.location`, if set (only PEM stores are read here)."""
    location = properties.get(f"schema.registry.ssl.{store}.location")
    if not location:
        return None
    kind = properties.get(f"schema.registry.ssl.{store}.type", "PEM").upper()
    if kind != "PEM":
        raise NotSupportedYet(f"decoder.prop.schema.registry.ssl.{store}.type", f"{kind} stores (use PEM)")
    return location
