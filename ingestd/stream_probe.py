"""Which tables' streams answer right now: asked every few seconds by a coordinator thread, so a table
whose brokers are down shows STALLED (its workers keep retrying on their own meanwhile)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from ingestd.errors import StreamError
from ingestd.ingest.table_spec import TableSpec

log = logging.getLogger(__name__)


class StreamProbe:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._unreachable: dict[str, str] = {}  # table → why its stream cannot be reached

    def reason(self, table: str) -> str | None:
        with self._lock:
            return self._unreachable.get(table)

    def probe(self, specs: Iterable[TableSpec]) -> None:
        """Ask each table's stream for its partitions once; any failure marks the table unreachable."""
        for spec in specs:
            self._probe_one(spec)

    def _probe_one(self, spec: TableSpec) -> None:
        try:
            provider = spec.consumer_factory().metadata_provider()
            try:
                provider.partition_ids()
            finally:
                provider.close()
        except StreamError as exc:
            self._mark(spec.name, str(exc))
        except Exception as exc:  # a broken client config, a plugin bug: report it, keep probing others
            self._mark(spec.name, f"{type(exc).__name__}: {exc}")
        else:
            with self._lock:
                was = self._unreachable.pop(spec.name, None)
            if was is not None:
                log.info("table %s: stream reachable again", spec.name)

    def _mark(self, table: str, reason: str) -> None:
        with self._lock:
            first = table not in self._unreachable
            self._unreachable[table] = reason
        if first:
            log.error("table %s: stream unreachable, partitions stalled: %s", table, reason)

    def forget(self, table: str) -> None:
        with self._lock:
            self._unreachable.pop(table, None)
