"""The stream check at table creation: a table is only accepted when its brokers answer and its topic
exists, as Pinot checks a new REALTIME table's stream before it stores the config.

Without it, a misspelt topic or broker list was accepted and the table waited (WAITING_FOR_STREAM)
for a stream that would never come. The answer is a 400 naming the key to fix, within the metadata
provider's timeout (a few seconds). Looking never creates a topic: the Kafka provider's metadata requests
disallow auto-creation, which brokers with `auto.create.topics.enable` would otherwise do for a named topic.
"""

from __future__ import annotations

from ingestd.config.table import StreamConfig
from ingestd.errors import ConfigError, StreamError
from ingestd.redact import scrub
from ingestd.stream.partition_subset import MissingPartitions
from ingestd.stream.spi import ConsumerFactory


class _KeyedStreamError(StreamError):
    """`key`: the stream config key a plugin names as the one to fix (`topic.name` after
    `stream.<type>.`, or Kinesis' top-level `endpoint`), with its own message; None: Kafka's keys."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class TopicNotFound(_KeyedStreamError):
    """The brokers answered, and they do not have the topic."""


class StreamUnreachable(_KeyedStreamError):
    """The brokers did not answer a metadata request in time (down, wrong address, firewalled)."""


def check_stream(factory: ConsumerFactory, config: StreamConfig, secrets: list[str] | None = None) -> None:
    """Raise ConfigError naming the topic or the broker list when the stream cannot serve the table.

    `secrets`: values to keep out of the message (a client library may quote a property)."""
    key = f"{config.configs_path}.stream.{config.stream_type}."
    try:
        provider = factory.metadata_provider()
        try:
            provider.partition_ids()
        finally:
            provider.close()
    except TopicNotFound as exc:
        if exc.key is not None:  # the plugin's own words, naming its stream
            raise ConfigError(_key_path(config, exc.key), f"{exc} (create it first: ingestd never creates "
                              "streams)") from None
        raise ConfigError(key + "topic.name", f"names topic {config.topic!r}, which does not exist on "
                          f"{config.bootstrap_servers} (create it first: ingestd never creates topics)"
                          ) from None
    except MissingPartitions as exc:
        raise ConfigError(key + "partition.ids", str(exc)) from None
    except StreamUnreachable as exc:
        if exc.key is not None:
            raise ConfigError(_key_path(config, exc.key), scrub(str(exc), secrets or [])) from None
        raise ConfigError(key + "broker.list", scrub(
            f"{config.bootstrap_servers!r} cannot be reached: {exc}", secrets or [])) from None
    except StreamError as exc:
        raise ConfigError(key + "topic.name", scrub(
            f"names topic {config.topic!r}, which cannot be read: {exc}", secrets or [])) from None


def _key_path(config: StreamConfig, key: str) -> str:
    """The full path of a key a plugin named: dotted (`topic.name`) after `stream.<type>.`, else as is."""
    return config.key_path(f"stream.{config.stream_type}.{key}" if "." in key else key)
