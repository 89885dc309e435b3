"""The web console's routes: `/` redirects to `/ui`, which serves the console page, its script and its
style from package data (ingestd/console/). The page reads the same API as any client, behind the same
authentication (a browser gets the Basic challenge like any other caller)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response

from ingestd.errors import NotFound

CONSOLE_PATH = "/ui"
_TYPES = {"index.html": "text/html; charset=utf-8", "console.js": "text/javascript; charset=utf-8",
          "console.css": "text/css; charset=utf-8"}
# Only this origin's scripts, styles and API: a table name or an error text can never bring in code.
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def add_console_routes(app: FastAPI) -> None:
    assets = {name: (files("ingestd") / "console" / name).read_bytes() for name in _TYPES}

    def serve(name: str) -> Response:
        return Response(assets[name], media_type=_TYPES[name], headers=_HEADERS)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(CONSOLE_PATH, status_code=307)

    @app.get(CONSOLE_PATH, include_in_schema=False)
    async def console_page() -> Response:
        return serve("index.html")

    @app.get(CONSOLE_PATH + "/{name}", include_in_schema=False)
    async def console_asset(name: str) -> Response:
        if name not in _TYPES:
            raise NotFound(f"the console has no file {name!r}")
        return serve(name)
