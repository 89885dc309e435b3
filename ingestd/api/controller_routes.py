"""Pinot controller routes for schemas and table configs beyond creation: schema upload as JSON or a
multipart file (PinotSchemaRestletResource), schema and table config changes on a live table
(`PUT /schemas/{name}`, `PUT /tables/{name}`), the `*/validate` routes (checked, never stored), a
table's schema (PinotTableSchema, which pinotdb's SQLAlchemy dialect reads for a table's columns), and
`GET /version` (PinotVersionRestletResource)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from ingestd import __version__
from ingestd.api.bodies import json_document, reported
from ingestd.config import parse_table_config
from ingestd.config.unrecognized import unrecognized_schema_properties, unrecognized_table_properties
from ingestd.coordinator import Coordinator
from ingestd.errors import ConfigError, Conflict, NotFound
from ingestd.redact import mask_secrets
from ingestd.stream.kafka_properties import probe_clients


def add_controller_routes(app: FastAPI, coordinator: Coordinator) -> None:
    catalog = coordinator.catalog

    @app.post("/schemas")
    async def add_schema(request: Request, override: bool = True, force: bool = False) -> dict[str, Any]:
        """Add a schema (JSON body, or a multipart form with one file: `curl -F schemaName=@s.json`).
        An existing schema is changed (`override`, default true): tables using it take new columns live;
        removing or retyping a column is a 409. `force` is accepted and ignored."""
        raw = await json_document(request, "schema")
        schema = await run_in_threadpool(coordinator.add_schema, raw, override)
        unrecognized = reported(unrecognized_schema_properties(raw), f"schema {schema.name}")
        return {"unrecognizedProperties": unrecognized, "status": f"{schema.name} successfully added"}

    @app.put("/schemas/{name}")
    async def update_schema(name: str, request: Request, reload: bool = False,
                            force: bool = False) -> dict[str, Any]:
        """Change a schema (JSON or multipart); tables using it take new columns at once: older segments
        answer the column's default null value. `reload` and `force` are accepted and ignored."""
        raw = await json_document(request, "schema")
        schema = await run_in_threadpool(lambda: coordinator.add_schema(raw, True, name))
        unrecognized = reported(unrecognized_schema_properties(raw), f"schema {schema.name}")
        return {"unrecognizedProperties": unrecognized, "status": f"{schema.name} successfully added"}

    @app.post("/schemas/validate")
    async def validate_schema(request: Request) -> dict[str, Any]:
        """Check a schema (JSON or multipart) as an upload would, without storing it: the schema and its
        unrecognized properties, or 400 naming the problem (a change a table using it cannot take too)."""
        raw = await json_document(request, "schema")
        try:
            schema, _ = catalog.prepare_schema(raw)
        except Conflict as exc:
            raise ConfigError("", str(exc)) from None
        return dict(schema.raw) | {"unrecognizedProperties": unrecognized_schema_properties(raw)}

    @app.get("/tables/{name}/schema")
    def table_schema(name: str) -> Any:
        """The schema of table `name` (what pinotdb's SQLAlchemy dialect reflects columns from)."""
        spec = catalog.table(name)
        schema = catalog.schemas.get(spec.config.schema_name)
        if schema is None:
            raise NotFound(f"Schema not found for table: {name}")
        return schema.raw

    @app.put("/tables/{name}")
    async def update_table(name: str, request: Request) -> dict[str, Any]:
        """Change a live table's config: flush thresholds, time threshold, broker list, client
        properties, retention... apply at once, without losing or re-reading a row, and are stored. The
        topic, schema name and time column cannot change (409)."""
        raw = await json_document(request, "tableConfig")
        body_name = raw.get("tableName") if isinstance(raw, dict) else None
        raw_name = name.removesuffix("_REALTIME")
        if isinstance(body_name, str) and body_name.removesuffix("_REALTIME") != raw_name:
            raise ConfigError("tableName", f"Request table {name} does not match table name in the body "
                              f"{body_name}")
        spec = await run_in_threadpool(coordinator.update_table, name, raw)
        unrecognized = reported(unrecognized_table_properties(raw), f"table {spec.name}")
        return {"unrecognizedProperties": unrecognized, "status": f"Table config updated for {name}"}

    @app.post("/tables/validate")
    async def validate_table(request: Request) -> dict[str, Any]:
        """Check a table config against its stored schema as `POST /tables` would (the stream itself is
        not contacted), without storing it: `{"REALTIME": config, "unrecognizedProperties": {...}}`."""
        raw = await json_document(request, "tableConfig")
        config = parse_table_config(raw, catalog.schemas, catalog.allowed_file_dirs)
        probe_clients(config.stream.consumer_factory.load()(config.stream, f"ingestd-{config.name}"),
                      config.stream)
        return {"REALTIME": mask_secrets(config.raw),
                "unrecognizedProperties": unrecognized_table_properties(raw)}

    @app.get("/version")
    def version() -> dict[str, str]:
        """Component versions, as Pinot's controller lists its own."""
        return {"ingestd": __version__}
