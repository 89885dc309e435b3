"""The Avro decoders' two paths agree: a batch read as one container block by polars gives exactly the
rows fastavro gives record by record, for every Pinot type, nulls, unions, logical types, nested records
and maps (JSON columns) and arrays (multi-value columns); malformed records are isolated either way."""

from __future__ import annotations

import datetime
import io
import json
import random
from decimal import Decimal
from typing import Any

import fastavro
import orjson
import pyarrow as pa
import pytest

from ingestd.config import parse_schema, parse_table_config
from ingestd.decode import avro_block
from ingestd.decode.avro_batch import AvroBatchDecoder
from ingestd.decode.avro_schema import load_writer_schema
from ingestd.decode.spi import DecodedBatch
from ingestd.devtools.seed import seed_configs
from ingestd.errors import ConfigError
from ingestd.plugins import resolve_decoder
from tests.support.decoding import Conformed

AVRO_FIELDS: list[dict[str, Any]] = [
    {"name": "i", "type": "int"},
    {"name": "l", "type": "long"},
    {"name": "f", "type": "float"},
    {"name": "d", "type": "double"},
    {"name": "b", "type": "boolean"},
    {"name": "s", "type": "string"},
    {"name": "e", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN", "BLUE"]}},
    {"name": "by", "type": "bytes"},
    {"name": "fx", "type": {"type": "fixed", "name": "Four", "size": 4}},
    {"name": "dec", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "tsu", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "ni", "type": ["null", "int"]},
    {"name": "ns", "type": ["string", "null"]},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "nums", "type": ["null", {"type": "array", "items": ["null", "long"]}]},
    {"name": "payload", "type": {"type": "record", "name": "Inner", "fields": [
        {"name": "a", "type": "int"}, {"name": "b", "type": ["null", "string"]},
        {"name": "m", "type": {"type": "map", "values": "long"}}]}},
    {"name": "attrs", "type": {"type": "map", "values": "string"}},
    {"name": "extra", "type": ["null", "Inner"]},  # not a Pinot column: read and dropped
    {"name": "timestamp", "type": "long"},
]
AVRO_SCHEMA = {"type": "record", "name": "Everything", "namespace": "t", "fields": AVRO_FIELDS}
PINOT_FIELDS = [
    ("i", "INT"), ("l", "LONG"), ("f", "FLOAT"), ("d", "DOUBLE"), ("b", "BOOLEAN"), ("s", "STRING"),
    ("e", "STRING"), ("by", "BYTES"), ("fx", "BYTES"), ("dec", "BIG_DECIMAL"), ("ts", "TIMESTAMP"),
    ("tsu", "LONG"), ("day", "INT"), ("ni", "INT"), ("ns", "STRING"), ("payload", "JSON"),
    ("attrs", "JSON"), ("missing", "STRING"),
]
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
SIMPLE_AVRO = "org.apache.pinot.plugin.inputformat.avro.SimpleAvroMessageDecoder"


def pinot_schema(fields: list[tuple[str, str]] = PINOT_FIELDS, multi: bool = True) -> dict[str, Any]:
    schema_doc, _ = seed_configs("t")
    schema_doc["dimensionFieldSpecs"] = [{"name": n, "dataType": t} for n, t in fields]
    if multi:
        schema_doc["dimensionFieldSpecs"] += [
            {"name": "tags", "dataType": "STRING", "singleValueField": False},
            {"name": "nums", "dataType": "LONG", "singleValueField": False}]
    schema_doc["metricFieldSpecs"] = []
    return schema_doc


def decoder_for(avro: dict[str, Any], schema_doc: dict[str, Any] | None = None, **props: str) -> Conformed:
    schema_doc = schema_doc or pinot_schema()
    _, table_doc = seed_configs("t", **{
        "stream.kafka.decoder.class.name": SIMPLE_AVRO,
        "stream.kafka.decoder.prop.schema": json.dumps(avro),
        **{f"stream.kafka.decoder.prop.{k}": v for k, v in props.items()}})
    schema = parse_schema(schema_doc)
    table = parse_table_config(table_doc, {"t": schema})
    return Conformed(table.stream.decoder.load()(schema, table), schema, table)


