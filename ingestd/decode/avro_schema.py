"""An Avro writer schema as the Avro decoders read it: its physical form and the Arrow type of each field.

Both decoding paths (a batch framed as one container block and read by polars, and fastavro record by
record) read records with the *physical* schema: the writer's schema with logical-type annotations
removed (the binary encoding is the same; logical values are the Pinot conversion's job, avro_pinot.py)
and each map rewritten as an array of {key, value} records (the same binary encoding, which polars can
read). Both then give the same Arrow types (`arrow_type`), so their results can be compared exactly.
A schema with a union of several non-null branches, or a recursive type, has no Arrow form here: it is
read record by record only.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import fastavro
import pyarrow as pa

NO_DEFAULT = object()
_PRIMITIVES: dict[str, pa.DataType] = {
    "null": pa.null(), "boolean": pa.bool_(), "int": pa.int32(), "long": pa.int64(),
    "float": pa.float32(), "double": pa.float64(), "bytes": pa.binary(), "string": pa.string(),
}
_NAMED = ("record", "error", "enum", "fixed")


class AvroSchemaError(ValueError):
    """The schema text is not an Avro record schema ingestd can read."""


@dataclass
class WriterSchema:
    """One writer schema: its top-level fields, physical form and (when it has one) Arrow form."""

    text: str
    original: dict[str, Any]
    physical: dict[str, Any]
    parsed: Any  # fastavro's parsed physical schema
    fields: dict[str, dict[str, Any]]  # top-level field name → its field object (original types)
    named: dict[str, Any]  # every named type by full name (original form)
    arrow: pa.Schema | None  # None: not representable, read record by record only
    block_schema: dict[str, Any] | None  # the physical schema with named references inlined (for polars)
    key: bytes = b""  # how the message header names it (a registry id, an MD5, or nothing)
    aliases: dict[str, str] = field(default_factory=dict)  # field alias → field name

    def field_default(self, name: str) -> Any:
        spec = self.fields.get(name)
        return NO_DEFAULT if spec is None else spec.get("default", NO_DEFAULT)

    def resolve_type(self, avro: Any) -> Any:
        """`avro` with a reference to a named type replaced by its definition (one level)."""
        if isinstance(avro, str) and avro not in _PRIMITIVES:
            return self.named.get(avro, self.named.get(avro.rsplit(".", 1)[-1], avro))
        return avro


def load_writer_schema(text: str | dict[str, Any], key: bytes = b"") -> WriterSchema:
    """Parse and check a writer schema (JSON text or an already-parsed document)."""
    try:
        original = json.loads(text) if isinstance(text, str) else copy.deepcopy(text)
    except json.JSONDecodeError as exc:
        raise AvroSchemaError(f"the Avro schema is not JSON: {exc}") from None
    if not isinstance(original, dict) or original.get("type") not in ("record", "error"):
        raise AvroSchemaError("the Avro schema must be a record schema")
    try:
        fastavro.parse_schema(original, _write_hint=False)
    except Exception as exc:  # fastavro raises several types for a bad schema
        raise AvroSchemaError(f"invalid Avro schema: {exc}") from None
    named: dict[str, Any] = {}
    _collect_named(original, original.get("namespace"), named)
    physical = _physical(original, "")
    try:
        parsed = fastavro.parse_schema(physical, _write_hint=False)
    except Exception as exc:
        raise AvroSchemaError(f"invalid Avro schema: {exc}") from None
    fields = {f["name"]: f for f in original["fields"]}
    aliases = {alias: f["name"] for f in original["fields"] for alias in f.get("aliases", ())}
    arrow = _record_arrow(physical, named_physical(physical))
    try:
        block = _inlined(physical, named_physical(physical), frozenset(), [0]) if arrow is not None else None
    except AvroSchemaError:
        block = None
    return WriterSchema(json.dumps(original), original, physical, parsed, fields, named, arrow, block, key,
                        aliases)


def named_physical(physical: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    _collect_named(physical, physical.get("namespace"), found)
    return found


def arrow_type(avro: Any, named: dict[str, Any], seen: frozenset[str] = frozenset()) -> pa.DataType | None:
    """The Arrow type both reading paths give a physical Avro type; None when there is none."""
    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        if len(branches) > 1:
            return None
        return pa.null() if not branches else arrow_type(branches[0], named, seen)
    if isinstance(avro, str):
        if avro in _PRIMITIVES:
            return _PRIMITIVES[avro]
        if avro in seen:
            return None  # a recursive type
        target = named.get(avro) or named.get(avro.rsplit(".", 1)[-1])
        return None if target is None else arrow_type(target, named, seen | {avro})
    kind = avro.get("type")
    if isinstance(kind, list | dict) or kind in _PRIMITIVES:
        return arrow_type(kind, named, seen)
    if kind in ("enum", "string"):
        return pa.string()
    if kind == "fixed":
        return pa.binary()
    if kind == "array":
        item = arrow_type(avro["items"], named, seen)
        return None if item is None else pa.list_(item)
    if kind in ("record", "error"):
        return _struct(avro, named, seen | {_full_name(avro, None), avro.get("name", "")})
    return None


def _record_arrow(record: dict[str, Any], named: dict[str, Any]) -> pa.Schema | None:
    struct = _struct(record, named, frozenset({record["name"]}))
    return None if struct is None else pa.schema(list(struct))


def _struct(record: dict[str, Any], named: dict[str, Any], seen: frozenset[str]) -> pa.DataType | None:
    children = []
    for item in record["fields"]:
        child = arrow_type(item["type"], named, seen)
        if child is None:
            return None
        children.append(pa.field(item["name"], child))
    if not children:
        return None  # an empty record has no Arrow struct form
    return pa.struct(children)


def _inlined(avro: Any, named: dict[str, Any], seen: frozenset[str], counter: list[int]) -> Any:
    """`avro` with each reference to a named type replaced by a renamed copy of its definition (polars'
    reader does not follow references; names do not change the binary encoding)."""
    if isinstance(avro, list):
        return [_inlined(branch, named, seen, counter) for branch in avro]
    if isinstance(avro, str):
        target = None if avro in _PRIMITIVES else named.get(avro) or named.get(avro.rsplit(".", 1)[-1])
        if target is None:
            return avro
        if avro in seen:
            raise AvroSchemaError("a recursive type has no block form")
        counter[0] += 1
        copy_ = _inlined(target, named, seen | {avro}, counter)
        return copy_ | {"name": f"{str(target['name']).rsplit('.', 1)[-1]}_ref{counter[0]}"}
    if not isinstance(avro, dict):
        return avro
    kind = avro.get("type")
    if kind == "array":
        return avro | {"items": _inlined(avro["items"], named, seen, counter)}
    if kind in ("record", "error"):
        return avro | {"fields": [item | {"type": _inlined(item["type"], named, seen, counter)}
                                  for item in avro["fields"]]}
    return avro


def _physical(avro: Any, path: str) -> Any:
    """Logical types stripped, maps as arrays of {key, value} records (same binary encoding). A rewritten
    map's record is named after where it sits, so two versions of a schema name it alike."""
    if isinstance(avro, list):
        return [_physical(branch, path) for branch in avro]
    if not isinstance(avro, dict):
        return avro
    kind = avro.get("type")
    if isinstance(kind, list | dict):
        return _physical(kind, path)
    if kind == "map":
        return {"type": "array", "items": {
            "type": "record", "name": f"ingestd_map_entry{path}",
            "fields": [{"name": "key", "type": "string"},
                       {"name": "value", "type": _physical(avro["values"], path + "_values")}]}}
    if kind == "array":
        return {"type": "array", "items": _physical(avro["items"], path + "_items")}
    if kind in ("record", "error"):
        fields = []
        for item in avro["fields"]:
            physical = {"name": item["name"], "type": _physical(item["type"], f"{path}_{item['name']}")}
            if "default" in item:
                physical["default"] = _physical_default(item["type"], item["default"])
            if item.get("aliases"):
                physical["aliases"] = list(item["aliases"])
            fields.append(physical)
        return {k: v for k, v in avro.items() if k in ("name", "namespace", "aliases")} | {
            "type": "record", "fields": fields}
    if kind == "enum":
        return {k: v for k, v in avro.items() if k in ("name", "namespace", "symbols", "type", "aliases")}
    if kind == "fixed":
        return {k: v for k, v in avro.items() if k in ("name", "namespace", "size", "type", "aliases")}
    if kind in _PRIMITIVES:
        return kind
    return avro


