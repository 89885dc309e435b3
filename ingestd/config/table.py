"""A Pinot REALTIME table config (segmentsConfig, tableIndexConfig, streamConfigs) as a typed model."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestd.config.fields import (
    check_identifier,
    check_name,
    join,
    optional_list,
    optional_mapping,
    optional_str,
    parse_int,
    require_mapping,
    require_str,
)
from ingestd.config.offset_reset import OffsetReset, ResetTime, parse_offset_reset
from ingestd.config.schema import FieldRole, Schema
from ingestd.config.units import TIME_UNIT_MS, parse_duration_ms, parse_size_bytes
from ingestd.errors import ConfigError, NotSupportedYet
from ingestd.plugins import PluginRef, resolve_decoder, resolve_stream_factory, resolve_stream_type
from ingestd.redact import scrub, secret_values
from ingestd.stream.kafka_properties import check_client_properties

DEFAULT_FLUSH_ROWS = 5_000_000
DEFAULT_FLUSH_TIME_MS = 6 * 3_600_000
DEFAULT_SEGMENT_SIZE_BYTES = 200 << 20
DEFAULT_AUTOTUNE_INITIAL_ROWS = 100_000
_SEGMENT_ROWS_KEY = "realtime.segment.flush.threshold.segment.rows"
_INITIAL_ROWS_KEY = "realtime.segment.flush.autotune.initialRows"
_ROW_KEYS = (
    "realtime.segment.flush.threshold.rows",
    "realtime.segment.flush.threshold.size",
    "realtime.segment.flush.threshold.size.llc",
)
_TIME_KEYS = ("realtime.segment.flush.threshold.time", "realtime.segment.flush.threshold.time.llc")
_SIZE_KEYS = ("realtime.segment.flush.threshold.segment.size", "realtime.segment.flush.desired.size")
_PER_PARTITION_TYPES = {"lowlevel", "simple"}
_UNSUPPORTED_INGESTION = ("transformConfigs", "aggregationConfigs", "filterConfig", "complexTypeConfig")


class LoadMode(enum.Enum):
    MMAP = "MMAP"
    HEAP = "HEAP"


@dataclass(frozen=True)
class FlushThresholds:
    rows: int | None  # None: learned per partition from segment sizes (auto-tuning)
    time_ms: int
    segment_size_bytes: int = DEFAULT_SEGMENT_SIZE_BYTES
    initial_rows: int = DEFAULT_AUTOTUNE_INITIAL_ROWS
    per_server: bool = False  # `rows` is a server's figure, shared by the partitions it consumes


@dataclass(frozen=True)
class StreamConfig:
    """One table's stream settings. The generic ones are parsed here; `properties` holds every key of the
    stream configs as text, for the stream plugin to read its own (Kinesis' `region`, Pulsar's
    `stream.pulsar.bootstrap.servers`...): the factory checks them (`check_config`) when the table config
    is parsed, naming the key path of any mistake."""

    stream_type: str
    topic: str
    bootstrap_servers: str  # Kafka's `stream.kafka.broker.list`; "" for other streams
    consumer_factory: PluginRef
    decoder: PluginRef
    offset_reset: OffsetReset
    client_properties: Mapping[str, str]  # Kafka's librdkafka properties; {} for other streams
    flush: FlushThresholds
    property_paths: Mapping[str, str] = field(default_factory=dict)  # client property → its key path
    # `stream.<type>.decoder.prop.X` → X: the decoder's own settings (e.g. an Avro schema, a registry URL)
    decoder_properties: Mapping[str, str] = field(default_factory=dict)
    configs_path: str = "tableIndexConfig.streamConfigs"  # where the stream configs are in the table config
    properties: Mapping[str, str] = field(default_factory=dict)  # every stream config key, as text
    offset_reset_time: ResetTime | None = None  # the point in time of a TIMESTAMP offset_reset

    def key_path(self, key: str) -> str:
        """The full path of stream config `key`, for messages that name it."""
        return f"{self.configs_path}.{key}"


@dataclass(frozen=True)
class TableConfig:
    name: str
    schema_name: str
    time_column: str
    load_mode: LoadMode
    stream: StreamConfig
    raw: Mapping[str, Any]
    retention_ms: int | None = None  # sealed segments whose newest row is older than this are deleted
    no_dictionary_columns: frozenset[str] = frozenset()


def parse_table_config(raw: Any, schema_lookup: Mapping[str, Schema] | None = None,
                       allowed_file_dirs: Sequence[Path] = ()) -> TableConfig:
    """Validate a REALTIME table config; with `schema_lookup`, also check it against its schema.

    `allowed_file_dirs`: where librdkafka file-path properties may point (the server's
    `[security] allowed_file_dirs`); none by default. A message never quotes a secret-bearing value."""
    try:
        return _parse_table_config(raw, schema_lookup, allowed_file_dirs)
    except ConfigError as exc:
        cleaned = scrub(exc.problem, secret_values(raw))
        if cleaned == exc.problem:
            raise
        raise ConfigError(exc.path, cleaned) from None


def _parse_table_config(raw: Any, schema_lookup: Mapping[str, Schema] | None,
                        allowed_file_dirs: Sequence[Path]) -> TableConfig:
    doc = require_mapping(raw, "tableConfig")
    name = require_str(doc, "tableName", "")
    if name.endswith("_REALTIME"):
        name = name[: -len("_REALTIME")]
    check_identifier(name, "tableName")
    if name.endswith(("_REALTIME", "_OFFLINE")):
        raise ConfigError("tableName", f"must not end in _REALTIME or _OFFLINE once its type suffix is "
                          f"removed, got {name!r}")
    table_type = require_str(doc, "tableType", "").upper()
    if table_type == "OFFLINE":
        raise NotSupportedYet("tableType", "OFFLINE (batch) tables")
    if table_type != "REALTIME":
        raise ConfigError("tableType", f"must be REALTIME, got {doc['tableType']!r}")
    segments = optional_mapping(doc, "segmentsConfig", "")
    index = optional_mapping(doc, "tableIndexConfig", "")
    schema_name = optional_str(segments, "schemaName", "segmentsConfig") or name
    check_identifier(schema_name, "segmentsConfig.schemaName")
    time_column = require_str(segments, "timeColumnName", "segmentsConfig")
    check_name(time_column, "segmentsConfig.timeColumnName")
    _reject_unsupported_ingestion(optional_mapping(doc, "ingestionConfig", ""))
    no_dictionary = [str(c) for c in optional_list(index, "noDictionaryColumns", "tableIndexConfig")]
    for position, column in enumerate(no_dictionary):
        check_name(column, f"tableIndexConfig.noDictionaryColumns[{position}]")
    table = TableConfig(
        name=name,
        schema_name=schema_name,
        time_column=time_column,
        load_mode=_parse_load_mode(index),
        stream=_parse_stream(*_locate_stream_configs(doc), allowed_file_dirs),
        raw=dict(doc),
        retention_ms=_parse_retention(segments),
        no_dictionary_columns=frozenset(no_dictionary),
    )
    if schema_lookup is not None:
        check_against_schema(table, schema_lookup)
    return table


def check_against_schema(table: TableConfig, schemas: Mapping[str, Schema]) -> Schema:
    schema = schemas.get(table.schema_name)
    if schema is None:
        raise ConfigError("segmentsConfig.schemaName", f"names schema {table.schema_name!r}, "
                          "which has not been uploaded (POST /schemas first)")
    time_field = schema.field(table.time_column)
    if time_field is None or time_field.role is not FieldRole.DATE_TIME:
        raise ConfigError("segmentsConfig.timeColumnName", f"{table.time_column!r} is not a "
                          f"dateTimeFieldSpecs field of schema {schema.name!r}")
    if table.retention_ms is not None and time_field.epoch_ms_factor() is None:
        raise NotSupportedYet("segmentsConfig.retentionTimeValue",
                              f"retention on a time column in format {time_field.format!r}")
    return schema


def _parse_retention(segments: Mapping[str, Any]) -> int | None:
    unit, value = segments.get("retentionTimeUnit"), segments.get("retentionTimeValue")
    if unit is None and value is None:
        return None
    if unit is None or value is None:
        missing = "retentionTimeUnit" if unit is None else "retentionTimeValue"
        raise ConfigError(f"segmentsConfig.{missing}", "is missing: retention needs a unit and a value")
    factor = TIME_UNIT_MS.get(str(unit).upper())
    if factor is None:
        raise ConfigError("segmentsConfig.retentionTimeUnit",
                          f"must be one of {', '.join(TIME_UNIT_MS)}, got {unit!r}")
    return parse_int(value, "segmentsConfig.retentionTimeValue", minimum=1) * factor


def _parse_load_mode(index: Mapping[str, Any]) -> LoadMode:
    value = optional_str(index, "loadMode", "tableIndexConfig") or "MMAP"
    try:
        return LoadMode(value.upper())
    except ValueError:
        raise ConfigError("tableIndexConfig.loadMode", f"must be MMAP or HEAP, got {value!r}") from None


def _locate_stream_configs(doc: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    old_path = "tableIndexConfig.streamConfigs"
    new_path = "ingestionConfig.streamIngestionConfig.streamConfigMaps"
    old = optional_mapping(doc, "tableIndexConfig", "").get("streamConfigs")
    ingestion = optional_mapping(doc, "ingestionConfig", "")
    stream_ingestion = optional_mapping(ingestion, "streamIngestionConfig", "ingestionConfig")
    maps = optional_list(stream_ingestion, "streamConfigMaps", "ingestionConfig.streamIngestionConfig")
    if old is not None and maps:
        raise ConfigError(old_path, f"and {new_path} are both set; keep one")
    if maps:
        if len(maps) > 1:
            raise NotSupportedYet(new_path, "more than one stream per table")
        return require_mapping(maps[0], f"{new_path}[0]"), f"{new_path}[0]"
    if old is None:
        raise ConfigError(old_path, "is missing: a REALTIME table needs its stream configs")
    return require_mapping(old, old_path), old_path


def _parse_stream(configs: Mapping[str, Any], path: str, allowed_file_dirs: Sequence[Path]) -> StreamConfig:
    def key_path(key: str) -> str:
        return f"{path}.{key}"

    stream_type = require_str(configs, "streamType", path).lower()
    default_factory = resolve_stream_type(stream_type, key_path("streamType"))
    prefix = f"stream.{stream_type}."
    consumer_type = str(configs.get(prefix + "consumer.type", "lowlevel")).lower()
    if consumer_type == "highlevel" and stream_type != "kafka":  # Kafka's consumer group: kafka_group.py
        raise NotSupportedYet(key_path(prefix + "consumer.type"), f"highLevel consumption of {stream_type}")
    if consumer_type not in _PER_PARTITION_TYPES | {"highlevel"}:
        raise ConfigError(key_path(prefix + "consumer.type"),
                          f"must be lowlevel or highLevel, got {consumer_type!r}")
    factory_key = prefix + "consumer.factory.class.name"
    decoder_key = prefix + "decoder.class.name"
    brokers_key, hlc_key = prefix + "broker.list", prefix + "hlc.bootstrap.server"  # Pinot's highLevel key
    if consumer_type == "highlevel" and brokers_key not in configs and hlc_key in configs:
        brokers_key = hlc_key
    kafka = stream_type == "kafka"
    reset_key = prefix + "consumer.prop.auto.offset.reset"
    reset, reset_time = parse_offset_reset(configs.get(reset_key, "largest"), key_path(reset_key))
    properties, property_paths = _client_properties(configs, prefix, path) if kafka else ({}, {})
    check_client_properties(properties, property_paths, allowed_file_dirs)
    stream = StreamConfig(
        stream_type=stream_type,
        topic=require_str(configs, prefix + "topic.name", path),
        bootstrap_servers=require_str(configs, brokers_key, path) if kafka else "",
        consumer_factory=resolve_stream_factory(
            optional_str(configs, factory_key, path) or default_factory, key_path(factory_key)),
        decoder=resolve_decoder(require_str(configs, decoder_key, path), key_path(decoder_key)),
        offset_reset=reset,
        offset_reset_time=reset_time,
        client_properties=properties,
        flush=_parse_flush(configs, path),
        property_paths=property_paths,
        configs_path=path,
        decoder_properties=_decoder_properties(configs, prefix),
        properties={key: value if isinstance(value, str) else json.dumps(value)
                    for key, value in configs.items() if value is not None},
    )
    check = getattr(stream.consumer_factory.load(), "check_config", None)
    if check is not None:
        check(stream)  # the stream plugin's own keys: ConfigError naming the key path
    return stream


def _client_properties(configs: Mapping[str, Any], prefix: str, path: str
                       ) -> tuple[dict[str, str], dict[str, str]]:
    """`stream.kafka.consumer.prop.X` and raw client keys (security.protocol, sasl.*) go to librdkafka:
    the properties, and each one's full key path in the table config (for messages)."""
    props: dict[str, str] = {}
    paths: dict[str, str] = {}
    for key, value in configs.items():
        if key.startswith(prefix + "consumer.prop."):
            name = key[len(prefix + "consumer.prop."):]
            if name == "auto.offset.reset":
                continue
        elif key.startswith(("security.", "sasl.", "ssl.")):
            name = key
        else:
            continue
        props[name] = str(value)
        paths[name] = f"{path}.{key}"
    return props, paths


