"""Pinot's broker routes: `POST /query/sql` (body `{"sql": ..., "queryOptions": "k=v;..."}`) and
`GET /query/sql?sql=...`.

Each query passes admission control (a bounded number run at once, a bounded line waits, the rest get
Pinot's 429 "server busy" answer), runs on the query thread pool, and is cancelled everywhere when the
client disconnects before the answer is ready. Each answer's outcome and latency go to `observe`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from ingestd.errors import QueryError
from ingestd.query.admission import QueryAdmission, ServerBusy
from ingestd.query.broker import Broker, QueryContext
from ingestd.query.response import error_response


def add_query_routes(app: FastAPI, broker: Broker, admission: QueryAdmission, default_timeout_ms: int,
                     observe: Callable[[dict[str, Any], float], None] | None = None) -> None:
    async def answer(request: Request, sql: Any, options: Any) -> Response:
        if not isinstance(sql, str) or not sql.strip():
            return _json(error_response(QueryError.SQL_PARSING, 'the body needs {"sql": "..."}', 0))
        started = time.monotonic()
        context = QueryContext()
        try:
            document = await admission.run(
                lambda: broker.execute(sql, options, context),
                wait_s=default_timeout_ms / 1000,
                disconnected=request.is_disconnected,
                on_disconnect=lambda: broker.cancel(context),
            )
        except ServerBusy as exc:
            document = error_response(QueryError.TOO_MANY_REQUESTS, f"server busy: {exc}; retry later", 0,
                                      context.request_id)
        if observe is not None:
            observe(document, time.monotonic() - started)
        return _json(document)

    @app.post("/query/sql")
    async def query_post(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            return _json(error_response(QueryError.SQL_PARSING, f"the body is not valid JSON: {exc}", 0))
        if not isinstance(body, dict):
            return _json(error_response(QueryError.SQL_PARSING, 'the body needs {"sql": "..."}', 0))
        return await answer(request, body.get("sql"), body.get("queryOptions"))

    @app.get("/query/sql")
    async def query_get(request: Request, sql: str, queryOptions: str | None = None) -> Response:
        return await answer(request, sql, queryOptions)


def _json(document: Any) -> Response:
    return Response(orjson.dumps(document), media_type="application/json")
