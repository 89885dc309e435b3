"""The `ingestd` command line: the click group and its commands, one module per group of commands.

Commands are thin: parse, call the server's HTTP API (or the config parsers, for `validate`), print.
Every command that talks to a server takes `--url` and `--user/--password` or `--token` (client.py).
"""

from __future__ import annotations

import click

from ingestd import __version__
from ingestd.cli.client import DEFAULT_URL, credentials, format_table
from ingestd.cli.plugins_command import plugins_command
from ingestd.cli.query_command import query
from ingestd.cli.server_commands import quickstart, start
from ingestd.cli.status_command import status
from ingestd.cli.table_commands import add_table, delete_table, segments, tables
from ingestd.cli.validate_command import validate

__all__ = ["DEFAULT_URL", "credentials", "format_table", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="ingestd")
def main() -> None:
    """ingestd: Pinot-compatible real-time ingestion from Kafka into SQL-queryable segments.

    \b
    Try it:    ingestd quickstart          (needs: pip install 'ingestd[quickstart]')
    Run it:    ingestd start --config ingestd.toml
    Use it:    ingestd add-table --schema-file S --table-config-file T
               ingestd status
               ingestd query "SELECT COUNT(*) FROM mytable"
    The server's web console is at its root URL (/ui).
    """


for _command in (start, quickstart, add_table, tables, status, segments, query, delete_table, validate,
                 plugins_command):
    main.add_command(_command)
