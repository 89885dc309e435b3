"""Repeated runs of a measurement: the median and the spread (min-max) of every figure across them, never
the best run."""

from __future__ import annotations

import statistics
from typing import Any


def flatten(document: dict[str, Any], prefix: str = "") -> dict[str, float | None]:
    """The numbers in a nested result, by dotted path (`a.b.c`)."""
    flat: dict[str, float | None] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        elif value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            flat[f"{prefix}{key}"] = value
    return flat


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Median, min and max of every number across the runs, by dotted path. A path missing from a run
    is a count it never incremented (an error code it never saw): 0 there. None (no samples) is left out."""
    flats = [flatten(run) for run in runs]
    summary = {}
    for path in sorted(set().union(*flats)):
        values = [v for v in (flat.get(path, 0) for flat in flats) if v is not None]
        if values:
            summary[path] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    return summary


def figure(summary: dict[str, dict[str, float]], path: str, digits: int = 0) -> str:
    """`median (min-max)` of one summarized figure, or n/a."""
    if path not in summary:
        return "n/a"
    median, low, high = (f"{summary[path][key]:,.{digits}f}" for key in ("median", "min", "max"))
    return f"{median} ({low}-{high})"


def counts(summary: dict[str, dict[str, float]], prefix: str) -> str:
    """Every figure under `prefix` (e.g. errors by code) as `name: median (min-max)`, or none."""
    found = [f"{path[len(prefix):]}: {figure(summary, path)}" for path in summary if path.startswith(prefix)]
    return ", ".join(found) or "none"


def print_table(summary: dict[str, dict[str, float]], title: str, columns: dict[str, str],
                rows: list[tuple[str, str, int]]) -> None:
    """One column per path prefix (`columns`: prefix → heading), one line per `rows` entry: its label, the
    path below each prefix, and the digits to show."""
    print(f"\n{title}\n  {'':<24}" + "".join(f"{heading:>26}" for heading in columns.values()))
    for label, leaf, digits in rows:
        cells = [figure(summary, prefix + leaf, digits) for prefix in columns]
        print(f"  {label:<24}" + "".join(f"{cell:>26}" for cell in cells))
