"""Each Avro decoder through the real broker and a real server: a table names Pinot's decoder class, real
messages are ingested (Confluent's wire format from confluent_kafka's AvroSerializer against the test
registry; Pinot's MD5 framing against the same server answering /id=<md5>; plain records with the schema
in the table config), SQL sees the values, schema versions mix within a batch, malformed messages are
counted and skipped."""

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

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs
from ingestd.devtools.server_process import IngestdServer
from tests.support.schema_registry import SchemaRegistryServer
from tests.support.tables import create_table

AVRO = "org.apache.pinot.plugin.inputformat.avro."
V1: dict[str, Any] = {"type": "record", "name": "transcript", "fields": [
    {"name": "studentID", "type": "int"}, {"name": "firstName", "type": "string"},
    {"name": "lastName", "type": ["null", "string"], "default": None},
    {"name": "score", "type": "float"}, {"name": "timestamp", "type": "long"}]}
SUBJECT = {"name": "subject", "type": "string", "default": "Art"}
V2: dict[str, Any] = {**V1, "fields": [*V1["fields"], SUBJECT]}
BASE_MS = 1_571_900_400_000


@pytest.fixture
def registry() -> Iterator[SchemaRegistryServer]:
    with SchemaRegistryServer() as server:
        yield server


def record(i: int, **more: Any) -> dict[str, Any]:
    return {"studentID": i, "firstName": f"s{i}", "lastName": None if i % 2 else "L", "score": i / 4,
            "timestamp": BASE_MS + i, **more}


def plain(schema: dict[str, Any], value: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), value)
    return buffer.getvalue()


def rows(server: IngestdServer, table: str) -> list[list[Any]]:
    answer = server.query(f"SELECT studentID, firstName, lastName, subject, score FROM {table} "
                          "ORDER BY studentID LIMIT 100")
    assert not answer["exceptions"], answer
    return answer["resultTable"]["rows"]


def malformed(server: IngestdServer, table: str, expected: int) -> None:
    wait_until(lambda: server.get(f"/tables/{table}/status")["malformedMessages"] == expected,
               what=f"{expected} malformed messages counted")


def test_confluent_wire_format_with_two_schema_versions_in_one_batch(
        kafka: KafkaBroker, server: IngestdServer, registry: SchemaRegistryServer, unique_name: str) -> None:
    client = SchemaRegistryClient({"url": registry.url})
    context = SerializationContext(unique_name, MessageField.VALUE)
    old, new = AvroSerializer(client, json.dumps(V1)), AvroSerializer(client, json.dumps(V2))
    values: list[bytes | None] = [old(record(i), context) for i in range(5)]
    values += [new(record(i, subject="Maths"), context) for i in range(5, 10)]
    values += [b"\0\0\0\0\x09garbage", b"not avro at all", None, old(record(10), context)]
    kafka.create_topic(unique_name, 1)
    kafka.publish(unique_name, values)  # all there before the table: one fetch holds both versions
    schema, table = seed_configs(unique_name, **{
        "stream.kafka.topic.name": unique_name, "stream.kafka.broker.list": kafka.bootstrap,
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
        "stream.kafka.decoder.class.name": AVRO + "confluent.KafkaConfluentSchemaRegistryAvroMessageDecoder",
        "stream.kafka.decoder.prop.schema.registry.rest.url": registry.url,
    })
    for path, document in (("/schemas", schema), ("/tables", table)):
        assert server.post(path, document).status_code == 200
    wait_until(lambda: server.count(unique_name) == 11, what="11 rows")
    malformed(server, unique_name, 3)
    found = rows(server, unique_name)
    assert [r[0] for r in found] == list(range(11))
    assert [r[3] for r in found] == ["Art"] * 5 + ["Maths"] * 5 + ["Art"]  # v2's default for v1 messages
    assert found[1][:3] == [1, "s1", "null"] and found[2][2] == "L" and found[3][4] == 0.75
    assert registry.count("GET", "/schemas/ids/1") == 1 and registry.count("GET", "/schemas/ids/2") == 1


def test_pinot_md5_framing_against_a_server_answering_by_hash(
        kafka: KafkaBroker, server: IngestdServer, registry: SchemaRegistryServer, unique_name: str) -> None:
    digest = registry.add_md5_schema(unique_name, json.dumps(V2))
    values = [b"\0" + digest + plain(V2, record(i, subject="History")) for i in range(8)]
    values.insert(4, b"\0" + digest + b"\x02")  # a record cut short
    create_table(server, kafka, unique_name, 2, **{
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
        "stream.kafka.decoder.class.name": AVRO + "KafkaAvroMessageDecoder",
        "stream.kafka.decoder.prop.schema.registry.rest.url": registry.url,
    })
    kafka.publish(unique_name, values, partitions=2)
    wait_until(lambda: server.count(unique_name) == 8, what="8 rows")
    malformed(server, unique_name, 1)
    found = rows(server, unique_name)
    assert [(r[0], r[1], r[3]) for r in found] == [(i, f"s{i}", "History") for i in range(8)]
    answer = server.query(f"SELECT subject, COUNT(*), SUM(score) FROM {unique_name} GROUP BY subject")
    assert answer["resultTable"]["rows"] == [["History", 8, 7.0]]


def test_simple_avro_with_the_schema_in_the_table_config(
        kafka: KafkaBroker, server: IngestdServer, unique_name: str) -> None:
    values = [plain(V1, record(i)) for i in range(6)] + [b"\x99"]
    create_table(server, kafka, unique_name, 1, **{
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
        "stream.kafka.decoder.class.name": AVRO + "SimpleAvroMessageDecoder",
        "stream.kafka.decoder.prop.schema": json.dumps(V1),
    })
    kafka.publish(unique_name, values)
    wait_until(lambda: server.count(unique_name) == 6, what="6 rows")
    malformed(server, unique_name, 1)
    found = rows(server, unique_name)
    assert [(r[0], r[1], r[3]) for r in found] == [(i, f"s{i}", "null") for i in range(6)]  # no subject
    time_range = server.query(f'SELECT COUNT(*) FROM {unique_name} WHERE "timestamp" >= {BASE_MS + 3}')
    assert time_range["resultTable"]["rows"] == [[3]]
