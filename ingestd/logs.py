"""Logging set-up shared by the coordinator and worker processes (stdlib logging to stderr)."""

from __future__ import annotations

import logging


def configure_logging(level: str, process_name: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s %(levelname)s [{process_name}] %(name)s: %(message)s",
        force=True,
    )
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
