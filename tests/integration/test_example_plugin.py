"""The example stream plugin (examples/jsonl-directory-stream, installed by `.ci/run` with `pip install -e`)
through a real ingestd server: a table on it is created over HTTP and queried, a kill -9 and restart
resume from the ledger without a duplicate or a gap, and the plugin door only opens to registered names:
a config naming a module path is a 400 naming the field, and a broken plugin installed next to it is
reported at startup without stopping the server from serving the rest. The built-in Kafka plugin keeps the
same stream SPI contract the example and Pulsar are checked against."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from ingestd.config import parse_table_config
from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs, seed_table, student_record
from ingestd.devtools.server_process import IngestdServer
from ingestd.devtools.stream_contract import ContractStream, check_stream_contract

JSON_DECODER = "org.apache.pinot.plugin.inputformat.json.JSONMessageDecoder"
STREAMS = "tableIndexConfig.streamConfigs"


@pytest.fixture
def jsonl_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "jsonl"
    root.mkdir()
    monkeypatch.setenv("INGESTD_JSONL_ROOT", str(root))  # the server process inherits it
    return root


@pytest.fixture
def plugin_server(tmp_path: Path, jsonl_root: Path) -> Iterator[IngestdServer]:
    (tmp_path / "server").mkdir()
    server = IngestdServer(tmp_path / "server", workers=2)
    server.start()
    yield server
    try:
        server.stop()
    finally:
        server.kill9()


def append(path: Path, first: int, count: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as handle:
        handle.write(b"".join(student_record(n) + b"\n" for n in range(first, first + count)))


def jsonl_table(name: str, topic: str, **keys: str) -> tuple[dict[str, Any], dict[str, Any]]:
    schema, table = seed_configs(name)
    table["tableIndexConfig"]["streamConfigs"] = {
        "streamType": "jsonldir",
        "stream.jsonldir.topic.name": topic,
        "stream.jsonldir.decoder.class.name": JSON_DECODER,
        "stream.jsonldir.consumer.prop.auto.offset.reset": "smallest",
        "realtime.segment.flush.threshold.segment.rows": "7",
        **keys,
    }
    return schema, table


def rows_and_distinct(server: IngestdServer, table: str) -> tuple[int, int]:
    answer = server.query(f"SELECT COUNT(*), COUNT(DISTINCT firstName) FROM {table}")
    assert not answer.get("exceptions"), answer
    count, distinct = answer["resultTable"]["rows"][0]
    return int(count), int(distinct)


def test_a_table_on_the_example_plugin_is_queried_and_resumes_after_kill9_without_duplicates(
        plugin_server: IngestdServer, jsonl_root: Path) -> None:
    append(jsonl_root / "events" / "0.jsonl", 0, 30)
    append(jsonl_root / "events" / "1.jsonl", 30, 20)
    schema, table = jsonl_table("jsonlevents", "events")
    assert plugin_server.post("/schemas", schema).status_code == 200
    response = plugin_server.post("/tables", table)
    assert response.status_code == 200, response.text
    wait_until(lambda: rows_and_distinct(plugin_server, "jsonlevents") == (50, 50), what="50 rows")
    status = plugin_server.get("/tables/jsonlevents/status")
    assert sorted(p["partition"] for p in status["partitions"]) == [0, 1], status
    sealed = [plugin_server.get(f"/segments/jsonlevents/{s}/metadata")
              for s in plugin_server.get("/segments/jsonlevents")[0]["REALTIME"]]
    assert any(meta["status"] == "DONE" for meta in sealed)  # 7-row segments: the ledger has checkpoints

    append(jsonl_root / "events" / "0.jsonl", 50, 4)  # 34 lines: not a multiple of 7, a tail is unsealed
    wait_until(lambda: rows_and_distinct(plugin_server, "jsonlevents") == (54, 54), what="54 rows")
    plugin_server.kill9()
    append(jsonl_root / "events" / "1.jsonl", 54, 6)
    plugin_server.start()
    wait_until(lambda: rows_and_distinct(plugin_server, "jsonlevents")[0] >= 60, what="60 rows after restart")
    assert rows_and_distinct(plugin_server, "jsonlevents") == (60, 60)
    answer = plugin_server.query("SELECT MIN(\"timestamp\"), MAX(\"timestamp\") FROM jsonlevents")
    assert answer["resultTable"]["rows"][0] == [1_571_900_400_000, 1_571_900_400_000 + 59]


def test_config_names_only_registered_plugins_and_a_broken_plugin_does_not_stop_the_server(
        tmp_path: Path, jsonl_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "site"
    info = broken / "broken_demo_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken_demo_plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""
        [ingestd.stream_types]
        brokendemo = broken_demo_plugin:Factory
        """))
    (broken / "broken_demo_plugin.py").write_text("import a_dependency_nobody_installed\n")
    paths = [str(broken), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    (tmp_path / "server").mkdir()
    server = IngestdServer(tmp_path / "server", workers=1)
    server.start()
    try:
        log = server.log.read_text()
        assert "broken_demo_plugin" in log and "a_dependency_nobody_installed" in log, log

        schema, table = jsonl_table("guarded", "guarded")
        assert server.post("/schemas", schema).status_code == 200
        refusals = {
            "stream.jsonldir.decoder.class.name": "os:system",
            "stream.jsonldir.consumer.factory.class.name":
                "ingestd_jsonl_dir.stream:JsonlDirectoryConsumerFactory",
            "stream.jsonldir.topic.name": "../../etc",
        }
        _, missing = jsonl_table("guarded", "no_such_directory")
        response = server.post("/tables", missing)
        assert response.status_code == 400 and "there is no directory" in response.text, response.text
        assert response.json()["error"].startswith(f"{STREAMS}.stream.jsonldir.topic.name "), response.text
        for key, value in refusals.items():
            _, bad = jsonl_table("guarded", "guarded", **{key: value})
            response = server.post("/tables", bad)
            assert response.status_code == 400, response.text
            assert response.json()["error"].startswith(f"{STREAMS}.{key} "), response.text
        _, bad = jsonl_table("guarded", "guarded", streamType="brokendemo",
                             **{"stream.brokendemo.topic.name": "guarded",
                                "stream.brokendemo.decoder.class.name": JSON_DECODER})
        response = server.post("/tables", bad)
        assert response.status_code == 400 and "could not be loaded" in response.text, response.text

        # the built-in Pulsar plugin, loaded the same way, through the real pulsar-client library (no
        # Pulsar broker exists here: nothing listens at this address)
        _, pulsar_table = jsonl_table("guarded", "guarded", streamType="pulsar", **{
            "stream.pulsar.topic.name": "guarded", "stream.pulsar.bootstrap.servers": "pulsar://127.0.0.1:1",
            "stream.pulsar.decoder.class.name": JSON_DECODER})
        response = server.post("/tables", pulsar_table)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error.startswith(f"{STREAMS}.stream.pulsar.bootstrap.servers "), error

        append(jsonl_root / "guarded" / "0.jsonl", 0, 5)
        assert server.post("/tables", table).status_code == 200
        wait_until(lambda: rows_and_distinct(server, "guarded") == (5, 5), what="5 rows")

        # the example's decoder plugin, on the example's stream
        (jsonl_root / "logfmt").mkdir()
        (jsonl_root / "logfmt" / "0.jsonl").write_text(
            'studentID=205 firstName=Natalie lastName="Van Jones" subject=Maths score=3.8 '
            "timestamp=1571900400000\nnot logfmt at all\n"
            "studentID=207 firstName=Bob timestamp=1571900400001\n")
        logfmt_schema, logfmt_table = jsonl_table("logfmtrows", "logfmt", **{
            "stream.jsonldir.decoder.class.name": "com.example.ingestd.LogfmtDecoder"})
        assert server.post("/schemas", logfmt_schema).status_code == 200
        assert server.post("/tables", logfmt_table).status_code == 200
        wait_until(lambda: rows_and_distinct(server, "logfmtrows") == (2, 2), what="2 logfmt rows")
        answer = server.query("SELECT lastName, subject FROM logfmtrows ORDER BY studentID")
        assert answer["resultTable"]["rows"] == [["Van Jones", "Maths"], ["null", "null"]]
        wait_until(lambda: server.get("/tables/logfmtrows/status")["malformedMessages"] == 1,
                   what="the line that is not logfmt counted as malformed")
    finally:
        try:
            server.stop()
        finally:
            server.kill9()


def test_the_builtin_kafka_plugin_keeps_the_same_stream_spi_contract(kafka: KafkaBroker) -> None:
    """The contract the example and Pulsar are checked against (ingestd/devtools/stream_contract.py), on
    the real broker: each message is sent alone, as Tansu reports a batch's end wrongly (testing.md)."""
    kafka.create_topic("spi_contract", 2)
    config = parse_table_config(seed_table(**{"stream.kafka.broker.list": kafka.bootstrap,
                                              "stream.kafka.topic.name": "spi_contract"})).stream
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 0})

    def publish(values: list[bytes]) -> None:
        for value in values:
            producer.produce("spi_contract", value, partition=1)
            producer.flush(10)

    factory = config.consumer_factory.load()(config, "ingestd-spi-contract")
    check_stream_contract(ContractStream(factory, 1, publish, timeout_s=10))
