"""Request bodies as Pinot's controller takes them: a JSON document, or (for schemas, as in Pinot's docs:
`curl -F schemaName=@schema.json`) a multipart form holding exactly one file; and the log line for keys
an upload held that nothing reads. Multipart is parsed with the standard library's MIME parser."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import orjson
from fastapi import Request

from ingestd.errors import ConfigError

log = logging.getLogger(__name__)


async def json_document(request: Request, what: str) -> Any:
    """The body as JSON; a multipart form's one file part as JSON (Pinot's FormDataMultiPart uploads)."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        body = _single_file(content_type, body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(what, f"is not valid JSON: {exc}") from exc


def _single_file(content_type: str, body: bytes) -> bytes:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    parts = list(message.iter_parts()) if isinstance(message, EmailMessage) and message.is_multipart() else []
    if len(parts) != 1:
        raise ConfigError("", "Found not exactly one file from the multi-part fields")
    payload = parts[0].get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def reported(unrecognized: dict[str, Any], what: str) -> dict[str, Any]:
    """Log what an upload held that nothing reads (a typo keeps a default silently), and return it."""
    if unrecognized:
        log.warning("%s: unrecognized properties, ignored (a typo?): %s", what,
                    ", ".join(f"{path}={value!r}" for path, value in unrecognized.items()))
    return unrecognized
