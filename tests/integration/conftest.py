"""Integration fixtures beyond the session's Kafka broker (tests/conftest.py): moto's Kinesis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.moto_server import MotoServer, moto_kinesis


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """One moto server for the session (in this process, on a free port), its Kinesis made to behave
    like AWS's where moto differs (tests/support/moto_server.py). Streams are per test, by name."""
    with moto_kinesis() as server:
        yield server
