"""`ingestd query`: run SQL on the server and print the answer as a table."""

from __future__ import annotations

import sys
from typing import Any

import click

from ingestd.cli.client import Api, format_table, server_options


@click.command(short_help="Run SQL and print the result.")
@click.argument("sql")
@server_options
def query(sql: str, api: Api) -> None:
    """Run a SQL query and print the result as a table; exit 1 on a query error.

    \b
    Example:
      ingestd query "SELECT subject, COUNT(*) FROM transcript GROUP BY subject"
    """
    answer = api.call("POST", "/query/sql", json={"sql": sql})
    for error in answer.get("exceptions", []):
        click.echo(f"error {error['errorCode']}: {error['message']}", err=True)
    if "resultTable" not in answer:
        sys.exit(1)
    click.echo(format_answer(answer))


def format_answer(answer: dict[str, Any]) -> str:
    """A broker response's rows as a table, and a line of counters under it."""
    table = answer["resultTable"]
    partial = ", PARTIAL: some workers did not answer" if answer.get("partialResult") else ""
    return (f"{format_table(table['dataSchema']['columnNames'], table['rows'])}\n"
            f"({len(table['rows'])} rows, {answer.get('numDocsScanned', 0)} docs scanned of "
            f"{answer.get('totalDocs', 0)}, {answer.get('timeUsedMs', 0)} ms{partial})")
