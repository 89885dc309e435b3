"""The policy for librdkafka client properties that arrive in a table config (untrusted, over HTTP).

A table's `stream.kafka.consumer.prop.<name>` and raw `security.*`, `sasl.*`, `ssl.*` keys are handed to
librdkafka inside the server. They may configure a Kafka client; they may not command the host. So:

* refused outright, whatever the value: properties that load code or run a command
  (`plugin.library.paths`, `ssl.engine.location`, `ssl.engine.id`, `ssl.providers`,
  `sasl.kerberos.kinit.cmd`), that write files (`offset.store.path`), and keys the Python binding
  takes as application objects (callbacks, `logger`, `opaque`...);
* refused for some values: `offset.store.method=file` (writes offset files),
  `sasl.oauthbearer.metadata.authentication.type` other than `none` (the server's own Azure/AWS
  identity would authenticate the table's client);
* file paths (`ssl.ca.location`, `ssl.key.location`, `sasl.kerberos.keytab`..., and any property whose
  name ends in `.location`, `.file` or `.path`) must resolve (realpath, so symlinks count where they
  point) inside a directory of the server's `[security] allowed_file_dirs`; `probe` is accepted for
  the CA locations (OpenSSL's standard system CA paths);
* `sasl.kerberos.principal` and `sasl.kerberos.keytab` are pasted unquoted/double-quoted into the
  default kinit shell command, so only shell-inert characters are accepted in them;
* no name or value may hold a NUL byte (C strings end there), no name or file path a control character.
Names are matched case-blind and without a leading `topic.`, which librdkafka strips when it sets a
topic-level property (`topic.offset.store.path` is `offset.store.path`).

Source: librdkafka's CONFIGURATION.md as of v2.16.0 (the version confluent-kafka 2.16.1 bundles; its
property table is the same on librdkafka's master of July 2026) and confluent-kafka-python's
`confluent_kafka.c`, which takes the callback keys itself and, for `...metadata.authentication.type=
aws_iam`, imports an AWS credentials handler. `sasl.oauthbearer.token.endpoint.url` needs no rule:
librdkafka restricts its HTTP client to http and https.

What librdkafka itself rejects (an unknown name, a value out of range) is found by `probe_clients`,
which builds the very clients a worker and the coordinator build and closes them at once; its
KafkaException becomes a ConfigError naming the key, with secret values scrubbed from the message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ingestd.errors import ConfigError
from ingestd.redact import is_secret_key, scrub

if TYPE_CHECKING:
    from ingestd.config.table import StreamConfig
    from ingestd.stream.spi import ConsumerFactory

_CODE = "it makes librdkafka load a shared library (code) into the server"
REFUSED: dict[str, str] = {
    "plugin.library.paths": _CODE,
    "ssl.engine.location": _CODE,
    "ssl.engine.id": "it selects an OpenSSL engine, which OpenSSL loads as a shared library (code)",
    "ssl.providers": "it makes OpenSSL load provider modules (code) into the server",
    "sasl.kerberos.kinit.cmd": "it is a shell command the server would run",
    "offset.store.path": "it makes librdkafka write offset files on the server",
    "sasl.jaas.config": "it is Java's JAAS login configuration, which librdkafka does not read: set "
                        "sasl.mechanism, sasl.username and sasl.password instead",
}
# Keys confluent-kafka's Python binding or librdkafka's C API take as application objects (callables,
# pointers), never as text from a config.
APPLICATION_OBJECTS = frozenset({
    "logger", "opaque", "on_commit", "on_delivery", "default.topic.config", "default_topic_conf",
    "interceptors", "ssl_key", "ssl_certificate", "ssl_ca", "ssl_engine_callback_data",
})
FILE_PATHS = frozenset({
    "ssl.key.location", "ssl.certificate.location", "ssl.ca.location", "ssl.crl.location",
    "ssl.keystore.location", "https.ca.location", "sasl.kerberos.keytab",
    "sasl.oauthbearer.assertion.private.key.file", "sasl.oauthbearer.assertion.file",
    "sasl.oauthbearer.assertion.jwt.template.file",
})
_FILE_PATH_SUFFIXES = (".location", ".file", ".path", ".keytab")
_PROBE_ALLOWED = frozenset({"ssl.ca.location", "https.ca.location"})
_SHELL_PASTED = frozenset({"sasl.kerberos.principal", "sasl.kerberos.keytab"})
_SHELL_INERT = re.compile(r"[A-Za-z0-9._/@+=,:-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_client_properties(properties: Mapping[str, str], key_paths: Mapping[str, str],
                            allowed_dirs: Sequence[Path]) -> None:
    """Raise ConfigError naming the full key path of the first property the policy refuses."""
    for name, value in properties.items():
        problem = property_problem(name, value, allowed_dirs)
        if problem is not None:
            raise ConfigError(key_paths.get(name, name), problem)


def property_problem(name: str, value: str, allowed_dirs: Sequence[Path]) -> str | None:
    """Why the policy refuses `name = value`, or None when it is acceptable."""
    lowered = name.lower().removeprefix("topic.")  # librdkafka strips it from a topic-level property
    if _CONTROL.search(name):
        return "is refused: a property name cannot hold control characters"
    if "\x00" in value:
        return "is refused: its value holds a NUL byte, where librdkafka would cut it short"
    if lowered in REFUSED:
        return f"is refused: {REFUSED[lowered]}"
    if lowered in APPLICATION_OBJECTS or lowered.endswith("_cb"):
        return "is refused: it is an application callback or object, which a table config cannot set"
    if lowered == "offset.store.method" and value.strip().lower() == "file":
        return "is refused: 'file' makes librdkafka write offset files on the server"
    if lowered == "sasl.oauthbearer.metadata.authentication.type" and value.strip().lower() != "none":
        return ("is refused: it would authenticate with the server's own cloud identity; give the "
                "table's own credentials (sasl.oauthbearer.client.id and client.secret)")
    if lowered in _SHELL_PASTED and not _SHELL_INERT.fullmatch(value):
        return (f"is refused: {value!r} would be pasted into librdkafka's kinit shell command; use only "
                "letters, digits and . _ / @ + = , : -")
    if lowered in FILE_PATHS or lowered.endswith(_FILE_PATH_SUFFIXES):
        return _file_path_problem(lowered, value, allowed_dirs)
    return None


def _file_path_problem(name: str, value: str, allowed_dirs: Sequence[Path]) -> str | None:
    if name in _PROBE_ALLOWED and value == "probe":
        return None
    if not value or _CONTROL.search(value):
        return f"is refused: {value!r} is not a usable file path"
    real = Path(os.path.realpath(value))
    if any(real.is_relative_to(os.path.realpath(directory)) for directory in allowed_dirs):
        return None
    allowed = ", ".join(str(d) for d in allowed_dirs) or "none"
    return (f"is refused: {value!r} (resolving to {str(real)!r}) is not inside a directory the server "
            f"allows librdkafka to read (allowed now: {allowed}); to allow it, add its directory to "
            "allowed_file_dirs in the [security] section of the server's config file and restart")


def probe_clients(factory: ConsumerFactory, stream: StreamConfig) -> None:
    """Build the stream's clients exactly as a worker (partition consumer) and the coordinator
    (metadata provider) will, and close them at once: what librdkafka rejects is a ConfigError now,
    not a dead coordinator thread later. Milliseconds; no broker needs to answer."""
    from confluent_kafka import KafkaException

    from ingestd.stream.spi import StartPosition

    try:
        factory.partition_consumer(0, StartPosition(None, stream.offset_reset)).close()
        factory.metadata_provider().close()
    except (KafkaException, TypeError, ValueError) as exc:
        raise librdkafka_rejection(exc, stream) from None


def librdkafka_rejection(exc: Exception, stream: StreamConfig) -> ConfigError:
    """librdkafka's complaint as a ConfigError on the key it names (else on the stream configs)."""
    error = exc.args[0] if exc.args else exc
    message = error.str() if hasattr(error, "str") else str(error)
    message = scrub(" ".join(message.split()), _secrets(stream))
    named = _named_property(message, stream)
    if named is not None:
        return ConfigError(stream.property_paths[named], f"is rejected by librdkafka: {message}")
    return ConfigError(stream.configs_path, f"hold client properties librdkafka rejects: {message}")


def _named_property(message: str, stream: StreamConfig) -> str | None:
    """The table's property the message is about: one it quotes by name, else names, else whose
    (non-secret) value it quotes ("Unsupported SASL mechanism: NOPE")."""
    def mentions(text: str) -> bool:
        return re.search(rf"(?<![\w.]){re.escape(text)}(?![\w.])", message) is not None

    quoted = [name for name in re.findall(r'"([^"]+)"', message) if name in stream.property_paths]
    if quoted:
        return quoted[0]
    by_length = sorted(stream.property_paths, key=len, reverse=True)
    named = next((name for name in by_length if mentions(name)), None)
    if named is not None:
        return named
    values = sorted(((value, name) for name, value in stream.client_properties.items()
                     if len(value) >= 3 and not is_secret_key(name)), reverse=True)
    return next((name for value, name in values if mentions(value)), None)


def _secrets(stream: StreamConfig) -> list[str]:
    return [value for name, value in stream.client_properties.items() if is_secret_key(name)]