def _decoder_properties(configs: Mapping[str, Any], prefix: str) -> dict[str, str]:
    """`stream.<type>.decoder.prop.X` keys, prefix stripped, as Pinot hands them to its decoder's init."""
    start = prefix + "decoder.prop."
    return {key[len(start):]: value if isinstance(value, str) else json.dumps(value)
            for key, value in configs.items() if key.startswith(start) and value is not None}


def _parse_flush(configs: Mapping[str, Any], path: str) -> FlushThresholds:
    """Pinot's precedence: rows > 0 is fixed; else segment.rows > 0; else rows 0 or a segment size given
    means auto-tuning; else the 5,000,000 default. Time always applies too."""
    rows_key = next((k for k in _ROW_KEYS if k in configs), None)
    size_key = next((k for k in _SIZE_KEYS if k in configs), None)
    rows = None if rows_key is None else parse_int(configs[rows_key], f"{path}.{rows_key}", minimum=0)
    segment_rows = (parse_int(configs[_SEGMENT_ROWS_KEY], f"{path}.{_SEGMENT_ROWS_KEY}", minimum=0)
                    if _SEGMENT_ROWS_KEY in configs else 0)
    fixed: int | None
    if rows:
        fixed = rows
    elif segment_rows:
        fixed = segment_rows
    elif rows == 0 or size_key is not None:
        fixed = None
    else:
        fixed = DEFAULT_FLUSH_ROWS
    time_key = next((k for k in _TIME_KEYS if k in configs), None)
    return FlushThresholds(
        rows=fixed,
        per_server=fixed is not None and not (segment_rows and not rows),  # threshold.rows or the default
        time_ms=DEFAULT_FLUSH_TIME_MS if time_key is None
        else parse_duration_ms(configs[time_key], f"{path}.{time_key}"),
        segment_size_bytes=DEFAULT_SEGMENT_SIZE_BYTES if size_key is None
        else parse_size_bytes(configs[size_key], f"{path}.{size_key}"),
        initial_rows=parse_int(configs.get(_INITIAL_ROWS_KEY, DEFAULT_AUTOTUNE_INITIAL_ROWS),
                               f"{path}.{_INITIAL_ROWS_KEY}", minimum=1),
    )


def _reject_unsupported_ingestion(ingestion: Mapping[str, Any]) -> None:
    for key in _UNSUPPORTED_INGESTION:
        if ingestion.get(key):
            raise NotSupportedYet(join("ingestionConfig", key), f"ingestionConfig.{key}")
