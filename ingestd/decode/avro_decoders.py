"""Pinot's three Avro message decoders, named in table configs by their Pinot class names:

* SimpleAvroMessageDecoder: plain Avro binary records, the writer schema in `decoder.prop.schema`
  (optionally after `decoder.prop.leading.bytes.to.strip` header bytes, as Pinot allows);
* KafkaAvroMessageDecoder: a magic byte, the 16-byte MD5 of the writer schema, the record; schemas from
  `decoder.prop.schema.registry.rest.url` (`/id=<md5 hex>`; when that fails, the latest schema of
  `decoder.prop.schema.registry.schema.name`, default the topic, from `/latest_with_type=<name>`);
* KafkaConfluentSchemaRegistryAvroMessageDecoder: magic byte 0, a 4-byte big-endian schema id, the record;
  schemas from the Confluent Schema Registry at `decoder.prop.schema.registry.rest.url`. Records of
  older schema versions are read through the newest version seen (Avro schema resolution: a field added
  with a default reads its default).

Each fetched schema is cached for the decoder's life (ids and hashes name immutable schemas).
"""

from __future__ import annotations

import logging

from ingestd.config.schema import Schema
from ingestd.config.table import TableConfig
from ingestd.decode.avro_batch import AvroBatchDecoder
from ingestd.decode.avro_schema import AvroSchemaError, WriterSchema, load_writer_schema
from ingestd.decode.schema_registry import RegistryClient, confluent_schema_text
from ingestd.decode.spi import DecodedBatch
from ingestd.errors import ConfigError

log = logging.getLogger(__name__)
_PROP = "stream.{type}.decoder.prop.{name}"


def _key_path(table: TableConfig, name: str) -> str:
    stream = table.stream
    return f"{stream.configs_path}.{_PROP.format(type=stream.stream_type, name=name)}"


class SimpleAvroMessageDecoder:
    def __init__(self, schema: Schema, table: TableConfig) -> None:
        props = table.stream.decoder_properties
        if not props.get("schema"):
            raise ConfigError(_key_path(table, "schema"), "is missing: the Avro schema of the messages")
        try:
            self._writer = load_writer_schema(props["schema"])
        except AvroSchemaError as exc:
            raise ConfigError(_key_path(table, "schema"), str(exc)) from None
        strip = props.get("leading.bytes.to.strip", "0").strip() or "0"
        if not strip.isdigit():
            raise ConfigError(_key_path(table, "leading.bytes.to.strip"), f"must be a count, got {strip!r}")
        self._batch = AvroBatchDecoder(schema.fields, header=int(strip), key=0)

    def decode(self, values: list[bytes | None]) -> DecodedBatch:
        return self._batch.decode(values, lambda _: self._writer)


class KafkaAvroMessageDecoder:
    """Pinot's MD5-framed Avro (its own registry protocol)."""

    def __init__(self, schema: Schema, table: TableConfig) -> None:
        props = table.stream.decoder_properties
        self._registry = RegistryClient(props.get("schema.registry.rest.url", ""), props,
                                        _key_path(table, "schema.registry.rest.url"))
        self._schema_name = props.get("schema.registry.schema.name") or table.stream.topic
        self._schemas: dict[bytes, WriterSchema] = {}
        self._latest: WriterSchema | None = None
        self._batch = AvroBatchDecoder(schema.fields, header=17, key=17)

    def decode(self, values: list[bytes | None]) -> DecodedBatch:
        return self._batch.decode(values, self._lookup)

    def _lookup(self, key: bytes) -> WriterSchema | None:
        digest = key[1:17]  # the magic byte is not checked, as in Pinot
        known = self._schemas.get(digest)
        if known is None:
            known = self._fetch(f"/id={digest.hex()}", digest) or self._latest_schema()
            if known is not None:
                self._schemas[digest] = known  # (not found: asked again after the registry client's minute)
        return known

    def _latest_schema(self) -> WriterSchema | None:
        if self._latest is None:
            self._latest = self._fetch(f"/latest_with_type={self._schema_name}", b"latest")
            if self._latest is not None:
                log.warning("using the latest schema of %s for an unknown schema hash", self._schema_name)
        return self._latest

    def _fetch(self, path: str, key: bytes) -> WriterSchema | None:
        answer = self._registry.get(path)
        if answer is None:
            return None
        try:
            return load_writer_schema(answer.text, key)
        except AvroSchemaError as exc:
            log.error("schema registry answered an unusable schema for %s: %s", path, exc)
            return None


class KafkaConfluentSchemaRegistryAvroMessageDecoder:
    """Confluent's wire format; schemas by id from a Confluent Schema Registry."""

    def __init__(self, schema: Schema, table: TableConfig) -> None:
        props = table.stream.decoder_properties
        self._registry = RegistryClient(props.get("schema.registry.rest.url", ""), props,
                                        _key_path(table, "schema.registry.rest.url"), confluent_auth=True)
        self._schemas: dict[int, WriterSchema] = {}
        self._newest: WriterSchema | None = None
        self._batch = AvroBatchDecoder(schema.fields, header=5, key=5)

    def decode(self, values: list[bytes | None]) -> DecodedBatch:
        return self._batch.decode(values, self._lookup, reader=self._reader)

    def _reader(self) -> WriterSchema | None:
        return self._newest

    def _lookup(self, key: bytes) -> WriterSchema | None:
        if key[0] != 0:
            return None  # "unknown magic byte": not Confluent's framing
        schema_id = int.from_bytes(key[1:5], "big")
        known = self._schemas.get(schema_id)
        if known is not None:
            return known
        answer = self._registry.get(f"/schemas/ids/{schema_id}")
        if answer is None:
            return None
        try:
            writer = load_writer_schema(confluent_schema_text(answer), key[1:5])
        except (AvroSchemaError, ValueError) as exc:
            log.error("schema registry id %d: %s", schema_id, exc)
            return None
        self._schemas[schema_id] = writer
        if self._newest is None or key[1:5] > self._newest.key:
            self._newest = writer
        return writer
