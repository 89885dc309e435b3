"""Fixtures: one real Tansu broker per test session; a real ingestd server per test that needs one."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.server_process import IngestdServer

_names = itertools.count(1)


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaBroker]:
    broker = KafkaBroker.start()
    yield broker
    broker.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[IngestdServer]:
    instance = IngestdServer(tmp_path)
    instance.start()
    yield instance
    try:
        instance.stop()
    finally:
        instance.kill9()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A table/topic name no other test in the session uses (the broker is shared)."""
    base = re.sub(r"[^A-Za-z0-9]+", "_", request.node.name)[:40].strip("_")
    return f"{base}_{next(_names)}"
