"""FastAPI routes with Pinot's paths and JSON shapes, over a started Coordinator: the core controller
routes here; schema and table changes and validation (controller_routes.py), /tableConfigs
(table_configs_routes.py), pause/resume/force commit/size (table_ops_routes.py), the broker's query
routes (query_routes.py), the console (console.py) and the offline API reference at /docs (docs_page.py).

Controller handlers are plain `def`s (FastAPI runs them in its thread pool) because they may wait on
worker replies; queries run on a pool of their own (query_routes.py); `/health` runs on the event loop
itself, so it answers even when every thread is busy.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from ingestd import __version__
from ingestd.api.access import install_access_control
from ingestd.api.bodies import json_document, reported
from ingestd.api.console import add_console_routes
from ingestd.api.controller_routes import add_controller_routes
from ingestd.api.docs_page import add_docs_page
from ingestd.api.peer_routes import add_peer_routes
from ingestd.api.query_routes import add_query_routes
from ingestd.api.table_configs_routes import add_table_configs_routes
from ingestd.api.table_ops_routes import add_table_ops_routes
from ingestd.config.unrecognized import unrecognized_table_properties
from ingestd.coordinator import Coordinator
from ingestd.errors import ConfigError, Conflict, NotFound
from ingestd.metrics import CONTENT_TYPE, ServerMetrics
from ingestd.query.admission import QueryAdmission
from ingestd.query.broker import Broker
from ingestd.query.engine import ArrowSqlEngine
from ingestd.redact import mask_secrets
from ingestd.segments_view import consuming_segment_metadata, segment_metadata, segment_names

log = logging.getLogger(__name__)


def create_app(coordinator: Coordinator) -> FastAPI:
    app = FastAPI(title="ingestd", version=__version__, docs_url=None, redoc_url=None)
    settings = coordinator.settings
    install_access_control(app, settings)
    query = settings.query
    engine = ArrowSqlEngine(*query.duckdb_limits(settings.worker_count + 1))
    broker = Broker(coordinator, engine, query.timeout_ms, query.max_sql_bytes)
    admission = QueryAdmission(query.max_concurrent, waiting=4 * query.max_concurrent)
    metrics = ServerMetrics(coordinator.table_views, coordinator.worker_statuses)
    add_query_routes(app, broker, admission, query.timeout_ms, metrics.queries.observe)
    add_peer_routes(app, broker, admission)
    add_console_routes(app)
    add_docs_page(app)
    catalog = coordinator.catalog

    @app.exception_handler(ConfigError)
    def bad_config(_: Request, exc: ConfigError) -> JSONResponse:
        return JSONResponse({"code": 400, "error": str(exc)}, status_code=400)

    @app.exception_handler(NotFound)
    def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"code": 404, "error": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"code": 409, "error": str(exc)}, status_code=409)

    @app.get("/health", response_class=PlainTextResponse)
    async def health() -> str:
        return "OK"

    add_controller_routes(app, coordinator)  # POST/PUT /schemas, PUT /tables/{name}, validation, version
    add_table_configs_routes(app, coordinator)
    add_table_ops_routes(app, coordinator)

    @app.get("/schemas")
    def list_schemas() -> list[str]:
        return sorted(catalog.schemas)

    @app.get("/schemas/{name}")
    def get_schema(name: str) -> Any:
        if name not in catalog.schemas:
            raise NotFound(f"schema {name!r} does not exist")
        return catalog.schemas[name].raw

    @app.delete("/schemas/{name}")
    def delete_schema(name: str) -> dict[str, str]:
        catalog.delete_schema(name)
        return {"status": f"Schema {name} deleted"}

    @app.post("/tables")
    async def add_table(request: Request) -> dict[str, Any]:
        raw = await json_document(request, "tableConfig")
        spec = await run_in_threadpool(coordinator.add_table, raw)  # the stream check takes seconds
        unrecognized = reported(unrecognized_table_properties(raw), f"table {spec.name}")
        return {"unrecognizedProperties": unrecognized,
                "status": f"Table {spec.name}_REALTIME successfully added"}

    @app.get("/tables")
    def list_tables() -> dict[str, list[str]]:
        return {"tables": sorted(catalog.tables)}

    @app.get("/tables/{name}")
    def get_table(name: str) -> dict[str, Any]:
        return {"REALTIME": mask_secrets(catalog.table(name).config.raw)}

    @app.delete("/tables/{name}")
    def delete_table(name: str) -> dict[str, str]:
        coordinator.drop_table(name)
        return {"status": f"Tables: [{name.removesuffix('_REALTIME')}_REALTIME] deleted"}

    @app.get("/tables/{name}/status")
    def table_status(name: str) -> dict[str, Any]:
        return coordinator.table_status(name)

    @app.get("/tables/{name}/consumingSegmentsInfo")
    def consuming_segments_info(name: str) -> dict[str, Any]:
        return coordinator.consuming_segments_info(name)

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/segments/{name}")
    def list_segments(name: str) -> list[dict[str, list[str]]]:
        """Sealed segments, then the consuming ones (Pinot lists both). The ledgers are read now; the
        consuming segments come from the workers' last report, which may still name one sealed since."""
        spec = catalog.table(name)
        sealed = segment_names(coordinator.paths, spec)
        consuming = [p["consumingSegment"] for p in consuming_partitions(spec.name)]
        return [{"REALTIME": sealed + [n for n in consuming if n not in sealed]}]

    def consuming_partitions(table: str) -> list[dict[str, Any]]:
        return [p for p in coordinator.table_status(table)["partitions"] if p.get("consumingSegment")]

    @app.get("/segments/{name}/{segment}/metadata")
    def get_segment_metadata(name: str, segment: str) -> dict[str, Any]:
        spec = catalog.table(name)
        try:
            return segment_metadata(coordinator.paths, spec, segment)  # sealed: the ledger is current
        except NotFound:
            consuming = [p for p in consuming_partitions(spec.name) if p["consumingSegment"] == segment]
            if not consuming:
                raise
            return consuming_segment_metadata(spec, consuming[0])

    return app