def random_record(rng: random.Random) -> dict[str, Any]:
    def text() -> str:
        return "".join(rng.choice("aé😀Z \"\\{}[],:0") for _ in range(rng.randint(0, 8)))

    def number(bits: int) -> int:
        return rng.choice([0, -1, 1, 63, 64, -65, 8191, 8192, 2 ** (bits - 1) - 1, -(2 ** (bits - 1)),
                           rng.randint(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)])

    inner = {"a": number(32), "b": rng.choice([None, text()]),
             "m": {text(): number(64) for _ in range(rng.randint(0, 3))}}
    return {
        "i": number(32), "l": number(64), "f": rng.uniform(-1e6, 1e6),
        "d": rng.choice([rng.random(), -1e300]),
        "b": rng.random() < 0.5, "s": text(), "e": rng.choice(["RED", "GREEN", "BLUE"]),
        "by": rng.randbytes(rng.randint(0, 6)), "fx": rng.randbytes(4),
        "dec": Decimal(rng.randint(-10**9, 10**9)).scaleb(-2),
        "ts": EPOCH + datetime.timedelta(milliseconds=rng.randint(0, 4 * 10**12)),
        "tsu": EPOCH + datetime.timedelta(microseconds=rng.randint(-10**15, 10**16)),
        "day": datetime.date(1970, 1, 1) + datetime.timedelta(days=rng.randint(-1000, 30000)),
        "ni": rng.choice([None, number(32)]), "ns": rng.choice([None, text()]),
        "tags": [text() for _ in range(rng.randint(0, 3))],
        "nums": rng.choice([None, [rng.choice([None, number(64)]) for _ in range(rng.randint(0, 3))]]),
        "payload": inner, "attrs": {text(): text() for _ in range(rng.randint(0, 2))},
        "extra": rng.choice([None, inner]), "timestamp": 1_600_000_000_000 + rng.randint(0, 10**9),
    }


def encode(record: dict[str, Any], schema: dict[str, Any] = AVRO_SCHEMA) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), record)
    return buffer.getvalue()


def both_paths(decoder: Conformed, values: list[bytes | None],
               monkeypatch: pytest.MonkeyPatch) -> tuple[DecodedBatch, DecodedBatch, list[str]]:
    """Decode through the block path (counting which groups it took), then record by record only."""
    taken: list[str] = []
    real_read = avro_block.BlockReader.read

    def read(self: avro_block.BlockReader, bodies: pa.BinaryArray) -> Any:
        table = real_read(self, bodies)
        taken.append("block" if table is not None else "records")
        return table

    monkeypatch.setattr(avro_block.BlockReader, "read", read)
    fast = decoder.decode(values)
    monkeypatch.setattr(avro_block.BlockReader, "read", lambda self, bodies: None)
    slow = decoder.decode(values)
    monkeypatch.undo()
    return fast, slow, taken


def test_block_and_record_paths_give_identical_rows_for_every_type(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    records = [random_record(rng) for _ in range(400)]
    fast, slow, taken = both_paths(decoder_for(AVRO_SCHEMA), [encode(r) for r in records], monkeypatch)
    assert taken == ["block"]
    assert fast.bad_indices == slow.bad_indices == []
    assert fast.rows.equals(slow.rows)
    rows = fast.rows.to_pylist()
    for record, row in zip(records, rows, strict=True):
        assert row["i"] == record["i"] and row["l"] == record["l"] and row["b"] == record["b"]
        assert row["s"] == record["s"] and row["e"] == record["e"] and row["by"] == record["by"]
        assert row["dec"] == record["dec"] and row["fx"] == record["fx"]
        assert row["ts"] == record["ts"].replace(tzinfo=None)
        assert row["tsu"] == (record["tsu"] - EPOCH) // datetime.timedelta(milliseconds=1)
        assert row["day"] == (record["day"] - datetime.date(1970, 1, 1)).days
        assert row["ni"] == (-(2**31) if record["ni"] is None else record["ni"])  # Pinot's INT default
        assert row["ns"] == ("null" if record["ns"] is None else record["ns"])
        assert row["tags"] == (record["tags"] or ["null"])
        expected_nums = [-(2**63) if n is None else n for n in record["nums"] or []] or [-(2**63)]
        assert row["nums"] == expected_nums
        assert orjson.loads(row["payload"]) == record["payload"]
        assert orjson.loads(row["attrs"]) == record["attrs"] and row["missing"] == "null"


def test_malformed_records_are_isolated_the_same_way_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(11)
    good = [encode(random_record(rng)) for _ in range(60)]
    values: list[bytes | None] = list(good)
    values[3] = good[3][:-1]  # truncated
    values[10] = None  # a tombstone
    values[20] = b"\xff" * 9  # garbage
    values[30] = good[30] + b"\x00\x01"  # trailing bytes: read as Pinot does (the record; the rest ignored)
    fast, slow, taken = both_paths(decoder_for(AVRO_SCHEMA), values, monkeypatch)
    assert taken == ["records"]  # the block was refused and the records read one by one
    assert fast.bad_indices == slow.bad_indices == [3, 10, 20]
    assert fast.rows.equals(slow.rows) and fast.rows.num_rows == 57
    clean = decoder_for(AVRO_SCHEMA).decode([v for i, v in enumerate(good) if i not in (3, 10, 20)])
    assert fast.rows.drop_columns(["timestamp"]).equals(clean.rows.drop_columns(["timestamp"]))
    assert fast.message_index_of_row(3, len(values)) == 4


def test_a_record_with_extra_bytes_last_in_the_block_is_caught_by_the_length_check(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """polars reads a block whose last record has bytes left over without complaint: the per-record
    length check is what sends it to the record path (which reads it as Pinot does)."""
    rng = random.Random(5)
    good = [encode(random_record(rng)) for _ in range(5)]
    fast, slow, taken = both_paths(decoder_for(AVRO_SCHEMA), [*good[:4], good[4] + b"\x02"], monkeypatch)
    assert taken == ["records"] and fast.bad_indices == [] and fast.rows.equals(slow.rows)


def test_a_union_of_several_types_is_read_record_by_record() -> None:
    schema = {"type": "record", "name": "U", "fields": [
        {"name": "u", "type": ["null", "string", "long"]}, {"name": "timestamp", "type": "long"}]}
    decoder = decoder_for(schema, pinot_schema([("u", "STRING")], multi=False))
    values = [encode({"u": u, "timestamp": 1_600_000_000_000}, schema) for u in ("x", 5, None)]
    rows = decoder.decode(values).rows.column("u").to_pylist()
    assert rows == ["x", "5", "null"]


def test_reader_schema_resolution_gives_old_records_the_new_default(monkeypatch: pytest.MonkeyPatch) -> None:
    old = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"},
                                                     {"name": "timestamp", "type": "long"}]}
    new = {"type": "record", "name": "R", "fields": [
        {"name": "a", "type": "int"}, {"name": "timestamp", "type": "long"},
        {"name": "color", "type": "string", "default": "blue"}]}
    writer_old = load_writer_schema(json.dumps(old), b"1")
    writer_new = load_writer_schema(json.dumps(new), b"2")
    schema = parse_schema(pinot_schema([("a", "INT"), ("color", "STRING")], multi=False))
    batch = AvroBatchDecoder(schema.fields, header=1, key=1)
    values = [b"1" + encode({"a": 1, "timestamp": 5}, old),
              b"2" + encode({"a": 2, "timestamp": 6, "color": "red"}, new)]
    schemas = {b"1": writer_old, b"2": writer_new}
    fast = batch.decode(values, schemas.get, reader=lambda: writer_new)
    monkeypatch.setattr(avro_block.BlockReader, "read", lambda self, bodies: None)
    slow = batch.decode(values, schemas.get, reader=lambda: writer_new)
    assert fast.rows.equals(slow.rows)
    assert fast.rows.column("color").to_pylist() == ["blue", "red"]
    assert fast.rows.column("a").to_pylist() == [1, 2]


