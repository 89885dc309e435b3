"""Pinot's `/tableConfigs` routes (TableConfigsRestletResource): a table's schema and REALTIME table
config as one document, `{"tableName", "schema", "realtime"}`, which `pinot-admin.sh AddTable -exec`
posts. Pinot's rules: the schema is named after the table; a create that fails part-way deletes what it
created; a table that exists is a 400 pointing at PUT (and PUT of a missing one a 400 pointing at POST).
OFFLINE configs are refused as not supported."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from ingestd.api.bodies import json_document, reported
from ingestd.config import parse_schema, parse_table_config
from ingestd.config.fields import require_mapping, require_str
from ingestd.config.unrecognized import unrecognized_schema_properties, unrecognized_table_properties
from ingestd.coordinator import Coordinator
from ingestd.errors import ConfigError, Conflict, NotFound, NotSupportedYet
from ingestd.redact import mask_secrets
from ingestd.stream.kafka_properties import probe_clients

_KEYS = ("tableName", "schema", "realtime", "offline")


def add_table_configs_routes(app: FastAPI, coordinator: Coordinator) -> None:
    catalog = coordinator.catalog

    @app.get("/tableConfigs")
    def list_table_configs() -> list[str]:
        """The raw table names."""
        return sorted(catalog.tables)

    @app.get("/tableConfigs/{name}")
    def get_table_configs(name: str) -> dict[str, Any]:
        """`{"tableName", "schema", "realtime"}` (secrets in the config masked as in `GET /tables`)."""
        spec = catalog.table(name)
        schema = catalog.schemas.get(spec.config.schema_name)
        if schema is None:
            raise NotFound(f"Schema does not exist for table {name} Use POST to create it first.")
        return {"tableName": spec.name, "schema": schema.raw, "realtime": mask_secrets(spec.config.raw)}

    @app.post("/tableConfigs")
    async def add_table_configs(request: Request) -> dict[str, Any]:
        """Create the schema, then the table (its stream is checked first); if the table is refused, the
        schema is deleted again."""
        name, schema_raw, table_raw, unrecognized = _parts(await json_document(request, "tableConfigs"))
        if name in catalog.tables or name in catalog.schemas:
            raise ConfigError("tableName", f"TableConfigs: {name} already exists. Use PUT to update existing "
                              "config")

        def create() -> None:
            coordinator.add_schema(schema_raw, override=False)
            try:
                coordinator.add_table(table_raw)
            except Exception:
                catalog.delete_schema(name)
                raise

        await run_in_threadpool(create)
        return {"unrecognizedProperties": reported(unrecognized, f"tableConfigs {name}"),
                "status": f"TableConfigs {name} successfully added"}

    @app.put("/tableConfigs/{name}")
    async def update_table_configs(name: str, request: Request, reload: bool = False,
                                   forceTableSchemaUpdate: bool = False) -> dict[str, Any]:
        """Change the schema (new columns only), then the table config, of a live table."""
        body_name, schema_raw, table_raw, unrecognized = _parts(await json_document(request, "tableConfigs"))
        if body_name != name:
            raise ConfigError("tableName", f"'tableName' in TableConfigs: {body_name} must match provided "
                              f"tableName: {name}")
        if name not in catalog.tables:
            raise ConfigError("tableName", f"TableConfigs: {name} does not exist. Use POST to create it "
                              "first.")

        def update() -> None:
            coordinator.add_schema(schema_raw, True, name)
            coordinator.update_table(name, table_raw)

        await run_in_threadpool(update)
        return {"unrecognizedProperties": reported(unrecognized, f"tableConfigs {name}"),
                "status": f"TableConfigs updated for {name}"}

    @app.delete("/tableConfigs/{name}")
    def delete_table_configs(name: str) -> dict[str, str]:
        """Delete the table (segments and ledger) and its schema."""
        if name.endswith(("_REALTIME", "_OFFLINE")):
            raise ConfigError("tableName", f"Invalid table name: {name}. Use raw table name.")
        existed = name in catalog.tables
        if existed:
            coordinator.drop_table(name)
        schema_existed = name in catalog.schemas
        if schema_existed:
            catalog.delete_schema(name)
        if existed or schema_existed:
            return {"status": f"Deleted TableConfigs: {name}"}
        return {"status": f"TableConfigs: {name} don't exist. Invoked delete anyway to clean stale "
                          "metadata/segments"}

    @app.post("/tableConfigs/validate")
    async def validate_table_configs(request: Request) -> dict[str, Any]:
        """Check the document as POST or PUT would, without storing anything (the stream itself is not
        contacted): the document and its unrecognized properties, or 400 naming the problem."""
        name, schema_raw, table_raw, unrecognized = _parts(await json_document(request, "tableConfigs"))
        try:
            schema, _ = catalog.prepare_schema(schema_raw)
        except Conflict as exc:
            raise ConfigError("schema", str(exc)) from None
        config = parse_table_config(table_raw, {schema.name: schema}, catalog.allowed_file_dirs)
        probe_clients(config.stream.consumer_factory.load()(config.stream, f"ingestd-{name}"), config.stream)
        return {"tableName": name, "schema": schema.raw, "realtime": mask_secrets(config.raw),
                "unrecognizedProperties": unrecognized}


def _parts(document: Any) -> tuple[str, Mapping[str, Any], Mapping[str, Any], dict[str, Any]]:
    """tableName, schema and realtime config of a TableConfigs document, checked against each other as
    Pinot's validateConfig does; and the unrecognized properties of the whole, by JSON pointer."""
    doc = require_mapping(document, "tableConfigs")
    name = require_str(doc, "tableName", "")
    if doc.get("offline") is not None:
        raise NotSupportedYet("offline", "OFFLINE (batch) table configs")
    schema_raw = require_mapping(doc.get("schema"), "schema")
    if doc.get("realtime") is None:
        raise ConfigError("realtime", "is missing: Must provide at least one of 'realtime' or 'offline' "
                          f"table configs for adding TableConfigs: {name}")
    table_raw = require_mapping(doc["realtime"], "realtime")
    schema = parse_schema(schema_raw)
    if schema.name != name:
        raise ConfigError("schema.schemaName", f"'tableName': {name} must be equal to 'schemaName' from "
                          f"'schema': {schema.name}")
    table_name = str(table_raw.get("tableName", "")).removesuffix("_REALTIME")
    if table_name != name:
        raise ConfigError("realtime.tableName", f"Name in 'realtime' table config: {table_name} must be "
                          f"equal to 'tableName': {name}")
    unrecognized = {f"/{key}": value for key, value in doc.items() if key not in _KEYS}
    unrecognized |= {f"/schema{path}": value
                     for path, value in unrecognized_schema_properties(schema_raw).items()}
    unrecognized |= {f"/realtime{path}": value
                     for path, value in unrecognized_table_properties(table_raw).items()}
    return name, schema_raw, table_raw, unrecognized
