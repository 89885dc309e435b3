"""Logging set-up shared by the coordinator and worker processes: stdlib logging to stderr, as text
(the default) or as one JSON object per line for log shippers (`[log] format = "json"`).

Every line names the process it comes from (`coordinator`, `worker-N`): under systemd all of
ingestd's processes write to the same journal stream.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson

LOG_FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, process role, pid, message,
    and `exception` (the traceback text) when the record carries one."""

    def __init__(self, process_name: str) -> None:
        super().__init__()
        self._process_name = process_name

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": self._process_name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(document, default=str).decode()


def make_formatter(log_format: str, process_name: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(process_name)
    return logging.Formatter(f"%(asctime)s %(levelname)s [{process_name}] %(name)s: %(message)s")


def configure_logging(level: str, process_name: str, log_format: str = "text") -> None:
    """Route the root logger (and `warnings`) to stderr in `log_format` at `level`."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}")
    handler = logging.StreamHandler()
    handler.setFormatter(make_formatter(log_format, process_name))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler], force=True)
    logging.captureWarnings(True)  # a library's warnings.warn(...) in the same format, not bare stderr
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
