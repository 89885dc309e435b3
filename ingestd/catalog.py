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
from ingestd.durable import replace_atomically
from ingestd.errors import Conflict, IngestdError, NotFound
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
            except (IngestdError, orjson.JSONDecodeError, KeyError) as exc:
                log.error("cannot restore table %s: %s", path, exc)

    def put_schema(self, raw: Any) -> Schema:
        schema = parse_schema(raw)
        with self._lock:
            in_use = [t.name for t in self.tables.values() if t.config.schema_name == schema.name]
            if in_use and self.schemas.get(schema.name) != schema:
                raise Conflict(f"schema {schema.name!r} is used by table(s) {in_use}; delete them first")
            _write_json(self._paths.schemas / f"{schema.name}.json", raw)
            self.schemas[schema.name] = schema
        return schema

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
            (self._paths.tables / f"{name}.json").unlink(missing_ok=True)
        return spec

    def table(self, name: str) -> TableSpec:
        spec = self.tables.get(name[: -len("_REALTIME")] if name.endswith("_REALTIME") else name)
        if spec is None:
            raise NotFound(f"table {name!r} does not exist")
        return spec


def _write_json(path: Path, document: Any) -> None:
    _make_private(path.parent.parent)
    replace_atomically(path, orjson.dumps(document, option=orjson.OPT_INDENT_2))


def _make_private(directory: Path) -> None:
    """Only the server's user may enter `directory` (stored table configs hold stream credentials)."""
    directory.mkdir(parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077:
        os.chmod(directory, 0o700)
