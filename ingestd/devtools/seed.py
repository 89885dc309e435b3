"""The seed document's schema, table config and records, adaptable per test: package data under
ingestd/examples/transcript (`examples/transcript` in a checkout links there), so an installed ingestd
finds them too."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson

EXAMPLES = Path(str(files("ingestd") / "examples" / "transcript"))


def seed_schema() -> dict[str, Any]:
    return json.loads((EXAMPLES / "transcript-schema.json").read_text())


def seed_table(**stream_overrides: str) -> dict[str, Any]:
    table = json.loads((EXAMPLES / "transcript-table-realtime.json").read_text())
    table["tableIndexConfig"]["streamConfigs"].update(stream_overrides)
    return table


def seed_records() -> list[bytes]:
    return [line.encode() for line in (EXAMPLES / "transcript-data.json").read_text().splitlines() if line]


def seed_configs(name: str, **stream_overrides: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The seed's schema and table config renamed to `name` (tests share one broker and server)."""
    schema, table = seed_schema(), seed_table(**stream_overrides)
    schema["schemaName"] = name
    table["tableName"] = name
    table["segmentsConfig"]["schemaName"] = name
    return schema, table


def student_record(sequence: int, student: int = 1, subject: str = "Maths") -> bytes:
    return orjson.dumps({"studentID": student, "firstName": f"s{sequence}", "lastName": "L",
                         "gender": "Female", "subject": subject, "score": (sequence % 40) / 10,
                         "timestamp": 1_571_900_400_000 + sequence})
