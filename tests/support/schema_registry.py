"""A small, real schema registry for tests: an HTTP server on a free loopback port.

It speaks the part of Confluent Schema Registry's REST API that confluent_kafka's SchemaRegistryClient
and AvroSerializer use (`POST /subjects/{s}/versions`, `POST /subjects/{s}` lookup,
`GET /schemas/ids/{id}`, `GET /subjects/{s}/versions[/latest]`, `GET /schemas/types`), and the protocol
of Pinot's KafkaAvroMessageDecoder (`GET /id=<md5 hex>`, `GET /latest_with_type=<name>`: the schema
text itself). Optional HTTP Basic authentication, a log of the requests, and a switch that makes it
answer 503 (an unavailable registry).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit


class SchemaRegistryServer:
    def __init__(self, user: str | None = None, password: str | None = None) -> None:
        self.credentials = None if user is None else f"{user}:{password}"
        self.requests: list[tuple[str, str]] = []  # (method, path) in arrival order
        self.unavailable = False
        self._lock = threading.Lock()
        self._schemas: list[str] = []  # id - 1 → schema text
        self._subjects: dict[str, list[int]] = {}  # subject → ids by version
        self._md5: dict[str, str] = {}  # md5 hex → schema text
        self._latest_by_name: dict[str, str] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> SchemaRegistryServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def register(self, subject: str, schema: str) -> int:
        """Register `schema` under `subject` (as POST /subjects/{subject}/versions does); its id."""
        with self._lock:
            return self._register(subject, schema)

    def _register(self, subject: str, schema: str) -> int:
        canonical = json.dumps(json.loads(schema), sort_keys=True)
        known = [json.dumps(json.loads(text), sort_keys=True) for text in self._schemas]
        if canonical in known:
            schema_id = known.index(canonical) + 1
        else:
            self._schemas.append(schema)
            schema_id = len(self._schemas)
        versions = self._subjects.setdefault(subject, [])
        if schema_id not in versions:
            versions.append(schema_id)
        return schema_id

    def add_md5_schema(self, name: str, schema: str) -> bytes:
        """Serve `schema` for Pinot's decoder at /id=<md5> (and as the latest of `name`); the digest."""
        digest = hashlib.md5(schema.encode()).digest()
        with self._lock:
            self._md5[digest.hex()] = schema
            self._latest_by_name[name] = schema
        return digest

    def count(self, method: str, prefix: str) -> int:
        return sum(1 for m, p in self.requests if m == method and p.startswith(prefix))

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """(status, JSON document or schema text) for one request."""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        with self._lock:
            if method == "GET" and len(parts) == 1 and parts[0].startswith("id="):
                text = self._md5.get(parts[0][3:].lower())
                return (200, text) if text is not None else (404, "not found")
            if method == "GET" and len(parts) == 1 and parts[0].startswith("latest_with_type="):
                text = self._latest_by_name.get(parts[0][len("latest_with_type="):])
                return (200, text) if text is not None else (404, "not found")
            if method == "GET" and parts[:2] == ["schemas", "types"]:
                return 200, ["AVRO"]
            if method == "GET" and parts[:2] == ["schemas", "ids"] and len(parts) == 3 and parts[2].isdigit():
                schema_id = int(parts[2])
                if not 1 <= schema_id <= len(self._schemas):
                    return 404, {"error_code": 40403, "message": "Schema not found"}
                return 200, {"schema": self._schemas[schema_id - 1]}
            if parts[0] == "subjects" and len(parts) >= 2:
                return self._subject(method, parts[1], parts[2:], body)
        return 404, {"error_code": 404, "message": f"no route {method} {path}"}

    def _subject(self, method: str, subject: str, rest: list[str], body: Any) -> tuple[int, Any]:
        versions = self._subjects.get(subject, [])
        if method == "POST" and rest == ["versions"]:
            schema_id = self._register(subject, body["schema"])
            return 200, {"id": schema_id, "subject": subject,
                         "version": self._subjects[subject].index(schema_id) + 1}
        if method == "POST" and not rest:
            wanted = json.dumps(json.loads(body["schema"]), sort_keys=True)
            for version, schema_id in enumerate(versions, start=1):
                if json.dumps(json.loads(self._schemas[schema_id - 1]), sort_keys=True) == wanted:
                    return 200, self._version(subject, version, schema_id)
            return 404, {"error_code": 40403, "message": "Schema not found"}
        if method == "GET" and rest == ["versions"]:
            return (200, list(range(1, len(versions) + 1))) if versions else (
                404, {"error_code": 40401, "message": "Subject not found"})
        if method == "GET" and len(rest) == 2 and rest[0] == "versions" and versions:
            version = len(versions) if rest[1] == "latest" else int(rest[1]) if rest[1].isdigit() else 0
            if 1 <= version <= len(versions):
                return 200, self._version(subject, version, versions[version - 1])
        return 404, {"error_code": 40401, "message": "Subject not found"}

    def _version(self, subject: str, version: int, schema_id: int) -> dict[str, Any]:
        return {"subject": subject, "version": version, "id": schema_id,
                "schema": self._schemas[schema_id - 1]}


def _handler(registry: SchemaRegistryServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            path = urlsplit(self.path).path
            registry.requests.append((method, path))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if registry.unavailable:
                return self._send(503, {"error_code": 50003, "message": "unavailable"})
            if registry.credentials is not None and not self._authorized():
                return self._send(401, {"error_code": 401, "message": "Unauthorized"})
            try:
                body = json.loads(raw) if raw else None
                status, document = registry.answer(method, path, body)
            except (ValueError, KeyError, TypeError) as exc:
                status, document = 422, {"error_code": 42201, "message": str(exc)}
            self._send(status, document)

        def _authorized(self) -> bool:
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return False
            return base64.b64decode(header[6:]).decode() == registry.credentials

        def _send(self, status: int, document: Any) -> None:
            text = document if isinstance(document, str) else json.dumps(document)
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:  # quiet
            pass

    return Handler
