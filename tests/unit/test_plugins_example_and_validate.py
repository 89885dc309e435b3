"""The example stream plugin's consumer against real files (positions, partial lines, LARGEST, bounds of a
truncated file, new partitions), and `ingestd validate` loading plugins as the server does: a broken one
is a warning, a config naming it fails naming the field. The plugin distribution of the last test is real
installed metadata on sys.path (see test_plugins.py)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from ingestd_jsonl_dir.stream import JsonlDirectoryConsumerFactory

from ingestd import plugins
from ingestd.cli import main
from ingestd.config import parse_table_config
from ingestd.config.table import OffsetReset, StreamConfig
from ingestd.devtools.seed import seed_configs
from ingestd.errors import ConfigError
from ingestd.stream.checks import TopicNotFound
from ingestd.stream.spi import StartPosition


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    plugins.reset_registry()
    yield
    plugins.reset_registry()


def jsonl_configs(topic: str = "events", **keys: str) -> tuple[dict[str, Any], dict[str, Any]]:
    schema, table = seed_configs("j")
    table["tableIndexConfig"]["streamConfigs"] = {
        "streamType": "jsonldir", "stream.jsonldir.topic.name": topic,
        "stream.jsonldir.decoder.class.name": "json", **keys}
    return schema, table


def stream(topic: str = "events", **keys: str) -> StreamConfig:
    return parse_table_config(jsonl_configs(topic, **keys)[1]).stream


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INGESTD_JSONL_ROOT", str(tmp_path))
    (tmp_path / "events").mkdir()
    return tmp_path


def write(path: Path, text: str) -> None:
    with open(path, "a") as handle:
        handle.write(text)


def test_the_example_consumer_reads_complete_lines_from_an_exact_position(root: Path) -> None:
    factory = JsonlDirectoryConsumerFactory(stream(), "ingestd-j")
    log = root / "events" / "0.jsonl"
    write(log, "a\nb\nc\nd")  # "d" is still being written
    consumer = factory.partition_consumer(0, StartPosition(None, OffsetReset.SMALLEST))
    batch = consumer.fetch(2, 0.01)
    assert batch is not None and batch.values == [b"a", b"b"] and batch.next_offset == 2
    batch = consumer.fetch(10, 0.01)
    assert batch is not None and batch.values == [b"c"] and batch.offset_at(0) == 2
    assert consumer.fetch(10, 0.01) is None and consumer.latest_offset() == 3
    write(log, "\ne\n")
    batch = consumer.fetch(10, 0.01)
    assert batch is not None and batch.values == [b"d", b"e"] and batch.next_offset == 5
    resumed = factory.partition_consumer(0, StartPosition(3, OffsetReset.SMALLEST))
    batch = resumed.fetch(10, 0.01)
    assert batch is not None and batch.values == [b"d", b"e"]
    latest = factory.partition_consumer(0, StartPosition(None, OffsetReset.LARGEST))
    assert latest.fetch(10, 0.01) is None
    write(log, "f\n")
    batch = latest.fetch(10, 0.01)
    assert batch is not None and batch.values == [b"f"] and batch.offset_at(0) == 5


def test_the_example_consumer_waits_for_its_file_and_reports_bounds(root: Path) -> None:
    factory = JsonlDirectoryConsumerFactory(stream(), "ingestd-j")
    consumer = factory.partition_consumer(3, StartPosition(None, OffsetReset.SMALLEST))
    assert consumer.fetch(10, 0.01) is None  # no file yet: a partition with nothing in it
    assert factory.metadata_provider().partition_ids() == []
    write(root / "events" / "3.jsonl", "x\ny\n")
    write(root / "events" / "notes.txt", "not a partition\n")
    assert factory.metadata_provider().partition_ids() == [3]
    batch = consumer.fetch(10, 0.01)
    assert batch is not None and batch.values == [b"x", b"y"]
    bounds = consumer.bounds(2, 0.1)
    assert bounds is not None and bounds.holds(2) and not bounds.holds(5)  # a rewritten, shorter file


def test_the_example_refuses_paths_and_bad_keys_and_names_a_missing_directory(root: Path) -> None:
    for topic in ("../etc", "a/b", ".."):
        with pytest.raises(ConfigError) as error:
            stream(topic)
        assert error.value.path.endswith("stream.jsonldir.topic.name")
    with pytest.raises(ConfigError) as error:
        stream(**{"stream.jsonldir.poll.interval.ms": "0"})
    assert error.value.path.endswith("stream.jsonldir.poll.interval.ms")
    with pytest.raises(TopicNotFound):
        JsonlDirectoryConsumerFactory(stream("absent"), "ingestd-j").metadata_provider().partition_ids()


def test_validate_and_plugins_load_plugins_report_a_broken_one_and_fail_a_config_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = tmp_path / "site" / "broken_cli_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken_cli_plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""
        [ingestd.decoders]
        com.example.Broken = broken_cli_plugin:Decoder
        """))
    (tmp_path / "site" / "broken_cli_plugin.py").write_text("raise RuntimeError('half-installed')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    schema, table = jsonl_configs()
    files = {}
    for name, document in (("s.json", schema), ("t.json", table)):
        files[name] = tmp_path / name
        files[name].write_bytes(orjson.dumps(document))
    ok = CliRunner().invoke(main, ["validate", "--schema-file", str(files["s.json"]),
                                   "--table-config-file", str(files["t.json"])])
    assert ok.exit_code == 0, ok.output
    assert "warning: plugin 'com.example.Broken'" in ok.output and "half-installed" in ok.output

    plugins.reset_registry()
    listing = CliRunner().invoke(main, ["plugins"])
    assert listing.exit_code == 1
    assert "jsonldir = ingestd_jsonl_dir.stream:JsonlDirectoryConsumerFactory" in listing.output
    assert "com.example.Broken = broken_cli_plugin:Decoder  BROKEN" in listing.output

    plugins.reset_registry()
    table["tableIndexConfig"]["streamConfigs"]["stream.jsonldir.decoder.class.name"] = "com.example.Broken"
    files["t.json"].write_bytes(orjson.dumps(table))
    failed = CliRunner().invoke(main, ["validate", "--table-config-file", str(files["t.json"])])
    assert failed.exit_code == 1
    assert "stream.jsonldir.decoder.class.name names 'com.example.Broken'" in failed.output
    assert "could not be loaded" in failed.output


def test_a_plugin_declares_its_own_keys_so_only_typos_are_reported() -> None:
    from ingestd.config.unrecognized import unrecognized_table_properties

    _, table = jsonl_configs(**{"stream.jsonldir.poll.interval.ms": "20",
                                "stream.jsonldir.pol.interval": "1"})
    assert list(unrecognized_table_properties(table)) == [
        "/tableIndexConfig/streamConfigs/stream.jsonldir.pol.interval"]


def test_the_example_plugin_keeps_the_stream_spi_contract(root: Path) -> None:
    from ingestd.devtools.stream_contract import ContractStream, check_stream_contract

    def publish(values: list[bytes]) -> None:
        write(root / "events" / "2.jsonl", "".join(v.decode() + "\n" for v in values))

    check_stream_contract(ContractStream(JsonlDirectoryConsumerFactory(stream(), "ingestd-j"), 2, publish,
                                         timeout_s=2.0))


def test_the_example_decoder_plugin_decodes_logfmt_and_reports_bad_lines() -> None:
    from ingestd_jsonl_dir.logfmt import LogfmtDecoder

    from ingestd.config import parse_schema
    from ingestd.decode.conform import conform

    schema_doc, table_doc = jsonl_configs(**{"stream.jsonldir.decoder.class.name":
                                             "com.example.ingestd.LogfmtDecoder"})
    schema = parse_schema(schema_doc)
    table = parse_table_config(table_doc, {"j": schema})
    assert table.stream.decoder.target == "ingestd_jsonl_dir.logfmt:LogfmtDecoder"
    decoded = LogfmtDecoder(schema, table).decode([
        b'studentID=205 firstName=Natalie lastName="Van Jones" gender=Female subject=Maths score=3.8 '
        b"timestamp=1571900400000",
        b'studentID=oops subject="Maths"',  # does not convert: malformed
        b'unbalanced "quote',  # does not parse: malformed
        b"studentID=207 subject=History timestamp=1571900400001",  # missing fields: Pinot's defaults
        None,
    ])
    assert decoded.bad_indices == [1, 2, 4] and "ValueError" in (decoded.first_error or "")
    rows = conform(decoded, schema, table).rows.to_pylist()
    assert rows[0]["lastName"] == "Van Jones" and abs(rows[0]["score"] - 3.8) < 1e-6
    assert rows[1]["studentID"] == 207 and rows[1]["firstName"] == "null" and rows[1]["score"] == 0
