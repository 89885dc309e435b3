"""How CLI commands reach a running server: the shared `--url` and authentication options, and an HTTP
client that turns transport errors and error answers into one-line messages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click
import httpx
import orjson

DEFAULT_URL = "http://127.0.0.1:9000"
TIMEOUT_S = 60.0
_Command = TypeVar("_Command", bound=Callable[..., Any])


@dataclass(frozen=True)
class Api:
    """One ingestd server, as the CLI calls it."""

    url: str
    auth: dict[str, Any] = field(default_factory=dict)

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """(HTTP status, decoded JSON answer, or {"error": text} when it is not JSON)."""
        target = self.url + path
        try:
            response = httpx.request(method, target, timeout=TIMEOUT_S, **self.auth, **kwargs)
        except httpx.HTTPError as exc:
            raise click.ClickException(f"cannot reach {target}: {exc}") from exc
        try:
            return response.status_code, orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return response.status_code, {"error": response.text}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded answer; an HTTP error status is a ClickException (exit 1) with the server's error."""
        status, answer = self.request(method, path, **kwargs)
        if status >= 400:
            error = answer.get("error", answer) if isinstance(answer, dict) else answer
            raise click.ClickException(f"{status}: {error}")
        return answer


def credentials(user: str | None, password: str | None, token: str | None) -> dict[str, Any]:
    """httpx request arguments that authenticate as asked (none when nothing is given)."""
    if token and (user or password):
        raise click.UsageError("give --token or --user/--password, not both")
    if token:
        return {"headers": {"Authorization": f"Bearer {token}"}}
    if bool(user) != bool(password):
        raise click.UsageError("--user and --password go together")
    return {"auth": (user, password)} if user and password else {}


def server_options(command: _Command) -> _Command:
    """--url (env INGESTD_URL) and --user/--password (HTTP Basic) or --token (Bearer), also from
    INGESTD_USER, INGESTD_PASSWORD, INGESTD_TOKEN (the environment keeps a secret out of the process
    list); the command receives them as one `api: Api`."""

    @functools.wraps(command)
    def with_api(*args: Any, url: str, user: str | None, password: str | None, token: str | None,
                 **kwargs: Any) -> Any:
        return command(*args, api=Api(url.rstrip("/"), credentials(user, password, token)), **kwargs)

    options = [
        click.option("--url", default=DEFAULT_URL, show_default=True, envvar="INGESTD_URL", show_envvar=True,
                     help="The ingestd server."),
        click.option("--user", envvar="INGESTD_USER", show_envvar=True,
                     help="User for HTTP Basic auth (default: none)."),
        click.option("--password", envvar="INGESTD_PASSWORD", show_envvar=True,
                     help="Password for HTTP Basic auth (prefer the environment variable)."),
        click.option("--token", envvar="INGESTD_TOKEN", show_envvar=True,
                     help="Bearer token instead of a user (prefer the environment variable)."),
    ]
    for option in reversed(options):
        with_api = option(with_api)
    return with_api  # type: ignore[return-value]


def format_table(names: list[str], rows: list[list[Any]]) -> str:
    """Rows under their column names, columns padded and separated by `|`."""
    cells = [[str(n) for n in names]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(names))]
    lines = [" | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
