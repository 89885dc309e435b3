"""Creating a seed-shaped table on a running server, fed by its own topic on the test broker."""

from __future__ import annotations

from typing import Any

import httpx

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.seed import seed_configs
from ingestd.devtools.server_process import IngestdServer


def create_table(server: IngestdServer, kafka: KafkaBroker, name: str, partitions: int,
                 segments_config: dict[str, Any] | None = None, index_config: dict[str, Any] | None = None,
                 **stream_overrides: str) -> dict[str, Any]:
    kafka.create_topic(name, partitions)
    schema, table = seed_configs(name, **{
        "stream.kafka.topic.name": name,
        "stream.kafka.broker.list": kafka.bootstrap,
        **stream_overrides,
    })
    table["segmentsConfig"].update(segments_config or {})
    table["tableIndexConfig"].update(index_config or {})
    for path, document in (("/schemas", schema), ("/tables", table)):
        response = server.post(path, document)
        assert response.status_code == 200, response.text
    return table


def segments_by_partition(server: IngestdServer, table: str) -> dict[int, list[dict[str, Any]]]:
    """The sealed segments' metadata by partition (`/segments` lists the consuming ones too)."""
    names = server.get(f"/segments/{table}")[0]["REALTIME"]
    found: dict[int, list[dict[str, Any]]] = {}
    for name in names:
        try:
            meta = server.get(f"/segments/{table}/{name}/metadata")
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 404:
                continue  # deleted (retention) between the listing and this read
            raise
        if meta["status"] == "DONE":
            found.setdefault(meta["partition"], []).append(meta)
    return {p: sorted(metas, key=lambda m: m["sequenceNumber"]) for p, metas in found.items()}
