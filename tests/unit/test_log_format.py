"""`[log] format`: "text" (the default) or "json" (one object per line for log shippers), validated like
every other server setting; the JSON shape carries time, level, logger, process role, message, exception."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import orjson
import pytest

from ingestd.errors import ConfigError
from ingestd.logs import make_formatter
from ingestd.settings import load_settings, parse_settings


def record(message: str, *args: object, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("ingestd.coordinator", level, __file__, 1, message, args, None)


def test_json_lines_carry_time_level_logger_role_pid_and_message() -> None:
    line = make_formatter("json", "worker-3").format(record("table %s created", "orders"))
    assert "\n" not in line
    document = orjson.loads(line)
    assert document["level"] == "INFO" and document["logger"] == "ingestd.coordinator"
    assert document["process"] == "worker-3" and document["message"] == "table orders created"
    assert isinstance(document["pid"], int)
    assert document["time"].endswith("+00:00") and "T" in document["time"]
    assert "exception" not in document


def test_json_lines_carry_the_exception_text_on_the_same_line() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        failed = logging.LogRecord("x", logging.ERROR, __file__, 1, "poll failed", (), sys.exc_info())
    line = make_formatter("json", "coordinator").format(failed)
    assert "\n" not in line
    document = orjson.loads(line)
    assert document["message"] == "poll failed"
    assert "Traceback" in document["exception"] and "ValueError: bad\nvalue" in document["exception"]


def test_text_lines_name_the_process_role() -> None:
    line = make_formatter("text", "coordinator").format(record("hello"))
    assert line.endswith("INFO [coordinator] ingestd.coordinator: hello")


def test_log_format_defaults_to_text_and_accepts_json(tmp_path: Path) -> None:
    assert parse_settings({"data_dir": "d"}, tmp_path).log_format == "text"
    assert parse_settings({"data_dir": "d", "log": {"format": "json"}}, tmp_path).log_format == "json"


@pytest.mark.parametrize("value", ["xml", "JSON", 1, ["json"]])
def test_an_unknown_log_format_is_a_config_error_naming_log_format(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"data_dir": "d", "log": {"format": value}}, tmp_path)
    assert caught.value.path == "log.format"
    assert "text, json" in str(caught.value)


def test_loaded_settings_know_their_file(tmp_path: Path) -> None:
    config = tmp_path / "ingestd.toml"
    config.write_text('data_dir = "d"\n[log]\nformat = "json"\n')
    settings = load_settings(config)
    assert settings.config_path == config.resolve() and settings.log_format == "json"
