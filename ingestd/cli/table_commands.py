"""Table commands against a running server: `add-table` (also with pinot-admin AddTable's spellings, and
`-update` for a live change), `tables`, `delete-table`, `segments`."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click
import orjson

from ingestd.cli.client import Api, credentials, format_table, server_options

_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)


@click.command("add-table", short_help="Upload a schema and a table config; ingestion starts.")
@click.option("--schema-file", "-schemaFile", "-schemaFileName", "-schema", "schema_file", required=True,
              type=_FILE, help="A Pinot schema (JSON).")
@click.option("--table-config-file", "-tableConfigFile", "-tableConf", "-tableConfig", "-filePath",
              "-realtimeTableConfigFile", "-realtimeTableConf", "-realtimeTableConfig", "-realtimeFilePath",
              "table_config_file", required=True, type=_FILE, help="A Pinot REALTIME table config (JSON).")
@click.option("--update", "-update", is_flag=True,
              help="Change the existing table instead (PUT /schemas/{name}, then PUT /tables/{name}): new "
                   "columns, flush thresholds, brokers... apply live (default: create).")
@click.option("-controllerHost", "controller_host", help="pinot-admin's spelling: the server's host (with "
              "-controllerPort and -controllerProtocol it replaces --url; default 127.0.0.1).")
@click.option("-controllerPort", "controller_port", help="pinot-admin's spelling: the server's port (9000).")
@click.option("-controllerProtocol", "controller_protocol", help="pinot-admin's spelling: http or https.")
@click.option("-user", "pinot_user", help="pinot-admin's spelling of --user.")
@click.option("-password", "pinot_password", help="pinot-admin's spelling of --password.")
@click.option("-authToken", "auth_token", help="pinot-admin's token: an Authorization header value "
              "(`Basic ...`, `Bearer ...`) or a bare Bearer token.")
@click.option("-exec", "execute", is_flag=True, help="Accepted for pinot-admin command lines (default: off); "
              "ingestd executes either way (pinot-admin without it only prints what it would do).")
@click.option("-validationTypesToSkip", "skip_validation", hidden=True, help="Accepted and ignored.")
@server_options
def add_table(schema_file: Path, table_config_file: Path, update: bool, controller_host: str | None,
              controller_port: str | None, controller_protocol: str | None, pinot_user: str | None,
              pinot_password: str | None, auth_token: str | None, execute: bool, skip_validation: str | None,
              api: Api) -> None:
    """Upload a schema, then a REALTIME table config (like `pinot-admin.sh AddTable -exec`);
    ingestion starts at once. The server checks the stream first: a missing topic or unreachable
    brokers fail the command, and a schema this command created is then deleted again. With
    --update, change an existing table live instead.

    pinot-admin's spellings work too, so a copied command line runs unchanged:
    -schemaFile, -tableConfigFile, -controllerHost, -controllerPort, -controllerProtocol, -user,
    -password, -authToken, -exec, -update.

    \b
    Examples:
      ingestd add-table --schema-file examples/transcript/transcript-schema.json \\
                        --table-config-file examples/transcript/transcript-table-realtime.json
      ingestd add-table -schemaFile transcript-schema.json -tableConfigFile transcript-table-realtime.json \\
                        -controllerHost 127.0.0.1 -controllerPort 9000 -exec
    """
    api = _pinot_admin_api(api, controller_host, controller_port, controller_protocol, pinot_user,
                           pinot_password, auth_token)
    if update:
        _update_table(api, schema_file, table_config_file)
        return
    schema = schema_file.read_bytes()
    name = _schema_name(schema)
    existed = name is not None and api.request("GET", f"/schemas/{quote(name, safe='')}")[0] == 200
    answer = api.call("POST", "/schemas", content=schema)
    click.echo(answer.get("status", answer))
    warn_unrecognized(answer, schema_file)
    status, answer = api.request("POST", "/tables", content=table_config_file.read_bytes())
    if status >= 400:
        error = answer.get("error", answer) if isinstance(answer, dict) else answer
        if name is not None and not existed:
            api.request("DELETE", f"/schemas/{quote(name, safe='')}")
            error = f"{error}\n(schema {name}, uploaded by this command, was deleted again)"
        raise click.ClickException(f"{status}: {error}")
    click.echo(answer.get("status", answer))
    warn_unrecognized(answer, table_config_file)


def _update_table(api: Api, schema_file: Path, table_config_file: Path) -> None:
    """Change the schema (new columns only), then the table config, of a live table."""
    schema, table = schema_file.read_bytes(), table_config_file.read_bytes()
    name = _schema_name(schema)
    table_name = _document_field(table, "tableName")
    if name is None or table_name is None:
        raise click.ClickException("the schema needs a schemaName and the table config a tableName")
    for path, document, source in ((f"/schemas/{quote(name, safe='')}", schema, schema_file),
                                   (f"/tables/{quote(table_name, safe='')}", table, table_config_file)):
        answer = api.call("PUT", path, content=document)
        click.echo(answer.get("status", answer))
        warn_unrecognized(answer, source)


def _pinot_admin_api(api: Api, host: str | None, port: str | None, protocol: str | None, user: str | None,
                     password: str | None, token: str | None) -> Api:
    """The server and credentials as pinot-admin's options give them, over --url and its own options."""
    if host or port or protocol:
        api = dataclasses.replace(api, url=f"{protocol or 'http'}://{host or '127.0.0.1'}:{port or 9000}")
    if token:
        header = token if " " in token.strip() else f"Bearer {token.strip()}"
        api = dataclasses.replace(api, auth={"headers": {"Authorization": header}})
    elif user or password:
        api = dataclasses.replace(api, auth=credentials(user, password, None))
    return api


