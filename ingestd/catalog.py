"""The catalog: uploaded schemas and table configs, persisted under data_dir/metadata as JSON.

Files are replaced atomically (temp, fsync, rename, fsync dir) so a crash never leaves half a config.
A table gets a fresh uid each time it is created: its data lives under that uid, so a table that is
deleted and created again starts from nothing.

Configs arrive over HTTP and are untrusted. A table config is checked against the client-property
policy (stream/kafka_properties.py, with the server's `allowed_file_dirs`) when it is uploaded and
when it is restored at start (a stored config the policy now refuses is logged and skipped, never
handed to librdkafka). On upload its stream clients are also built once and closed, so what librdkafka
rejects is a 400 rather than a table that can never consume; a stored config librdkafka has come to
reject (a new librdkafka) is still restored, and its status shows the error.
The metadata directory is private to the server's user: stored configs hold stream credentials.

A live table's config or schema may change (PUT /tables, PUT /schemas, /tableConfigs): a change is
prepared (parsed and checked: same topic and time column, only new columns) and then committed (stored,
then swapped in) by the coordinator, which tells the workers in between. A table's pause state is stored
with its config, so a paused table stays paused across restarts.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from ingestd.config import Schema, parse_schema, parse_table_config
from ingestd.config.schema_change import check_schema_change
from ingestd.config.table import TableConfig, check_against_schema
from ingestd.durable import replace_atomically
from ingestd.errors import ConfigError, Conflict, IngestdError, NotFound
from ingestd.ingest.table_spec import TableSpec
from ingestd.paths import DataPaths
from ingestd.stream.kafka_properties import probe_clients

log = logging.getLogger(__name__)


class Catalog:
    def __init__(self, paths: DataPaths, allowed_file_dirs: Sequence[Path] = ()) -> None:
        self._paths = paths
        self.allowed_file_dirs = tuple(allowed_file_dirs)  # Settings.allowed_file_dirs
        self._lock = threading.Lock()
        self.schemas: dict[str, Schema] = {}
        self.tables: dict[str, TableSpec] = {}
        self.pauses: dict[str, dict[str, Any]] = {}  # table → its last pause state (pauseConsumption)

    def load(self) -> None:
        """Restore what was uploaded before; a stored file that no longer parses is logged and skipped."""
        _make_private(self._paths.schemas.parent)
        for path in sorted(self._paths.schemas.glob("*.json")):
            try:
                schema = parse_schema(orjson.loads(path.read_bytes()))
                self.schemas[schema.name] = schema
            except (IngestdError, orjson.JSONDecodeError) as exc:
                log.error("cannot restore schema %s: %s", path, exc)
        for path in sorted(self._paths.tables.glob("*.json")):
            try:
                stored = orjson.loads(path.read_bytes())
                config = parse_table_config(stored["config"], self.schemas, self.allowed_file_dirs)
                self.tables[config.name] = TableSpec(config, self.schemas[config.schema_name], stored["uid"])
                if stored.get("pause"):
                    self.pauses[config.name] = stored["pause"]
            except (IngestdError, orjson.JSONDecodeError, KeyError) as exc:
                log.error("cannot restore table %s: %s", path, exc)

    def put_schema(self, raw: Any) -> Schema:
        """Store a schema no table uses yet (a new one, or a change before any table uses it)."""
        schema = parse_schema(raw)
        with self._lock:
            in_use = [t.name for t in self.tables.values() if t.config.schema_name == schema.name]
            if in_use and self.schemas.get(schema.name) != schema:
                raise Conflict(f"schema {schema.name!r} is used by table(s) {in_use}; update it instead")
            _write_json(self._paths.schemas / f"{schema.name}.json", raw)
            self.schemas[schema.name] = schema
        return schema

    def prepare_schema(self, raw: Any) -> tuple[Schema, list[TableSpec]]:
        """A schema checked as a change of the stored one: the tables using it, each with the new schema
        (Conflict if a column is removed or retyped, or a table's time column changes)."""
        schema = parse_schema(raw)
        with self._lock:
            users = [t for t in self.tables.values() if t.config.schema_name == schema.name]
            old = self.schemas.get(schema.name)
            if old is not None and users:
                check_schema_change(old, schema, {t.config.time_column for t in users})
            updated = []
            for spec in users:
                check_against_schema(spec.config, {schema.name: schema})
                updated.append(TableSpec(spec.config, schema, spec.uid))
        return schema, updated

    def commit_schema(self, raw: Any, schema: Schema, specs: Sequence[TableSpec]) -> None:
        """Store a prepared schema and swap it (and its tables' specs) in."""
        with self._lock:
            _write_json(self._paths.schemas / f"{schema.name}.json", raw)
            self.schemas[schema.name] = schema
            for spec in specs:
                if spec.name in self.tables:
                    self.tables[spec.name] = spec

    def prepare_table(self, name: str, raw: Any) -> TableSpec:
        """A changed config of the existing table `name`, checked: same topic, stream type and schema,
        same time column; its stream clients build."""
        with self._lock:
            current = self.table(name)
            config = parse_table_config(raw, self.schemas, self.allowed_file_dirs)
            if config.name != current.name:
                raise ConfigError("tableName", f"{config.name!r} does not match the table {current.name!r} "
                                  "of the request path")
            _check_live_change(current.config, config)
            spec = TableSpec(config, self.schemas[config.schema_name], current.uid)
        probe_clients(spec.consumer_factory(), config.stream)
        return spec

    def commit_table(self, spec: TableSpec) -> None:
        """Store a prepared table config (same uid, same pause state) and swap it in."""
        with self._lock:
            self.tables[spec.name] = spec
            self._store_table(spec.name)

    def set_pause(self, name: str, state: dict[str, Any]) -> None:
        """Store a table's pause state (Pinot's PauseState: paused, reasonCode, comment, timestamp)."""
        with self._lock:
            spec = self.table(name)
            self.pauses[spec.name] = state
            self._store_table(spec.name)

    def is_paused(self, name: str) -> bool:
        return bool(self.pauses.get(name, {}).get("paused"))

    def _store_table(self, name: str) -> None:
        spec = self.tables[name]
        document: dict[str, Any] = {"uid": spec.uid, "config": spec.config.raw}
        if name in self.pauses:
            document["pause"] = self.pauses[name]
        _write_json(self._paths.tables / f"{name}.json", document)

    def delete_schema(self, name: str) -> None:
        with self._lock:
            if name not in self.schemas:
                raise NotFound(f"schema {name!r} does not exist")
            in_use = [t.name for t in self.tables.values() if t.config.schema_name == name]
            if in_use:
                raise Conflict(f"schema {name!r} is used by table(s) {in_use}; delete them first")
            (self._paths.schemas / f"{name}.json").unlink(missing_ok=True)
            del self.schemas[name]

    def put_table(self, raw: Any, verify: Callable[[TableSpec], None] | None = None) -> TableSpec:
        """Parse, check and store a new table; `verify` (the coordinator's stream check) runs last,
        before anything is stored, and may refuse the table by raising."""
        with self._lock:
            config = parse_table_config(raw, self.schemas, self.allowed_file_dirs)
            if config.name in self.tables:
                raise Conflict(f"table {config.name}_REALTIME already exists")
            spec = TableSpec(config, self.schemas[config.schema_name], uuid.uuid4().hex)
            probe_clients(spec.consumer_factory(), config.stream)
            if verify is not None:
                verify(spec)
            _write_json(self._paths.tables / f"{config.name}.json", {"uid": spec.uid, "config": raw})
            self.tables[config.name] = spec
        return spec

    def remove_table(self, name: str) -> TableSpec:
        with self._lock:
            spec = self.tables.pop(name, None)
            if spec is None:
                raise NotFound(f"table {name!r} does not exist")
            self.pauses.pop(name, None)
            (self._paths.tables / f"{name}.json").unlink(missing_ok=True)
        return spec

    def table(self, name: str) -> TableSpec:
        spec = self.tables.get(name[: -len("_REALTIME")] if name.endswith("_REALTIME") else name)
        if spec is None:
            raise NotFound(f"table {name!r} does not exist")
        return spec


_FIXED = (("topic", "the topic"), ("stream_type", "the stream type"),
          ("consumer_factory", "the consumer factory class"))


def _check_live_change(old: TableConfig, new: TableConfig) -> None:
    """What a live table cannot change: offsets and segments would no longer mean the same thing."""
    path = new.stream.configs_path
    for attribute, what in _FIXED:
        if getattr(old.stream, attribute) != getattr(new.stream, attribute):
            raise Conflict(f"table {old.name}: {what} ({path}) cannot change while the table exists (its "
                           "offsets belong to the old one); delete the table and create it again")
    if old.schema_name != new.schema_name:
        raise Conflict(f"table {old.name}: segmentsConfig.schemaName cannot change (from "
                       f"{old.schema_name!r} to {new.schema_name!r}); update the schema instead")
    if old.time_column != new.time_column:
        raise Conflict(f"table {old.name}: segmentsConfig.timeColumnName cannot change (from "
                       f"{old.time_column!r} to {new.time_column!r}): sealed segments keep their time ranges")


def _write_json(path: Path, document: Any) -> None:
    _make_private(path.parent.parent)
    replace_atomically(path, orjson.dumps(document, option=orjson.OPT_INDENT_2))


def _make_private(directory: Path) -> None:
    """Only the server's user may enter `directory` (stored table configs hold stream credentials)."""
    directory.mkdir(parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077:
        os.chmod(directory, 0o700)
