"""`POST /internal/partial`: a peer server's request for this server's part of a query (ingestd/peers.py).

The body is JSON: `{"sql", "timeoutMs", "deltaVersion"}`. The query passes the same admission control and
authentication as `/query/sql`; it runs on this server's workers only (never on the deep store or on this
server's own peers), leaving out the sealed segments the asking server's Delta version holds.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from ingestd.peers import PARTIAL_PATH
from ingestd.query.admission import QueryAdmission, ServerBusy
from ingestd.query.broker import Broker

MAX_TIMEOUT_MS = 3_600_000


def add_peer_routes(app: FastAPI, broker: Broker, admission: QueryAdmission) -> None:
    @app.post(PARTIAL_PATH)
    async def partial(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _json({"missing": 0, "error": [150, "the body is not valid JSON"]}, 400)
        sql, timeout_ms, version = _fields(body)
        if sql is None:
            needs = 'the body needs {"sql", "timeoutMs" (1 to 3600000), "deltaVersion" (null or >= 0)}'
            return _json({"missing": 0, "error": [150, needs]}, 400)
        try:
            document = await admission.run(lambda: broker.partial(sql, timeout_ms, version),
                                           wait_s=timeout_ms / 1000, disconnected=request.is_disconnected,
                                           on_disconnect=lambda: None)
        except ServerBusy as exc:
            return _json({"missing": 1, "error": [429, f"server busy: {exc}"]}, 429)
        return _json(document, 200)


def _fields(body: Any) -> tuple[str | None, int, int | None]:
    if not isinstance(body, dict) or not isinstance(body.get("sql"), str):
        return None, 0, None
    timeout = body.get("timeoutMs")
    version = body.get("deltaVersion")
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= MAX_TIMEOUT_MS:
        return None, 0, None
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 0):
        return None, 0, None
    return body["sql"], timeout, version


def _json(document: Any, status: int) -> Response:
    return Response(orjson.dumps(document), status_code=status, media_type="application/json")
