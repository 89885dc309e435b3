"""The CLI without a server: help texts, version, offline validation, the status table, and a data_dir
that cannot be created."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import orjson
import pytest
from click.testing import CliRunner

from ingestd import __version__
from ingestd.cli import main
from ingestd.cli.status_command import render
from ingestd.devtools.seed import EXAMPLES, seed_configs

SCHEMA_FILE = str(EXAMPLES / "transcript-schema.json")
TABLE_FILE = str(EXAMPLES / "transcript-table-realtime.json")


def run(*arguments: str) -> Any:
    return CliRunner().invoke(main, list(arguments), catch_exceptions=False)


def write(tmp_path: Path, name: str, document: Any) -> str:
    (tmp_path / name).write_bytes(orjson.dumps(document))
    return str(tmp_path / name)


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_an_example_and_names_every_default(name: str) -> None:
    command = main.commands[name]
    shown = run(name, "--help")
    assert shown.exit_code == 0 and "Example" in shown.output, shown.output
    for option in command.params:
        default = option.get_default(click.Context(command), call=False)
        if isinstance(option, click.Option) and isinstance(default, str | int | float):
            named = option.show_default or "default" in (option.help or "").lower()
            assert named, f"{name} {option.opts[0]}: its default is not named"


def test_version() -> None:
    assert run("--version").output.strip() == f"ingestd, version {__version__}"


def test_validate_accepts_the_seed_examples() -> None:
    result = run("validate", "--schema-file", SCHEMA_FILE, "--table-config-file", TABLE_FILE)
    assert result.exit_code == 0, result.output
    assert "schema transcript is valid" in result.output
    assert "table transcript_REALTIME is valid against schema transcript" in result.output


def test_validate_exits_1_naming_the_field(tmp_path: Path) -> None:
    schema, table = seed_configs("v")
    bad_table = copy.deepcopy(table)
    bad_table["tableIndexConfig"]["loadMode"] = "DISK"
    result = run("validate", "--schema-file", write(tmp_path, "s.json", schema),
                 "--table-config-file", write(tmp_path, "t.json", bad_table))
    assert result.exit_code == 1
    assert "t.json: tableIndexConfig.loadMode must be MMAP or HEAP, got 'DISK'" in result.output

    bad_schema = copy.deepcopy(schema)
    bad_schema["dimensionFieldSpecs"][1]["dataType"] = "STRNG"
    result = run("validate", "--schema-file", write(tmp_path, "s.json", bad_schema))
    assert result.exit_code == 1 and "dimensionFieldSpecs[1].dataType must be one of" in result.output

    rejected = copy.deepcopy(table)
    rejected["tableIndexConfig"]["streamConfigs"]["stream.kafka.consumer.prop.fetch.wait.max.msz"] = "5"
    result = run("validate", "--table-config-file", write(tmp_path, "t.json", rejected))
    assert result.exit_code == 1 and "fetch.wait.max.msz is rejected by librdkafka" in result.output

    other_schema = run("validate", "--schema-file", write(tmp_path, "s.json", seed_configs("other")[0]),
                       "--table-config-file", write(tmp_path, "t.json", table))
    assert other_schema.exit_code == 1
    assert "names schema 'v', which has not been uploaded" in other_schema.output
    assert run("validate").exit_code == 2  # neither file: a usage error


def test_validate_warns_of_typos_and_still_passes(tmp_path: Path) -> None:
    schema, table = seed_configs("v")
    table["tableIndexConfig"]["loadMod"] = "HEAP"
    result = CliRunner().invoke(main, ["validate", "--schema-file", write(tmp_path, "s.json", schema),
                                       "--table-config-file", write(tmp_path, "t.json", table)])
    assert result.exit_code == 0
    assert 'unrecognized property /tableIndexConfig/loadMod = "HEAP"' in result.output


def test_status_shows_latest_offset_and_lag_only_when_the_server_reports_them() -> None:
    before = {"t": {"state": "CONSUMING", "partitions": [{"partition": 0, "state": "CONSUMING",
                                                         "currentOffset": 10, "rowsIndexed": 10}]}}
    after = copy.deepcopy(before)
    after["t"]["partitions"][0] |= {"currentOffset": 30, "rowsIndexed": 30, "lastError": "boom " * 50}
    lines = render(before, after, elapsed_s=2.0).splitlines()
    assert [cell.strip() for cell in lines[0].split(" | ")] == [
        "table", "state", "partition", "partition state", "offset", "rows/s", "rows", "segments",
        "last error"]
    assert [cell.strip() for cell in lines[2].split(" | ")][:7] == ["t", "CONSUMING", "0", "CONSUMING", "30",
                                                                  "10.0", "30"]
    assert lines[2].endswith("…") and len(lines[2]) < 200  # a long error is cut

    reported = copy.deepcopy(after)
    reported["t"]["partitions"][0] |= {"latestOffset": 45, "lag": 15, "rowsPerSecond": 7.25}
    reported["t"]["streamError"] = "broker down"
    lines = render(before, reported, elapsed_s=2.0).splitlines()
    assert "| latest" in lines[0] and "| lag" in lines[0]
    assert [cell.strip() for cell in lines[2].split(" | ")][4:8] == ["30", "45", "15", "7.2"]
    assert lines[-1] == "t: broker down"


@pytest.mark.parametrize("where", ["a-file", "a-file/data"])
def test_a_data_dir_that_cannot_be_created_is_a_one_line_error(tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    config = tmp_path / "ingestd.toml"
    config.write_text(f'data_dir = "{tmp_path / where}"\n[http]\nport = 0\n')
    started = subprocess.run([sys.executable, "-m", "ingestd", "start", "--config", str(config)],
                             capture_output=True, text=True, timeout=60)
    assert started.returncode == 1
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1, started.stderr
    assert lines[0].startswith(f"Error: bad config {config}: data_dir '{tmp_path / where}' cannot be created")
