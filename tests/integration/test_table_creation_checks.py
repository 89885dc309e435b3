"""Mistakes caught when a table is created, through a real server and broker: a missing topic or
unreachable brokers are a 400 within seconds (and no topic is ever created by looking), and typos in
optional keys come back in `unrecognizedProperties` as Pinot answers them, and are logged."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from confluent_kafka.admin import AdminClient

from ingestd.devtools.local_broker import KafkaBroker, free_port
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs
from ingestd.devtools.server_process import IngestdServer

STREAM = "tableIndexConfig.streamConfigs.stream.kafka"


def topics(kafka: KafkaBroker) -> set[str]:
    return set(AdminClient({"bootstrap.servers": kafka.bootstrap}).list_topics(timeout=10).topics)


def test_a_missing_topic_is_a_400_naming_it_and_looking_never_creates_it(
        kafka: KafkaBroker, server: IngestdServer, unique_name: str) -> None:
    misspelt = f"{unique_name}_typo"
    schema, table = seed_configs(unique_name, **{"stream.kafka.topic.name": misspelt,
                                                 "stream.kafka.broker.list": kafka.bootstrap})
    assert server.post("/schemas", schema).status_code == 200
    response = server.post("/tables", table)
    assert response.status_code == 400
    assert response.json()["error"] == (
        f"{STREAM}.topic.name names topic '{misspelt}', which does not exist on {kafka.bootstrap} "
        "(create it first: ingestd never creates topics)")
    assert misspelt not in topics(kafka)  # Tansu creates a topic a metadata request names, unless told not to
    assert server.get("/tables") == {"tables": []}

    kafka.create_topic(misspelt, 1)
    assert server.post("/tables", table).status_code == 200


def test_unreachable_brokers_are_a_400_naming_them_within_seconds(
        server: IngestdServer, unique_name: str) -> None:
    nobody = f"127.0.0.1:{free_port()}"
    schema, table = seed_configs(unique_name, **{"stream.kafka.topic.name": unique_name,
                                                 "stream.kafka.broker.list": nobody})
    assert server.post("/schemas", schema).status_code == 200
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(server.post, "/tables", table)

        def healthy_until_answered() -> bool:  # the check waits for the brokers off the event loop
            assert httpx.get(server.url + "/health", timeout=1).text == "OK"
            return pending.done()

        wait_until(healthy_until_answered, timeout_s=10, what="the answer to POST /tables")
        response = pending.result()
    assert time.monotonic() - started < 10
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{STREAM}.broker.list '{nobody}' cannot be reached: ")
    assert server.get("/tables") == {"tables": []}


def test_typos_come_back_in_unrecognized_properties_and_are_logged(
        kafka: KafkaBroker, server: IngestdServer, unique_name: str) -> None:
    kafka.create_topic(unique_name, 1)
    schema, table = seed_configs(unique_name, **{"stream.kafka.topic.name": unique_name,
                                                 "stream.kafka.broker.list": kafka.bootstrap,
                                                 "realtime.segment.flush.treshold.rows": "1000"})
    schema["illegalKey1"] = 1
    table["tableIndexConfig"]["loadMod"] = "HEAP"
    table["segmentsConfig"]["replication"] = "3"  # Pinot's, ignored by ingestd: not a typo
    assert server.post("/schemas", schema).json() == {
        "unrecognizedProperties": {"/illegalKey1": 1}, "status": f"{unique_name} successfully added"}
    assert server.post("/tables", table).json() == {
        "unrecognizedProperties": {
            "/tableIndexConfig/loadMod": "HEAP",
            "/tableIndexConfig/streamConfigs/realtime.segment.flush.treshold.rows": "1000"},
        "status": f"Table {unique_name}_REALTIME successfully added"}
    logged = wait_until(lambda: "/tableIndexConfig/loadMod='HEAP'" in (text := server.log.read_text())
                        and text, what="the warning in the server log")
    assert f"table {unique_name}: unrecognized properties" in logged
