"""Avro schema resolution between a message's writer schema and the decoder's reader schema, where the
block path can apply it itself: which writer field each reader field reads, and the reader's defaults.

The block path reads records with their writer schema; it applies resolution only when that is a matter
of picking fields: the same record name, and every reader field either written by the writer with the
very same type (by name or by one of its aliases) or absent from it and given a default. Anything else
(a type promotion, a nested change) is left to fastavro's own resolution on the record-by-record path.
"""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro

from ingestd.decode.avro_schema import NO_DEFAULT, WriterSchema


def field_sources(writer: WriterSchema, reader: WriterSchema) -> dict[str, str | None] | None:
    """Reader field → the writer field it reads (None: the reader's default), or None if resolution is
    not a simple choice of fields."""
    if _full_name(writer.physical) != _full_name(reader.physical):
        return None
    written = {f["name"]: f for f in writer.physical["fields"]}
    sources: dict[str, str | None] = {}
    for item in reader.physical["fields"]:
        candidates = [item["name"], *item.get("aliases", ())]
        source = next((name for name in candidates if name in written), None)
        if source is None:
            if "default" not in item:
                return None
            sources[item["name"]] = None
        elif _same_type(written[source]["type"], item["type"]):
            sources[item["name"]] = source
        else:
            return None
    return sources


def reader_default(reader: WriterSchema, name: str) -> Any:
    """The value a record lacking field `name` reads under `reader`, as fastavro reads it (physical)."""
    item = next(f for f in reader.physical["fields"] if f["name"] == name)
    if item.get("default", NO_DEFAULT) is NO_DEFAULT:
        raise KeyError(name)
    record = {k: v for k, v in reader.physical.items() if k != "fields"}
    empty = fastavro.parse_schema(record | {"fields": []}, _write_hint=False)
    one = fastavro.parse_schema(record | {"fields": [item]}, _write_hint=False)
    return fastavro.schemaless_reader(io.BytesIO(b""), empty, one)[name]


def _same_type(written: Any, read: Any) -> bool:
    return json.dumps(written, sort_keys=True) == json.dumps(read, sort_keys=True)


def _full_name(record: dict[str, Any]) -> str:
    name = str(record.get("name", ""))
    space = record.get("namespace")
    return name if "." in name or not space else f"{space}.{name}"
