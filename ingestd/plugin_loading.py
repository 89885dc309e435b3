"""Plugin discovery through Python entry points, and the explicit load at startup.

Three entry-point groups (docs/plugins.md); in each, an entry point's **name** is what a table config
writes and its **value** the "module:attribute" of the class it resolves to:

* `ingestd.streams`: consumer-factory class names (`stream.<type>.consumer.factory.class.name`);
* `ingestd.decoders`: decoder class names (`stream.<type>.decoder.class.name`);
* `ingestd.stream_types`: `streamType` values, each to the factory used when a config names none (the
  stream type is then also a factory class name of its own).

ingestd's own streams and decoders are declared the same way in its setup.cfg. Discovery
(`discover_entry_points`) only reads the installed metadata: it imports nothing. `load_plugins` imports
every registered target once, explicitly, when the server starts (before the catalog restores tables) and
in `ingestd validate`: a plugin that fails to import is logged with its distribution and error, and every
name resolving to it is refused with that error (plugins.mark_broken), while everything else works.

A name two distributions register with different targets keeps ingestd's own (or else the first
distribution's in name order), and the conflict is logged: a plugin cannot silently replace a built-in.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from ingestd import plugins

log = logging.getLogger(__name__)

STREAMS_GROUP = "ingestd.streams"
DECODERS_GROUP = "ingestd.decoders"
STREAM_TYPES_GROUP = "ingestd.stream_types"
_OWN_DISTRIBUTION = "ingestd"
_TARGET = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_STREAM_TYPE = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass(frozen=True)
class PluginProblem:
    """Something wrong with an installed plugin, as logged: which entry point, from where, and why."""

    group: str
    name: str
    target: str
    distribution: str
    problem: str

    def __str__(self) -> str:
        return (f"plugin {self.name!r} ({self.group} = {self.target}, from distribution "
                f"{self.distribution!r}): {self.problem}")


_problems: list[PluginProblem] = []


def discover_entry_points() -> list[PluginProblem]:
    """Register every installed entry point of the three groups; malformed or conflicting ones are
    skipped and returned (and logged)."""
    _problems.clear()
    registrars: dict[str, Callable[[str, str], None]] = {
        STREAM_TYPES_GROUP: plugins.register_stream_type,
        STREAMS_GROUP: plugins.register_stream_factory,
        DECODERS_GROUP: plugins.register_decoder,
    }
    own = [point for group in registrars for point in entry_points(group=group)
           if _distribution(point) == _OWN_DISTRIBUTION]
    if not own:
        _problem(STREAMS_GROUP, "-", "-", _OWN_DISTRIBUTION, "ingestd's own entry points are not installed "
                 "(install ingestd, e.g. `pip install -e .`): no stream or decoder is known")
    for group, register in registrars.items():
        chosen: dict[str, EntryPoint] = {}
        for point in sorted(entry_points(group=group), key=_precedence):
            if not _TARGET.match(point.value):
                _problem(group, point.name, point.value, _distribution(point),
                         "the value must be \"module:attribute\"; skipped")
                continue
            if group == STREAM_TYPES_GROUP and not _STREAM_TYPE.match(point.name):
                _problem(group, point.name, point.value, _distribution(point),
                         "a stream type is lower case letters, digits, '-' and '_'; skipped")
                continue
            kept = chosen.get(point.name)
            if kept is not None:
                if kept.value != point.value:
                    _problem(group, point.name, point.value, _distribution(point),
                             f"the name is already registered by {_distribution(kept)!r} as {kept.value}; "
                             "skipped")
                continue
            chosen[point.name] = point
            register(point.name, point.value)
    return list(_problems)


def load_plugins() -> list[PluginProblem]:
    """Import every registered target once; a target that fails is logged and refused by name from now
    on (plugins.mark_broken). Returns every problem found, discovery's included. Never raises."""
    plugins.ensure_discovered()
    problems = list(_problems)
    origins = _origins()
    for target in sorted(plugins.registered_targets()):
        try:
            plugins.PluginRef(target, target).load()
        except Exception as exc:  # any failure of a plugin's import is reported, never fatal to the server
            reason = f"{type(exc).__name__}: {exc}"
            plugins.mark_broken(target, reason)
            group, name, distribution = origins.get(target, ("?", target, "?"))
            problem = PluginProblem(group, name, target, distribution, f"cannot be imported: {reason}")
            log.error("%s; tables naming it are refused, the others are served", problem)
            problems.append(problem)
    return problems


def _origins() -> dict[str, tuple[str, str, str]]:
    """target → (group, a name, distribution), for messages."""
    origins: dict[str, tuple[str, str, str]] = {}
    for group in (STREAM_TYPES_GROUP, STREAMS_GROUP, DECODERS_GROUP):
        for point in entry_points(group=group):
            origins.setdefault(point.value, (group, point.name, _distribution(point)))
    return origins


def _problem(group: str, name: str, target: str, distribution: str, problem: str) -> None:
    found = PluginProblem(group, name, target, distribution, problem)
    log.error("%s", found)
    _problems.append(found)


def _precedence(point: EntryPoint) -> tuple[int, str]:
    distribution = _distribution(point)
    return (0 if distribution == _OWN_DISTRIBUTION else 1, distribution)


def _distribution(point: EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    return dist.name if dist is not None else "?"
