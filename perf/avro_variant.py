"""The Avro variant of the perf workload: the same seed-shaped records, Avro-encoded, in each of the wire
formats ingestd's Avro decoders read (plain records; Pinot's magic byte + MD5 of the schema; Confluent's
magic byte + schema id), and the naive consume + fastavro decode ceiling of such a topic in Python.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import fastavro
import pyarrow as pa

from perf.measures import raw_consume
from perf.workload import BASE_TIME_MS, NAMES, SUBJECTS, publish_values

SEED_AVRO_DOC: dict[str, Any] = {
    "type": "record", "name": "transcript", "fields": [
        {"name": "studentID", "type": "int"},
        {"name": "firstName", "type": "string"},
        {"name": "lastName", "type": "string"},
        {"name": "gender", "type": "string"},
        {"name": "subject", "type": "string"},
        {"name": "score", "type": "float"},
        {"name": "timestamp", "type": "long"},
    ],
}
SEED_AVRO_TEXT = json.dumps(SEED_AVRO_DOC)
SEED_AVRO_SCHEMA = fastavro.parse_schema(SEED_AVRO_DOC)
SEED_AVRO_MD5 = hashlib.md5(SEED_AVRO_TEXT.encode()).digest()

# Each wire format: how a record's bytes are framed in a message.
FRAMES = {
    "simple": b"",
    "kafka_md5": b"\x00" + SEED_AVRO_MD5,
    "confluent": b"\x00" + (1).to_bytes(4, "big"),  # schema id 1: the first registered
}


def avro_message(sequence: int, frame: bytes = b"") -> bytes:
    first, last, gender = NAMES[sequence % len(NAMES)]
    buffer = io.BytesIO()
    buffer.write(frame)
    fastavro.schemaless_writer(buffer, SEED_AVRO_SCHEMA, {
        "studentID": 200 + sequence % 1000, "firstName": first, "lastName": last, "gender": gender,
        "subject": SUBJECTS[sequence % len(SUBJECTS)], "score": (sequence % 41) / 10,
        "timestamp": BASE_TIME_MS + sequence,
    })
    return buffer.getvalue()


def publish_avro(bootstrap: str, topic: str, count: int, partitions: int, frame: bytes = b"") -> float:
    return publish_values(bootstrap, topic, (avro_message(i, frame) for i in range(count)), partitions)


def consume_rates(bootstrap: str, topic: str, partitions: int, count: int) -> dict[str, Any]:
    """Two passes over the topic: raw consume, then consume + fastavro decode + Arrow columns."""
    raw = raw_consume(bootstrap, topic, partitions, count)
    decoded = raw_consume(bootstrap, topic, partitions, count, decode=_to_arrow)
    return {"messages": count, "raw_consume_msg_per_s": round(raw),
            "consume_fastavro_arrow_msg_per_s": round(decoded), "ratio_to_raw": round(decoded / raw, 3)}


def _to_arrow(values: list[bytes]) -> pa.Table:
    return pa.Table.from_pylist([fastavro.schemaless_reader(io.BytesIO(v), SEED_AVRO_SCHEMA, None)
                                 for v in values])