def warn_unrecognized(answer: Any, source: Path) -> None:
    """Print the keys of an uploaded file that the server does not know (typos, mostly) to stderr."""
    found = answer.get("unrecognizedProperties") if isinstance(answer, dict) else None
    for path, value in (found or {}).items():
        click.echo(f"warning: {source}: unrecognized property {path} = {orjson.dumps(value).decode()} "
                   "(ignored; a typo?)", err=True)


def _schema_name(document: bytes) -> str | None:
    return _document_field(document, "schemaName")


def _document_field(document: bytes, key: str) -> str | None:
    try:
        parsed = orjson.loads(document)
    except orjson.JSONDecodeError:
        return None
    value = parsed.get(key) if isinstance(parsed, dict) else None
    return value if isinstance(value, str) and value else None


@click.command(short_help="List the tables.")
@server_options
def tables(api: Api) -> None:
    """List the tables, one name a line.

    \b
    Example:
      ingestd tables --url http://127.0.0.1:9000
    """
    for name in api.call("GET", "/tables").get("tables", []):
        click.echo(name)


@click.command("delete-table", short_help="Delete a table with its segments and ledger.")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (default: ask).")
@server_options
def delete_table(name: str, yes: bool, api: Api) -> None:
    """Delete table NAME: stop consuming it and delete its segments and offset ledger. Its schema
    stays (DELETE /schemas/NAME removes it). The topic is not touched.

    \b
    Example:
      ingestd delete-table transcript --yes
    """
    if not yes:
        click.confirm(f"Delete table {name} with all its segments?", abort=True)
    click.echo(api.call("DELETE", f"/tables/{quote(name, safe='')}").get("status"))


@click.command(short_help="List a table's sealed segments.")
@click.argument("table")
@click.option("--long", "-l", "details", is_flag=True,
              help="A line per segment with its partition, offsets, rows, size and seal time "
                   "(default: names only).")
@server_options
def segments(table: str, details: bool, api: Api) -> None:
    """List the sealed segments of TABLE (the consuming segments are in `ingestd status`).

    \b
    Examples:
      ingestd segments transcript
      ingestd segments transcript --long
    """
    path = f"/segments/{quote(table, safe='')}"
    status = api.call("GET", f"/tables/{quote(table, safe='')}/status")
    consuming = {p.get("consumingSegment") for p in status["partitions"]}  # /segments lists them too
    names = [name for name in api.call("GET", path)[0]["REALTIME"] if name not in consuming]
    if not names:
        click.echo(f"{table} has no sealed segments yet", err=True)
        return
    if not details:
        click.echo("\n".join(names))
        return
    rows = []
    for name in names:
        meta = api.call("GET", f"{path}/{quote(name, safe='')}/metadata")
        rows.append([name, meta["partition"], meta["sequenceNumber"], meta["startOffset"], meta["endOffset"],
                     meta["totalDocs"], _size(meta["sizeInBytes"]), _time(meta["sealedTimeMs"])])
    rows.sort(key=lambda row: (row[1], row[2]))
    click.echo(format_table(["segment", "partition", "seq", "startOffset", "endOffset", "rows", "size",
                             "sealed (UTC)"], rows))


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _time(millis: int | None) -> str:
    if not millis:
        return ""
    return datetime.datetime.fromtimestamp(millis / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