def _physical_default(avro: Any, default: Any) -> Any:
    """A field default in the physical schema: a map's default becomes its list of {key, value}."""
    first = avro[0] if isinstance(avro, list) and avro else avro
    if isinstance(first, dict) and first.get("type") == "map" and isinstance(default, dict):
        return [{"key": k, "value": v} for k, v in default.items()]
    return default


def _collect_named(avro: Any, namespace: str | None, found: dict[str, Any]) -> None:
    if isinstance(avro, list):
        for branch in avro:
            _collect_named(branch, namespace, found)
        return
    if not isinstance(avro, dict):
        return
    kind = avro.get("type")
    if isinstance(kind, list | dict):
        _collect_named(kind, namespace, found)
        return
    if kind in _NAMED and "name" in avro:
        found[_full_name(avro, namespace)] = avro
        found.setdefault(avro["name"].rsplit(".", 1)[-1], avro)
        namespace = avro.get("namespace", namespace)
    if kind in ("record", "error"):
        for item in avro.get("fields", ()):
            _collect_named(item["type"], namespace, found)
    elif kind == "array":
        _collect_named(avro["items"], namespace, found)
    elif kind == "map":
        _collect_named(avro["values"], namespace, found)


def _full_name(avro: dict[str, Any], namespace: str | None) -> str:
    name = str(avro.get("name", ""))
    if "." in name:
        return name
    space = avro.get("namespace", namespace)
    return f"{space}.{name}" if space else name
