"""The API's front door, as ASGI middleware: who may call it, and how much a request may send.

* Authentication (when `[auth]` lists users or tokens): every route but `/health` needs HTTP Basic
  credentials of a configured user or a configured Bearer token; anything else is 401 with a
  `WWW-Authenticate` challenge. Credentials are compared through SHA-256 digests with
  `hmac.compare_digest`, against every configured entry, so the time taken tells neither which
  part was wrong nor how long the secret is.
* Body size: a request body over `max_body_bytes` is 413 before the app sees it, whether it declares a
  Content-Length or arrives chunked (bytes are counted as they are received).
Both answer with ingestd's JSON error shape, `{"code": ..., "error": ...}`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from ingestd.settings import AuthSettings, Settings

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/health"})
REALM = "ingestd"


def install_access_control(app: Any, settings: Settings) -> None:
    """Add the body limit, then authentication around it (so a stranger's body is never read)."""
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.auth.enabled:
        app.add_middleware(AuthMiddleware, auth=settings.auth)


class Credentials:
    """The configured users and tokens, kept as digests for constant-time comparison."""

    def __init__(self, auth: AuthSettings) -> None:
        self._users = [(_digest(name.encode()), _digest(password.encode())) for name, password in auth.users]
        self._tokens = [_digest(token.encode()) for token in auth.tokens]
        self.schemes = (["Basic"] if auth.users else []) + (["Bearer"] if auth.tokens else [])

    def accepts(self, authorization: bytes | None) -> bool:
        """Whether an Authorization header value names a configured user (Basic) or token (Bearer)."""
        if not authorization:
            return False
        scheme, _, credentials = authorization.strip().partition(b" ")
        scheme = scheme.lower()
        if scheme == b"basic":
            return self._basic(credentials.strip())
        if scheme == b"bearer":
            return self._bearer(credentials.strip())
        return False

    def _basic(self, credentials: bytes) -> bool:
        try:
            decoded = base64.b64decode(credentials, validate=True)
        except (binascii.Error, ValueError):
            return False
        name, colon, password = decoded.partition(b":")
        if not colon:
            return False
        name_digest, password_digest = _digest(name), _digest(password)
        matched = False
        for user, secret in self._users:  # every entry, no early exit
            matched |= hmac.compare_digest(user, name_digest) & hmac.compare_digest(secret, password_digest)
        return matched

    def _bearer(self, token: bytes) -> bool:
        token_digest = _digest(token)
        matched = False
        for known in self._tokens:
            matched |= hmac.compare_digest(known, token_digest)
        return matched


class AuthMiddleware:
    def __init__(self, app: ASGIApp, auth: AuthSettings) -> None:
        self.app = app
        self.credentials = Credentials(auth)
        self._challenges = [(b"www-authenticate", f'{scheme} realm="{REALM}"'.encode())
                            for scheme in self.credentials.schemes]
        self._wanted = " or ".join(
            {"Basic": "send HTTP Basic credentials of a configured user",
             "Bearer": "send a configured Bearer token"}[scheme] for scheme in self.credentials.schemes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        guarded = kind == "websocket" or (kind == "http" and scope["path"] not in OPEN_PATHS)
        if not guarded or self.credentials.accepts(_header(scope, b"authorization")):
            await self.app(scope, receive, send)
            return
        # debug, not info: strangers must not be able to fill the log
        log.debug("refused unauthenticated %s %r from %s", scope.get("method", "WEBSOCKET"),
                  scope["path"], (scope.get("client") or ("?",))[0])
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        what = "credentials required" if _header(scope, b"authorization") is None else "bad credentials"
        await send_error(send, 401, f"{what}: {self._wanted}", self._challenges)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        received: list[Message] = []
        total = 0
        while True:  # the whole body, counted as it arrives (chunked bodies declare no length)
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break  # the client went away; the app hears it in turn
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await send_error(send, 413, f"the request body is larger than {self.max_bytes} bytes (the "
                         "server's [http] max_body_bytes)", [(b"connection", b"close")])


async def send_error(send: Send, status: int, error: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = orjson.dumps({"code": status, "error": error})
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()
