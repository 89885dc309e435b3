"""The registry-backed Avro decoders against a real HTTP registry (tests/support/schema_registry.py):
Confluent's wire format as confluent_kafka's AvroSerializer writes it, Pinot's MD5 framing; lookups cached,
schema versions resolved within one batch, authentication, unknown schemas counted, and an unreachable
registry raised (so the ingestor retries the batch) rather than its messages dropped."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import fastavro
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from ingestd.config import parse_schema, parse_table_config
from ingestd.decode.schema_registry import RegistryUnavailable
from ingestd.devtools.seed import seed_configs
from tests.support.decoding import Conformed
from tests.support.schema_registry import SchemaRegistryServer

AVRO = "org.apache.pinot.plugin.inputformat.avro."
CONFLUENT = AVRO + "confluent.KafkaConfluentSchemaRegistryAvroMessageDecoder"
KAFKA_AVRO = AVRO + "KafkaAvroMessageDecoder"
V1: dict[str, Any] = {"type": "record", "name": "Student", "namespace": "school", "fields": [
    {"name": "studentID", "type": "int"}, {"name": "firstName", "type": "string"},
    {"name": "timestamp", "type": "long"}]}
V2: dict[str, Any] = {**V1, "fields": [*V1["fields"], {"name": "subject", "type": "string", "default": "Art"},
                                       {"name": "score", "type": ["null", "float"], "default": None}]}


@pytest.fixture
def registry() -> Iterator[SchemaRegistryServer]:
    with SchemaRegistryServer("alice", "s3cret") as server:
        yield server


def decoder(class_name: str, **props: str) -> Conformed:
    schema_doc, _ = seed_configs("t")
    stream = {"stream.kafka.decoder.class.name": class_name, "stream.kafka.topic.name": "students"}
    stream |= {f"stream.kafka.decoder.prop.{k}": v for k, v in props.items()}
    _, table_doc = seed_configs("t", **stream)
    schema = parse_schema(schema_doc)
    table = parse_table_config(table_doc, {"t": schema})
    return Conformed(table.stream.decoder.load()(schema, table), schema, table)


def serializer(registry: SchemaRegistryServer, schema: dict[str, Any]) -> Any:
    client = SchemaRegistryClient({"url": registry.url, "basic.auth.user.info": "alice:s3cret"})
    avro = AvroSerializer(client, json.dumps(schema))
    return lambda record: avro(record, SerializationContext("students", MessageField.VALUE))


def confluent(registry: SchemaRegistryServer) -> Conformed:
    return decoder(CONFLUENT, **{"schema.registry.rest.url": registry.url,
                                 "basic.auth.credentials.source": "USER_INFO",
                                 "basic.auth.user.info": "alice:s3cret"})


def test_confluent_messages_of_two_schema_versions_in_one_batch(registry: SchemaRegistryServer) -> None:
    old, new = serializer(registry, V1), serializer(registry, V2)
    values = [old({"studentID": 1, "firstName": "Ann", "timestamp": 1_600_000_000_000}),
              new({"studentID": 2, "firstName": "Bob", "timestamp": 1_600_000_000_001, "subject": "Maths",
                   "score": 3.5}),
              old({"studentID": 3, "firstName": "Cy", "timestamp": 1_600_000_000_002})]
    assert values[0][:5] == b"\0\0\0\0\1" and values[1][:5] == b"\0\0\0\0\2"  # real Confluent framing
    rows = confluent(registry).decode(values).rows.to_pylist()
    assert [r["studentID"] for r in rows] == [1, 2, 3]
    assert [r["subject"] for r in rows] == ["Art", "Maths", "Art"]  # v2's default, read from v1 messages
    assert [r["score"] for r in rows] == [0.0, 3.5, 0.0]  # a null default: Pinot's metric default


def test_schemas_are_fetched_once_and_unknown_ids_and_magic_bytes_are_counted(
        registry: SchemaRegistryServer) -> None:
    write = serializer(registry, V1)
    good = [write({"studentID": i, "firstName": "x", "timestamp": 1_600_000_000_000}) for i in range(5)]
    unknown_id = b"\0\0\0\0\x63" + good[0][5:]
    wrong_magic = b"\1" + good[0][1:]
    decode = confluent(registry)
    first = decode.decode([*good, unknown_id, wrong_magic, b"\0\0"])
    second = decode.decode(good)
    assert first.bad_indices == [5, 6, 7] and first.rows.num_rows == 5 and second.rows.num_rows == 5
    assert "no Avro schema" in (first.first_error or "")
    assert registry.count("GET", "/schemas/ids/1") == 1 and registry.count("GET", "/schemas/ids/99") == 1


def test_a_registry_that_does_not_answer_raises_so_the_batch_is_retried(
        registry: SchemaRegistryServer) -> None:
    write = serializer(registry, V1)
    values = [write({"studentID": 1, "firstName": "x", "timestamp": 1_600_000_000_000})]
    decode = confluent(registry)
    registry.unavailable = True
    with pytest.raises(RegistryUnavailable, match="503"):
        decode.decode(values)
    registry.unavailable = False
    assert decode.decode(values).rows.num_rows == 1


def test_wrong_credentials_are_refused_by_the_registry(registry: SchemaRegistryServer) -> None:
    values = [serializer(registry, V1)({"studentID": 1, "firstName": "x", "timestamp": 1})]
    anonymous = decoder(CONFLUENT, **{"schema.registry.rest.url": registry.url})
    with pytest.raises(RegistryUnavailable, match="401"):
        anonymous.decode(values)
    in_url = registry.url.replace("http://", "http://alice:s3cret@")
    assert decoder(CONFLUENT, **{"schema.registry.rest.url": in_url,
                                 "basic.auth.credentials.source": "URL"}).decode(values).rows.num_rows == 1


def test_pinot_md5_framing_fetches_by_hash_and_falls_back_to_the_latest_schema() -> None:
    with SchemaRegistryServer() as registry:
        digest = registry.add_md5_schema("students", json.dumps(V1))
        decode = decoder(KAFKA_AVRO, **{"schema.registry.rest.url": registry.url})
        body = io.BytesIO()
        fastavro.schemaless_writer(body, fastavro.parse_schema(V1),
                                   {"studentID": 7, "firstName": "Di", "timestamp": 1_600_000_000_000})
        values = [b"\0" + digest + body.getvalue(), b"\0" + b"\x11" * 16 + body.getvalue(), b""]
        decoded = decode.decode(values)
        assert decoded.bad_indices == [2]
        assert [r["firstName"] for r in decoded.rows.to_pylist()] == ["Di", "Di"]  # the unknown hash: latest
        assert registry.count("GET", f"/id={digest.hex()}") == 1
        assert registry.count("GET", "/latest_with_type=students") == 1


def test_registry_credentials_in_decoder_properties_are_masked() -> None:
    from ingestd.redact import MASK, mask_secrets

    configs = {"stream.kafka.decoder.prop.basic.auth.user.info": "alice:s3cret",
               "stream.kafka.decoder.prop.schema.registry.basic.auth.user.info": "alice:s3cret",
               "stream.kafka.decoder.prop.bearer.auth.token": "t0ken",
               "stream.kafka.decoder.prop.schema.registry.rest.url": "http://registry:8081"}
    masked = mask_secrets(configs)
    assert [masked[k] for k in list(configs)[:3]] == [MASK] * 3
    assert masked["stream.kafka.decoder.prop.schema.registry.rest.url"] == "http://registry:8081"
