"""The `ingestd` command line: thin wrappers that parse, call the server or the API, and print."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx
import orjson

from ingestd.errors import ConfigError, IngestdError

DEFAULT_URL = "http://127.0.0.1:9000"
_Command = TypeVar("_Command", bound=Callable[..., Any])


def auth_options(command: _Command) -> _Command:
    """--user/--password (HTTP Basic) or --token (Bearer), also from INGESTD_USER, INGESTD_PASSWORD,
    INGESTD_TOKEN: the environment keeps a secret out of the process list."""
    options = [
        click.option("--user", envvar="INGESTD_USER", show_envvar=True, help="User for HTTP Basic auth."),
        click.option("--password", envvar="INGESTD_PASSWORD", show_envvar=True,
                     help="Password for HTTP Basic auth (prefer the environment variable)."),
        click.option("--token", envvar="INGESTD_TOKEN", show_envvar=True,
                     help="Bearer token (prefer the environment variable)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def credentials(user: str | None, password: str | None, token: str | None) -> dict[str, Any]:
    """httpx request arguments that authenticate as asked (none when nothing is given)."""
    if token and (user or password):
        raise click.UsageError("give --token or --user/--password, not both")
    if token:
        return {"headers": {"Authorization": f"Bearer {token}"}}
    if bool(user) != bool(password):
        raise click.UsageError("--user and --password go together")
    return {"auth": (user, password)} if user and password else {}


@click.group()
@click.version_option(package_name="ingestd")
def main() -> None:
    """ingestd: Pinot-compatible real-time ingestion from Kafka into SQL-queryable segments."""


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False, exists=True),
              help="Server TOML config (data_dir, [http], [workers]).")
def start(config_path: str) -> None:
    """Run the server (coordinator, workers, HTTP API) in the foreground."""
    from ingestd.server import run_server
    from ingestd.settings import load_settings

    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        raise click.ClickException(f"bad config {config_path}: {exc}") from exc
    try:
        run_server(settings)
    except IngestdError as exc:  # the data_dir is held by another server
        raise click.ClickException(str(exc)) from exc


@main.command("add-table")
@click.option("--schema-file", required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--table-config-file", required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--url", default=DEFAULT_URL, show_default=True, help="The ingestd server.")
@auth_options
def add_table(schema_file: str, table_config_file: str, url: str, user: str | None, password: str | None,
              token: str | None) -> None:
    """Upload a schema and a REALTIME table config (like `pinot-admin.sh AddTable -exec`)."""
    auth = credentials(user, password, token)
    for path, route in ((schema_file, "/schemas"), (table_config_file, "/tables")):
        answer = _call("POST", url + route, content=Path(path).read_bytes(), **auth)
        click.echo(answer.get("status", answer))


@main.command()
@click.argument("sql")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="The ingestd server.")
@auth_options
def query(sql: str, url: str, user: str | None, password: str | None, token: str | None) -> None:
    """Run a SQL query and print the result as a table."""
    answer = _call("POST", url + "/query/sql", json={"sql": sql}, **credentials(user, password, token))
    for error in answer.get("exceptions", []):
        click.echo(f"error {error['errorCode']}: {error['message']}", err=True)
    if "resultTable" not in answer:
        sys.exit(1)
    table = answer["resultTable"]
    click.echo(format_table(table["dataSchema"]["columnNames"], table["rows"]))
    click.echo(f"({len(table['rows'])} rows, {answer.get('numDocsScanned', 0)} docs scanned of "
               f"{answer.get('totalDocs', 0)}, {answer.get('timeUsedMs', 0)} ms)")


def format_table(names: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(n) for n in names]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(names))]
    lines = [" | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _call(method: str, url: str, **kwargs: Any) -> Any:
    try:
        response = httpx.request(method, url, timeout=60, **kwargs)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach {url}: {exc}") from exc
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        answer = {"error": response.text}
    if response.status_code >= 400:
        raise click.ClickException(f"{response.status_code}: {answer.get('error', answer)}")
    return answer
