"""Plugins through entry points: ingestd's built-ins and a plugin distribution register the same way, a
config can only name what is registered (never a module path), and a broken plugin is reported and
refused by name while everything else works.

Plugin distributions here are real installed metadata (a `*.dist-info` directory with `entry_points.txt`
on sys.path, as pip leaves it), read by importlib.metadata: nothing is mocked.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from ingestd import plugins
from ingestd.config import parse_table_config
from ingestd.devtools.seed import seed_table
from ingestd.errors import ConfigError
from ingestd.plugin_loading import DECODERS_GROUP, STREAM_TYPES_GROUP, STREAMS_GROUP, load_plugins

STREAMS = "tableIndexConfig.streamConfigs"


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    plugins.reset_registry()
    yield
    plugins.reset_registry()


def install_distribution(root: Path, name: str, entry_points_txt: str,
                         modules: dict[str, str] | None = None) -> None:
    """What `pip install` leaves: the modules, and NAME-VERSION.dist-info with METADATA and entry points."""
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points_txt))
    for module, source in (modules or {}).items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))


def stream_table(stream_type: str = "kafka", **keys: str) -> dict[str, Any]:
    table = seed_table()
    configs = table["tableIndexConfig"]["streamConfigs"]
    if stream_type != "kafka":
        table["tableIndexConfig"]["streamConfigs"] = configs = {
            "streamType": stream_type, f"stream.{stream_type}.topic.name": "t",
            f"stream.{stream_type}.decoder.class.name": "json"}
    configs.update(keys)
    return table


def test_the_builtins_are_registered_from_ingestd_own_entry_points() -> None:
    names = plugins.registered_names()
    for group, kind in ((STREAM_TYPES_GROUP, "stream_types"), (STREAMS_GROUP, "streams"),
                        (DECODERS_GROUP, "decoders")):
        own = {p.name: p.value for p in entry_points(group=group) if p.dist and p.dist.name == "ingestd"}
        assert own, f"ingestd declares no {group} entry points"
        assert {n: t for n, t in names[kind].items() if n in own} == own
    assert names["stream_types"]["kafka"] == "ingestd.stream.kafka:KafkaConsumerFactory"
    assert names["streams"]["org.apache.pinot.plugin.stream.kafka20.KafkaConsumerFactory"] == \
        "ingestd.stream.kafka:KafkaConsumerFactory"
    config = parse_table_config(seed_table())
    assert config.stream.consumer_factory.target == "ingestd.stream.kafka:KafkaConsumerFactory"


@pytest.mark.parametrize("key", ["stream.kafka.decoder.class.name",
                                 "stream.kafka.consumer.factory.class.name"])
@pytest.mark.parametrize("value", ["os:system", "os.system", "subprocess:Popen",
                                   "ingestd.stream.kafka:KafkaConsumerFactory", "sneaky_module:Thing"])
def test_a_config_can_only_name_a_registered_class_never_a_module_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: str) -> None:
    (tmp_path / "sneaky_module.py").write_text("import sys\nsys.IMPORTED_SNEAKY = True\nclass Thing: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as error:
        parse_table_config(stream_table(**{key: value}))
    assert error.value.path == f"{STREAMS}.{key}"
    assert "unknown class" in error.value.problem
    assert "only name a class a plugin registered" in error.value.problem
    assert "sneaky_module" not in sys.modules and not hasattr(sys, "IMPORTED_SNEAKY")


def test_an_unknown_stream_type_names_the_field_and_the_known_types() -> None:
    with pytest.raises(ConfigError) as error:
        parse_table_config(stream_table(streamType="os:system"))
    assert error.value.path == f"{STREAMS}.streamType"
    assert "kafka" in error.value.problem and "pulsar" in error.value.problem


def test_a_plugin_distribution_registers_a_stream_type_a_factory_and_a_decoder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_distribution(tmp_path, "tiny_plugin", """
        [ingestd.stream_types]
        tiny = tiny_plugin:TinyFactory
        [ingestd.streams]
        com.example.TinyFactory = tiny_plugin:TinyFactory
        [ingestd.decoders]
        com.example.TinyDecoder = tiny_plugin:TinyDecoder
        """, {"tiny_plugin": """
        class TinyFactory:
            checked = []

            @classmethod
            def check_config(cls, stream):
                cls.checked.append(stream.topic)

        class TinyDecoder: ...
        """})
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [p for p in load_plugins() if p.distribution == "tiny_plugin"] == []
    config = parse_table_config(stream_table("tiny", **{"stream.tiny.decoder.class.name":
                                                        "com.example.TinyDecoder"}))
    assert config.stream.consumer_factory.target == "tiny_plugin:TinyFactory"
    assert config.stream.decoder.target == "tiny_plugin:TinyDecoder"
    assert config.stream.consumer_factory.load().checked == ["t"]  # its check_config ran at parse time
    named = parse_table_config(stream_table("tiny", **{"stream.tiny.consumer.factory.class.name":
                                                       "com.example.TinyFactory"}))
    assert named.stream.consumer_factory == config.stream.consumer_factory


def test_a_broken_plugin_is_reported_with_its_distribution_and_refused_while_others_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    install_distribution(tmp_path, "broken_plugin", """
        [ingestd.stream_types]
        broken = broken_plugin:Factory
        [ingestd.decoders]
        com.example.BrokenDecoder = broken_plugin:Decoder
        """, {"broken_plugin": "import a_dependency_nobody_installed\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    problems = load_plugins()
    broken = [p for p in problems if p.distribution == "broken_plugin"]
    assert {p.target for p in broken} == {"broken_plugin:Factory", "broken_plugin:Decoder"}
    assert all("ModuleNotFoundError" in p.problem and "a_dependency_nobody_installed" in p.problem
               for p in broken)
    assert "broken_plugin" in caplog.text and "the others are served" in caplog.text
    with pytest.raises(ConfigError) as error:
        parse_table_config(stream_table("broken"))
    assert error.value.path == f"{STREAMS}.streamType"
    assert "could not be loaded when the server started" in error.value.problem
    with pytest.raises(ConfigError) as error:
        parse_table_config(stream_table(**{"stream.kafka.decoder.class.name": "com.example.BrokenDecoder"}))
    assert error.value.path == f"{STREAMS}.stream.kafka.decoder.class.name"
    assert parse_table_config(seed_table()).stream.stream_type == "kafka"  # the rest still works


def test_a_plugin_cannot_replace_a_builtin_name_and_malformed_entry_points_are_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_distribution(tmp_path, "aaa_hijack", """
        [ingestd.stream_types]
        kafka = aaa_hijack:Factory
        Bad Type = aaa_hijack:Factory
        [ingestd.decoders]
        json = aaa_hijack:Decoder
        com.example.NoAttribute = aaa_hijack
        """, {"aaa_hijack": "class Factory: ...\nclass Decoder: ...\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    problems = [p for p in load_plugins() if p.distribution == "aaa_hijack"]
    assert sorted(p.name for p in problems) == ["Bad Type", "com.example.NoAttribute", "json", "kafka"]
    assert any("already registered by 'ingestd'" in p.problem for p in problems)
    names = plugins.registered_names()
    assert names["stream_types"]["kafka"] == "ingestd.stream.kafka:KafkaConsumerFactory"
    assert names["decoders"]["json"] == "ingestd.decode.json_decoder:JsonDecoder"
    assert "com.example.NoAttribute" not in names["decoders"]


def test_a_stored_table_on_a_plugin_that_broke_is_skipped_at_restore_and_the_others_restored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from ingestd.catalog import Catalog
    from ingestd.devtools.seed import seed_configs
    from ingestd.paths import DataPaths

    site = tmp_path / "site"
    install_distribution(site, "fragile_plugin", """
        [ingestd.stream_types]
        fragile = fragile_plugin:Factory
        """, {"fragile_plugin": """
        class Factory:
            def __init__(self, config, client_id): ...
            def partition_consumer(self, partition, start): return Closing()
            def metadata_provider(self): return Closing()

        class Closing:
            def close(self): ...
        """})
    monkeypatch.syspath_prepend(str(site))
    catalog = Catalog(DataPaths(tmp_path / "data"))
    catalog.load()
    schema, kafka_table = seed_configs("plain", **{"stream.kafka.broker.list": "127.0.0.1:1"})
    catalog.put_schema(schema)
    catalog.put_table(kafka_table)
    _, fragile_table = seed_configs("plain")
    fragile_table["tableName"] = "fragile"
    fragile_table["tableIndexConfig"]["streamConfigs"] = {
        "streamType": "fragile", "stream.fragile.topic.name": "t",
        "stream.fragile.decoder.class.name": "json"}
    catalog.put_table(fragile_table)
    assert sorted(catalog.tables) == ["fragile", "plain"]

    (site / "fragile_plugin.py").write_text("import a_dependency_removed_since\n")  # the plugin breaks
    monkeypatch.delitem(sys.modules, "fragile_plugin")
    plugins.reset_registry()
    assert [p.name for p in load_plugins() if p.distribution == "fragile_plugin"] == ["fragile"]
    restarted = Catalog(DataPaths(tmp_path / "data"))
    restarted.load()
    assert sorted(restarted.tables) == ["plain"]
    assert "cannot restore table" in caplog.text and "a_dependency_removed_since" in caplog.text
