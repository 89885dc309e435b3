"""The Avro variant of the perf workload: the same seed-shaped records, Avro-encoded (schemaless, the way a
plain Avro producer writes them), and the consume + decode ceiling of that topic in Python.

ingestd has no Avro decoder yet (it comes with the decoders-and-streams issue), so this measures the
baseline that decoder will be held to: raw consume of the Avro topic, and consume + fastavro decode into
Arrow columns, in the same run as the JSON figures.
"""

from __future__ import annotations

import io
from typing import Any

import fastavro
import pyarrow as pa

from perf.measures import raw_consume
from perf.workload import BASE_TIME_MS, NAMES, SUBJECTS, publish_values

SEED_AVRO_SCHEMA = fastavro.parse_schema({
    "type": "record", "name": "transcript", "fields": [
        {"name": "studentID", "type": "int"},
        {"name": "firstName", "type": "string"},
        {"name": "lastName", "type": "string"},
        {"name": "gender", "type": "string"},
        {"name": "subject", "type": "string"},
        {"name": "score", "type": "float"},
        {"name": "timestamp", "type": "long"},
    ],
})


def avro_message(sequence: int) -> bytes:
    first, last, gender = NAMES[sequence % len(NAMES)]
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, SEED_AVRO_SCHEMA, {
        "studentID": 200 + sequence % 1000, "firstName": first, "lastName": last, "gender": gender,
        "subject": SUBJECTS[sequence % len(SUBJECTS)], "score": (sequence % 41) / 10,
        "timestamp": BASE_TIME_MS + sequence,
    })
    return buffer.getvalue()


def publish_avro(bootstrap: str, topic: str, count: int, partitions: int) -> float:
    return publish_values(bootstrap, topic, (avro_message(i) for i in range(count)), partitions)


def consume_rates(bootstrap: str, topic: str, partitions: int, count: int) -> dict[str, Any]:
    """Two passes over the topic: raw consume, then consume + fastavro decode + Arrow columns."""
    raw = raw_consume(bootstrap, topic, partitions, count)
    decoded = raw_consume(bootstrap, topic, partitions, count, decode=_to_arrow)
    return {"messages": count, "raw_consume_msg_per_s": round(raw),
            "consume_fastavro_arrow_msg_per_s": round(decoded), "ratio_to_raw": round(decoded / raw, 3)}


def _to_arrow(values: list[bytes]) -> pa.Table:
    return pa.Table.from_pylist([fastavro.schemaless_reader(io.BytesIO(v), SEED_AVRO_SCHEMA, None)
                                 for v in values])
