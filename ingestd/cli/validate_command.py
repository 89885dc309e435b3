"""`ingestd validate`: check a schema and a table config offline, with the server's own parsers (no
server, no broker): the first problem exits 1 naming the field; keys nothing reads are warnings."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click
import orjson

from ingestd.config import Schema, parse_schema, parse_table_config
from ingestd.config.unrecognized import unrecognized_schema_properties, unrecognized_table_properties
from ingestd.errors import ConfigError
from ingestd.plugin_loading import load_plugins
from ingestd.stream.kafka_properties import probe_clients

_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)


@click.command(short_help="Check a schema and table config offline.")
@click.option("--schema-file", type=_FILE, help="A Pinot schema (JSON).")
@click.option("--table-config-file", type=_FILE,
              help="A Pinot REALTIME table config (JSON); checked against --schema-file when both are given.")
@click.option("--allowed-file-dir", "allowed_dirs", multiple=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="A directory the server's [security] allowed_file_dirs lists, where librdkafka file "
                   "properties may point (repeatable; default: none, as on a server without the setting).")
def validate(schema_file: Path | None, table_config_file: Path | None,
             allowed_dirs: tuple[Path, ...]) -> None:
    """Check a schema and/or a table config offline, as `POST /schemas` and `POST /tables` would (the
    stream itself is only checked by the server). Exit 1 with the field's path on the first problem;
    unrecognized keys (typos?) are printed as warnings.

    \b
    Example:
      ingestd validate --schema-file examples/transcript/transcript-schema.json \\
                       --table-config-file examples/transcript/transcript-table-realtime.json
    """
    if schema_file is None and table_config_file is None:
        raise click.UsageError("give --schema-file, --table-config-file or both")
    logging.disable(logging.CRITICAL)  # the problems are printed below, once
    try:
        problems = load_plugins()  # the installed plugins, as the server loads them at start
    finally:
        logging.disable(logging.NOTSET)
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)
    schemas: dict[str, Schema] | None = None
    if schema_file is not None:
        raw = _load(schema_file)
        schema = _checked(schema_file, lambda: parse_schema(raw))
        schemas = {schema.name: schema}
        _warn(schema_file, unrecognized_schema_properties(raw))
        click.echo(f"{schema_file}: schema {schema.name} is valid ({len(schema.fields)} fields)")
    if table_config_file is not None:
        raw = _load(table_config_file)
        config = _checked(table_config_file, lambda: parse_table_config(raw, schemas, allowed_dirs))
        # the stream clients a worker and the coordinator would build, closed at once (no broker needed;
        # their attempts to reach one are not this command's business, so their log lines are muted)
        factory = config.stream.consumer_factory.load()(config.stream, f"ingestd-{config.name}")
        logging.disable(logging.CRITICAL)
        try:
            _checked(table_config_file, lambda: probe_clients(factory, config.stream))
        finally:
            logging.disable(logging.NOTSET)
        _warn(table_config_file, unrecognized_table_properties(raw))
        against = f" against schema {config.schema_name}" if schemas is not None else ""
        click.echo(f"{table_config_file}: table {config.name}_REALTIME is valid{against} "
                   f"(topic {config.stream.topic}; the topic and brokers are checked when it is added)")


def _load(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise click.ClickException(f"{path}: not valid JSON: {exc}") from None


def _checked(path: Path, step: Any) -> Any:
    try:
        return step()
    except ConfigError as exc:
        raise click.ClickException(f"{path}: {exc}") from None


def _warn(path: Path, unrecognized: dict[str, Any]) -> None:
    for key, value in unrecognized.items():
        click.echo(f"warning: {path}: unrecognized property {key} = {orjson.dumps(value).decode()} "
                   "(ignored; a typo?)", err=True)
