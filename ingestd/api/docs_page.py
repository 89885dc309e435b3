"""`GET /docs`: the API reference as one self-contained page (no assets from the internet, so it works on
an air-gapped host), rendered in the browser from `/openapi.json`: every route with its method, summary,
description and parameters, filterable. FastAPI's own Swagger UI and ReDoc pages load their scripts from
a CDN and are turned off (create_app passes docs_url=None, redoc_url=None)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ingestd API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;color:#222}
h1{font-size:1.4em}input{width:100%;padding:.5em;font:inherit;box-sizing:border-box;margin-bottom:1em}
details{border:1px solid #ddd;border-radius:4px;margin:.3em 0}summary{padding:.4em .6em;cursor:pointer}
.m{display:inline-block;width:4.5em;font-weight:bold;font-family:monospace}
.GET{color:#1565c0}.POST{color:#2e7d32}.PUT{color:#ef6c00}.DELETE{color:#c62828}
code{font-family:monospace}.p{font-family:monospace}.body{padding:0 1em .6em 1em}
table{border-collapse:collapse}td,th{border-bottom:1px solid #eee;padding:.2em .6em;text-align:left}
pre{white-space:pre-wrap}
</style></head><body>
<h1>ingestd API</h1>
<p>Pinot's controller and broker routes. Machine-readable: <a href="OPENAPI">OPENAPI</a>.</p>
<input id="filter" placeholder="filter routes (path, method or words)" autofocus>
<div id="routes">loading…</div>
<script>
"use strict";
const ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"};
const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ENTITIES[c]);
function render(spec) {
  const rows = [];
  for (const [path, ops] of Object.entries(spec.paths || {})) {
    for (const [method, op] of Object.entries(ops)) {
      const params = (op.parameters || []).map(p => `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}`
        + `</td><td>${esc((p.schema || {}).type || (p.schema || {}).anyOf?.map(t => t.type).join("|"))}</td>`
        + `<td>${p.required ? "required" : esc(JSON.stringify((p.schema || {}).default ?? ""))}</td></tr>`);
      const table = params.length ? `<table><tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>`
        + params.join("") + `</table>` : "";
      const m = method.toUpperCase();
      rows.push({text: `${m} ${path} ${op.summary || ""} ${op.description || ""}`.toLowerCase(),
        html: `<details><summary><span class="m ${m}">${m}</span> <span class="p">${esc(path)}</span> `
          + `— ${esc(op.summary)}</summary><div class="body"><pre>${esc(op.description)}</pre>${table}</div>`
          + `</details>`});
    }
  }
  const box = document.getElementById("routes"), filter = document.getElementById("filter");
  const show = () => { const q = filter.value.toLowerCase();
    box.innerHTML = rows.filter(r => r.text.includes(q)).map(r => r.html).join("") || "no route matches"; };
  filter.addEventListener("input", show); show();
}
fetch("OPENAPI").then(r => r.json()).then(render)
  .catch(e => { document.getElementById("routes").textContent = "cannot load OPENAPI: " + e; });
</script></body></html>
"""


def add_docs_page(app: FastAPI) -> None:
    page = _PAGE.replace("OPENAPI", app.openapi_url or "/openapi.json")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page)
