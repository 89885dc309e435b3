"""The registry of stream-consumer factories and message decoders, keyed by the names a table config uses.

A table config can only *name* a registered class (`stream.<type>.consumer.factory.class.name`,
`stream.<type>.decoder.class.name`, `streamType`); it can never give a module path to import. What is
registered comes from Python entry points (plugin_loading.py: the groups `ingestd.streams`,
`ingestd.decoders` and `ingestd.stream_types`), ingestd's own built-ins included, so there is one path.
Targets are "module:attribute" strings: resolving a config imports nothing but the registered target.

A plugin whose target could not be imported when the server started (plugin_loading.load_plugins) stays
known by name and is refused with its import error, so a table naming it is a 400 that says why, and
every other table is served as usual.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from typing import Any

from ingestd.errors import ConfigError


@dataclass(frozen=True)
class PluginRef:
    """A registered class: the name a config used (for messages) and what it resolves to. Two refs are
    equal when they resolve to the same target (kafka20 and kafka30 are the same factory)."""

    name: str = field(compare=False)
    target: str  # "module:attribute"

    def load(self) -> Any:
        module_name, _, attribute = self.target.partition(":")
        value: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            value = getattr(value, part)
        return value


_STREAM_FACTORIES: dict[str, PluginRef] = {}
_DECODERS: dict[str, PluginRef] = {}
_STREAM_TYPES: dict[str, PluginRef] = {}  # `streamType` → the factory used when a config names none
_BROKEN: dict[str, str] = {}  # target → why it could not be imported at startup
_discovered = False
_discover_lock = threading.Lock()


def ensure_discovered() -> None:
    """Read the installed entry points once (no plugin is imported by this)."""
    global _discovered
    if _discovered:
        return
    with _discover_lock:
        if not _discovered:
            from ingestd.plugin_loading import discover_entry_points

            discover_entry_points()
            _discovered = True


def resolve_stream_type(stream_type: str, path: str) -> str:
    """The name of `stream_type`'s default factory (registered under the stream type's own name);
    ConfigError naming the known types otherwise."""
    ensure_discovered()
    if not _STREAM_TYPES:
        raise ConfigError(path, "cannot be resolved: no stream type is registered (ingestd's own entry "
                                "points are missing: install ingestd, e.g. `pip install -e .`)")
    if stream_type not in _STREAM_TYPES:
        raise ConfigError(path, f"must be a known stream type ({', '.join(sorted(_STREAM_TYPES))}), "
                                f"got {stream_type!r}")
    _check_loadable(_STREAM_TYPES[stream_type], path)
    return stream_type


def resolve_stream_factory(class_name: str, path: str) -> PluginRef:
    return _resolve(_STREAM_FACTORIES, class_name, path)


def resolve_decoder(class_name: str, path: str) -> PluginRef:
    return _resolve(_DECODERS, class_name, path)


def register_stream_type(stream_type: str, target: str) -> None:
    """`streamType: <stream_type>` uses `target` unless the config names a factory; the stream type is
    also a factory class name of its own."""
    ref = PluginRef(stream_type, target)
    _STREAM_TYPES[stream_type] = ref
    _STREAM_FACTORIES.setdefault(stream_type, ref)


def register_stream_factory(class_name: str, target: str) -> None:
    _STREAM_FACTORIES[class_name] = PluginRef(class_name, target)


def register_decoder(class_name: str, target: str) -> None:
    _DECODERS[class_name] = PluginRef(class_name, target)


def mark_broken(target: str, reason: str) -> None:
    """`target` failed to import: every name resolving to it is refused with `reason`."""
    _BROKEN[target] = reason


def registered_targets() -> set[str]:
    """Every distinct "module:attribute" target registered, for loading them all at startup."""
    ensure_discovered()
    return {ref.target for table in (_STREAM_FACTORIES, _DECODERS, _STREAM_TYPES) for ref in table.values()}


def registered_names() -> dict[str, dict[str, str]]:
    """Kind → name → target, for the CLI and the docs."""
    ensure_discovered()
    return {kind: {name: ref.target for name, ref in sorted(table.items())}
            for kind, table in (("stream_types", _STREAM_TYPES), ("streams", _STREAM_FACTORIES),
                                ("decoders", _DECODERS))}


def stream_config_keys(stream_type: str) -> frozenset[str]:
    """The keys after `stream.<type>.` that the stream type's factory declares it reads (its optional
    `config_keys` attribute), so they are not reported as unrecognized; empty when unknown or broken."""
    ensure_discovered()
    ref = _STREAM_TYPES.get(stream_type)
    if ref is None or ref.target in _BROKEN:
        return frozenset()
    try:
        factory = ref.load()
    except Exception:  # reported where it matters: at startup and when a config names it
        return frozenset()
    return frozenset(getattr(factory, "config_keys", ()))


def _resolve(table: dict[str, PluginRef], class_name: str, path: str) -> PluginRef:
    ensure_discovered()
    ref = table.get(class_name)
    if ref is None:
        known = ", ".join(sorted(k for k in table if "." in k))
        raise ConfigError(path, f"names an unknown class {class_name!r} (a config can only name a class "
                                f"a plugin registered; known: {known})")
    _check_loadable(ref, path)
    return ref


def _check_loadable(ref: PluginRef, path: str) -> None:
    reason = _BROKEN.get(ref.target)
    if reason is not None:
        raise ConfigError(path, f"names {ref.name!r}, whose plugin {ref.target} could not be loaded when the "
                                f"server started: {reason}")


def reset_registry() -> None:
    """Forget every registration and import failure; the next lookup discovers the entry points again
    (for tests that install a plugin distribution on sys.path)."""
    global _discovered
    with _discover_lock:
        for table in (_STREAM_FACTORIES, _DECODERS, _STREAM_TYPES, _BROKEN):
            table.clear()
        _discovered = False
