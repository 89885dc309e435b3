"""The registry of stream-consumer factories and message decoders, keyed by Pinot class name.

Built-ins register here by name; a Pinot class name from a table config resolves to one of them.
This is the seam for user plugins (Kinesis, Pulsar, Avro...): a later issue adds entry-point discovery
that calls `register_*` with the same kind of target. Targets are "module:attribute" strings so that
resolving a config never imports a plugin's heavy dependencies.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from ingestd.errors import ConfigError, NotSupportedYet


@dataclass(frozen=True)
class PluginRef:
    name: str
    target: str  # "module:attribute"

    def load(self) -> Any:
        module_name, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module_name), attribute)


_KAFKA = PluginRef("kafka", "ingestd.stream.kafka:KafkaConsumerFactory")
_JSON = PluginRef("json", "ingestd.decode.json_decoder:JsonDecoder")
_AVRO = "ingestd.decode.avro_decoders:"
_SIMPLE_AVRO = PluginRef("avro", _AVRO + "SimpleAvroMessageDecoder")
_KAFKA_AVRO = PluginRef("kafka-avro", _AVRO + "KafkaAvroMessageDecoder")
_CONFLUENT_AVRO = PluginRef("confluent-avro", _AVRO + "KafkaConfluentSchemaRegistryAvroMessageDecoder")

_KINESIS = PluginRef("kinesis", "ingestd.stream.kinesis:KinesisConsumerFactory")
_PULSAR = PluginRef("pulsar", "ingestd.stream.pulsar:PulsarConsumerFactory")

_STREAM_FACTORIES: dict[str, PluginRef] = {
    "org.apache.pinot.plugin.stream.kinesis.KinesisConsumerFactory": _KINESIS,
    "kinesis": _KINESIS,
    "org.apache.pinot.plugin.stream.pulsar.PulsarConsumerFactory": _PULSAR,
    "pulsar": _PULSAR,
    "org.apache.pinot.plugin.stream.kafka09.KafkaConsumerFactory": _KAFKA,
    "org.apache.pinot.plugin.stream.kafka20.KafkaConsumerFactory": _KAFKA,
    "org.apache.pinot.plugin.stream.kafka30.KafkaConsumerFactory": _KAFKA,
    "kafka": _KAFKA,
}
_DECODERS: dict[str, PluginRef] = {
    "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder": _JSON,
    "org.apache.pinot.plugin.inputformat.json.JSONMessageDecoder": _JSON,
    "json": _JSON,
    "org.apache.pinot.plugin.inputformat.avro.SimpleAvroMessageDecoder": _SIMPLE_AVRO,
    "org.apache.pinot.plugin.inputformat.avro.KafkaAvroMessageDecoder": _KAFKA_AVRO,
    "org.apache.pinot.plugin.inputformat.avro.confluent.KafkaConfluentSchemaRegistryAvroMessageDecoder":
        _CONFLUENT_AVRO,
}
# Pinot classes whose ingestd plugin is planned but not built: named in a clear "not supported yet".
_PLANNED: dict[str, str] = {}

DEFAULT_STREAM_FACTORY = "kafka"
# `streamType` → the factory used when a table config names none (Pinot's stream types).
_STREAM_TYPES: dict[str, str] = {"kafka": "kafka", "kinesis": "kinesis", "pulsar": "pulsar"}
_PLANNED_TYPES: dict[str, str] = {}


def resolve_stream_type(stream_type: str, path: str) -> str:
    """The default factory name of `stream_type`; ConfigError naming the known types otherwise."""
    if stream_type in _STREAM_TYPES:
        return _STREAM_TYPES[stream_type]
    if stream_type in _PLANNED_TYPES:
        raise NotSupportedYet(path, f"stream type {stream_type!r} ({_PLANNED_TYPES[stream_type]})")
    raise ConfigError(path, f"must be a known stream type ({', '.join(sorted(_STREAM_TYPES))}), "
                            f"got {stream_type!r}")


def register_stream_type(stream_type: str, default_factory: str) -> None:
    _STREAM_TYPES[stream_type] = default_factory
    _PLANNED_TYPES.pop(stream_type, None)


def resolve_stream_factory(class_name: str, path: str) -> PluginRef:
    return _resolve(_STREAM_FACTORIES, class_name, path)


def resolve_decoder(class_name: str, path: str) -> PluginRef:
    return _resolve(_DECODERS, class_name, path)


def register_stream_factory(class_name: str, target: str) -> None:
    _STREAM_FACTORIES[class_name] = PluginRef(class_name, target)


def register_decoder(class_name: str, target: str) -> None:
    _DECODERS[class_name] = PluginRef(class_name, target)


def _resolve(table: dict[str, PluginRef], class_name: str, path: str) -> PluginRef:
    if class_name in table:
        return table[class_name]
    if class_name in _PLANNED:
        raise NotSupportedYet(path, f"{class_name} ({_PLANNED[class_name]})")
    known = ", ".join(sorted(k for k in table if "." in k))
    raise ConfigError(path, f"names an unknown class {class_name!r}; known: {known}")
