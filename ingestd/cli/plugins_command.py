"""`ingestd plugins`: what this Python environment registers (ingestd's built-ins and installed plugins),
loaded as `ingestd start` loads them, with every problem found; exits 1 when there is one."""

from __future__ import annotations

import logging

import click

from ingestd import plugins
from ingestd.plugin_loading import load_plugins

_KINDS = (("stream_types", "streamType", "ingestd.stream_types"),
          ("streams", "consumer factory class", "ingestd.streams"),
          ("decoders", "decoder class", "ingestd.decoders"))


@click.command(name="plugins", short_help="List the registered streams and decoders, and broken plugins.")
def plugins_command() -> None:
    """List the names a table config may use here (stream types, consumer factory and decoder class
    names) with what each resolves to, importing each once as the server does at start. Plugins that
    cannot be loaded are listed last, with why; the exit code is then 1.

    \b
    Example:
      pip install -e examples/jsonl-directory-stream && ingestd plugins
    """
    logging.disable(logging.CRITICAL)  # the problems are printed below, once
    try:
        problems = load_plugins()
    finally:
        logging.disable(logging.NOTSET)
    broken = {problem.target for problem in problems}
    names = plugins.registered_names()
    for kind, label, group in _KINDS:
        click.echo(f"{label} ({group}):")
        for name, target in names[kind].items():
            mark = "  BROKEN" if target in broken else ""
            click.echo(f"  {name} = {target}{mark}")
    if problems:
        click.echo("problems:", err=True)
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        raise SystemExit(1)
