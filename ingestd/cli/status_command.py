"""`ingestd status`: each table's partitions with their state, offsets, lag, ingestion rate and last
error, read from `GET /tables/{t}/status`. The rate is the status' own `rowsPerSecond` when the server
reports one, else the change in rows indexed between two reads `--interval` seconds apart."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import click

from ingestd.cli.client import Api, format_table, server_options

Status = dict[str, Any]
_ERROR_CHARS = 100  # a long librdkafka message would make every row of the table as wide


@click.command(short_help="Partitions: state, offsets, lag, rows/s, last error.")
@click.argument("table", required=False)
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(0, 60),
              help="Seconds between the two status reads a rate is computed from, when the server reports "
                   "none (0: one read, no rates).")
@server_options
def status(table: str | None, interval: float, api: Api) -> None:
    """Show TABLE's partitions (default: every table's): state, current offset, latest offset and lag
    (when the server reports them), rows per second, segments and the last error.

    \b
    Examples:
      ingestd status
      ingestd status transcript --interval 5
    """
    names = [table] if table else api.call("GET", "/tables").get("tables", [])
    if not names:
        click.echo("no tables (add one with `ingestd add-table`)")
        return
    first = _read(api, names)
    started = time.monotonic()
    second = first
    if interval > 0 and not _all_have_rates(first):
        time.sleep(interval)
        second = _read(api, names)
    click.echo(render(first, second, time.monotonic() - started))


def _read(api: Api, names: list[str]) -> dict[str, Status]:
    return {name: api.call("GET", f"/tables/{quote(name, safe='')}/status") for name in names}


def _all_have_rates(statuses: dict[str, Status]) -> bool:
    return all("rowsPerSecond" in p for s in statuses.values() for p in s.get("partitions", []))


def render(before: dict[str, Status], after: dict[str, Status], elapsed_s: float) -> str:
    """A table of every partition, then one line per table whose stream or coordinator reports an error."""
    partitions = [p for s in after.values() for p in s.get("partitions", [])]
    with_upstream = any("latestOffset" in p or "lag" in p for p in partitions)
    names = ["table", "state", "partition", "partition state", "offset"]
    names += ["latest", "lag"] if with_upstream else []
    names += ["rows/s", "rows", "segments", "last error"]
    rows: list[list[Any]] = []
    notes: list[str] = []
    for name, current in after.items():
        earlier = {p["partition"]: p for p in before.get(name, {}).get("partitions", [])}
        entries = current.get("partitions", []) or [{}]
        for entry in entries:
            row = [name, current.get("state"), entry.get("partition", "-"), entry.get("state", "-"),
                   entry.get("currentOffset")]
            row += [entry.get("latestOffset"), entry.get("lag")] if with_upstream else []
            row += [_rate(entry, earlier.get(entry.get("partition")), elapsed_s), entry.get("rowsIndexed"),
                    entry.get("sealedSegments"), _short(entry.get("lastError"))]
            rows.append(row)
        if current.get("streamError"):
            notes.append(f"{name}: {current['streamError']}")
    return "\n".join([format_table(names, rows), *notes])


def _rate(entry: Status, earlier: Status | None, elapsed_s: float) -> str:
    if entry.get("rowsPerSecond") is not None:
        return f"{float(entry['rowsPerSecond']):.1f}"
    if earlier is None or elapsed_s <= 0 or "rowsIndexed" not in entry or "rowsIndexed" not in earlier:
        return ""
    return f"{max(0, entry['rowsIndexed'] - earlier['rowsIndexed']) / elapsed_s:.1f}"


def _short(error: Any) -> str:
    text = "" if error is None else " ".join(str(error).split())
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 1] + "…"