def test_leading_bytes_are_stripped_and_short_messages_counted() -> None:
    schema = {"type": "record", "name": "R", "fields": [{"name": "studentID", "type": "int"},
                                                        {"name": "timestamp", "type": "long"}]}
    decoder = decoder_for(schema, pinot_schema([("studentID", "INT")], multi=False),
                          **{"leading.bytes.to.strip": "3"})
    decoded = decoder.decode([b"abc" + encode({"studentID": 9, "timestamp": 7}, schema), b"ab"])
    assert decoded.rows.column("studentID").to_pylist() == [9] and decoded.bad_indices == [1]


def test_decoder_properties_reach_the_decoder_with_the_prefix_stripped() -> None:
    _, table_doc = seed_configs("t", **{"stream.kafka.decoder.prop.schema.registry.rest.url": "http://r:1",
                                        "stream.kafka.decoder.prop.schema": {"type": "record"}})
    schema = parse_schema(seed_configs("t")[0])
    props = parse_table_config(table_doc, {"t": schema}).stream.decoder_properties
    assert props == {"schema.registry.rest.url": "http://r:1", "schema": '{"type": "record"}'}


def test_pinot_avro_class_names_resolve_and_a_bad_schema_property_names_its_key() -> None:
    for name in ("SimpleAvroMessageDecoder", "KafkaAvroMessageDecoder",
                 "confluent.KafkaConfluentSchemaRegistryAvroMessageDecoder"):
        assert resolve_decoder(f"org.apache.pinot.plugin.inputformat.avro.{name}", "p").load()
    with pytest.raises(ConfigError, match=r"decoder\.prop\.schema"):
        decoder_for({"type": "enum", "name": "E", "symbols": ["A"]})


def test_an_int_beyond_32_bits_is_a_malformed_record_not_a_failed_batch() -> None:
    """fastavro reads a damaged varint of an `int` field as whatever number it spells (found by the fuzz
    test: 1600000000000): that record is counted and skipped, the others kept."""
    from ingestd.decode.avro_records import read_records

    schema = {"type": "record", "name": "R", "fields": [{"name": "i", "type": "int"},
                                                        {"name": "timestamp", "type": "long"}]}
    wide = {"type": "record", "name": "R", "fields": [{"name": "i", "type": "long"},
                                                      {"name": "timestamp", "type": "long"}]}

    def body(value: int, schema: dict[str, Any]) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, fastavro.parse_schema(schema), {"i": value, "timestamp": 1})
        return out.getvalue()

    writer = load_writer_schema(json.dumps(schema), "schema")
    read = read_records([body(1, schema), body(1_600_000_000_000, wide), body(3, schema)], writer,
                        ["i", "timestamp"])
    assert read.good == [0, 2] and set(read.errors) == {1} and "'i'" in read.errors[1]
    assert read.columns["i"].to_pylist() == [1, 3]
