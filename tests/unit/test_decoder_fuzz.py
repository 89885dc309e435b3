"""Every decoder takes any bytes: random values and mutated valid messages come back decoded or counted as
malformed by index, never as an exception (and the conforming step after it never fails either)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestd.config import parse_schema, parse_table_config
from ingestd.devtools.seed import seed_configs
from tests.support.decoding import Conformed
from tests.support.schema_registry import SchemaRegistryServer

AVRO = {"type": "record", "name": "transcript", "fields": [
    {"name": "studentID", "type": "int"}, {"name": "firstName", "type": ["null", "string"]},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "attrs", "type": {"type": "map", "values": "long"}},
    {"name": "score", "type": "float"}, {"name": "timestamp", "type": "long"}]}
AVRO_TEXT = json.dumps(AVRO)
_PREFIX = "org.apache.pinot.plugin.inputformat."
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def registry() -> Iterator[SchemaRegistryServer]:
    with SchemaRegistryServer() as server:
        server.register("fuzz-value", AVRO_TEXT)
        server.add_md5_schema("fuzz", AVRO_TEXT)
        yield server


def avro_body(sequence: int) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(AVRO), {
        "studentID": sequence, "firstName": None if sequence % 3 else f"n{sequence}",
        "tags": ["a"] * (sequence % 3), "attrs": {"k": sequence}, "score": 1.5,
        "timestamp": 1_600_000_000_000})
    return buffer.getvalue()


def decoders(registry: SchemaRegistryServer) -> dict[str, tuple[Conformed, list[bytes]]]:
    """Each decoder with valid messages to mutate."""
    schema_doc, _ = seed_configs("t")
    schema_doc["dimensionFieldSpecs"] += [{"name": "tags", "dataType": "STRING", "singleValueField": False},
                                          {"name": "attrs", "dataType": "JSON"}]
    schema = parse_schema(schema_doc)
    md5 = registry.add_md5_schema("fuzz", AVRO_TEXT)
    kinds: dict[str, tuple[str, dict[str, str], bytes]] = {
        "json": (_PREFIX + "json.JSONMessageDecoder", {}, b""),
        "simple": (_PREFIX + "avro.SimpleAvroMessageDecoder", {"schema": AVRO_TEXT}, b""),
        "md5": (_PREFIX + "avro.KafkaAvroMessageDecoder", {"schema.registry.rest.url": registry.url},
                b"\0" + md5),
        "confluent": (_PREFIX + "avro.confluent.KafkaConfluentSchemaRegistryAvroMessageDecoder",
                      {"schema.registry.rest.url": registry.url}, b"\0\0\0\0\1"),
    }
    built = {}
    for kind, (class_name, props, frame) in kinds.items():
        stream = {"stream.kafka.decoder.class.name": class_name, "stream.kafka.topic.name": "fuzz"}
        stream |= {f"stream.kafka.decoder.prop.{k}": v for k, v in props.items()}
        _, table_doc = seed_configs("t", **stream)
        table = parse_table_config(table_doc, {"t": schema})
        decoder = Conformed(table.stream.decoder.load()(schema, table), schema, table)
        if kind == "json":
            valid = [json.dumps({"studentID": i, "firstName": "é", "tags": ["x", None], "attrs": {"a": [1]},
                                 "score": 2.5, "timestamp": 1_600_000_000_000}).encode() for i in range(8)]
        else:
            valid = [frame + avro_body(i) for i in range(8)]
        built[kind] = (decoder, valid)
    return built


def check(decoder: Conformed, values: list[bytes | None]) -> None:
    decoded = decoder.decode(values)
    assert decoded.rows.num_rows + len(decoded.bad_indices) == len(values)
    assert decoded.bad_indices == sorted(set(decoded.bad_indices))
    assert all(0 <= i < len(values) for i in decoded.bad_indices)


def mutate(value: bytes, data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(["flip", "cut", "insert", "extend", "swap"]))
    if not value:
        return data.draw(st.binary(max_size=8))
    at = data.draw(st.integers(0, len(value) - 1))
    if kind == "flip":
        return value[:at] + bytes([value[at] ^ data.draw(st.integers(1, 255))]) + value[at + 1:]
    if kind == "cut":
        return value[:at]
    if kind == "insert":
        return value[:at] + data.draw(st.binary(min_size=1, max_size=4)) + value[at:]
    if kind == "extend":
        return value + data.draw(st.binary(min_size=1, max_size=4))
    return value[at:] + value[:at]


@pytest.mark.parametrize("kind", ["json", "simple", "md5", "confluent"])
def test_random_bytes_never_raise(kind: str, registry: SchemaRegistryServer) -> None:
    decoder, _ = decoders(registry)[kind]

    @SETTINGS
    @given(st.lists(st.one_of(st.none(), st.binary(max_size=64)), min_size=1, max_size=12))
    def run(values: list[bytes | None]) -> None:
        check(decoder, values)

    run()


@pytest.mark.parametrize("kind", ["json", "simple", "md5", "confluent"])
def test_mutated_valid_messages_never_raise(kind: str, registry: SchemaRegistryServer) -> None:
    decoder, valid = decoders(registry)[kind]

    @SETTINGS
    @given(st.data())
    def run(data: Any) -> None:
        values: list[bytes | None] = list(valid)
        for _ in range(data.draw(st.integers(1, 3))):
            index = data.draw(st.integers(0, len(values) - 1))
            values[index] = mutate(values[index] or b"", data)
        check(decoder, values)
        clean = [i for i, v in enumerate(values) if v == valid[i]]
        decoded = decoder.decode(values)
        assert set(clean).isdisjoint(decoded.bad_indices)  # an untouched message is never dropped

    run()
