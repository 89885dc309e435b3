"""Consumer-group (highLevel) tables on running servers, as the group-mode tests create them."""

from __future__ import annotations

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.seed import seed_configs
from ingestd.devtools.server_process import IngestdServer

# Join fast and notice a dead server within seconds; `smallest` so that a backlog is read whole.
GROUP_SETTINGS = {
    "stream.kafka.consumer.type": "highLevel",
    "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
    "stream.kafka.consumer.prop.session.timeout.ms": "6000",
    "stream.kafka.consumer.prop.heartbeat.interval.ms": "500",
}


def add_group_table(server: IngestdServer, kafka: KafkaBroker, name: str, rows: int = 600) -> None:
    """Table `name` on topic `name` in group `group-<name>`; `rows`: the server's flush threshold."""
    schema, table = seed_configs(name, **{"stream.kafka.topic.name": name,
                                          "stream.kafka.broker.list": kafka.bootstrap,
                                          "stream.kafka.hlc.group.id": f"group-{name}", **GROUP_SETTINGS,
                                          "realtime.segment.flush.threshold.rows": str(rows)})
    for path, document in (("/schemas", schema), ("/tables", table)):
        response = server.post(path, document)
        assert response.status_code == 200, response.text


def consumed(server: IngestdServer, table: str) -> set[int]:
    """The partitions this server consumes (its group member's assignment)."""
    return {p["partition"] for p in server.get(f"/tables/{table}/status")["partitions"]}


def stop_all(servers: list[IngestdServer]) -> None:
    """Stop every server (gracefully, then for sure), whatever happened to the others."""
    for server in servers:
        try:
            server.stop()
        finally:
            server.kill9()
