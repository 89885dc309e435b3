"""The `ingestd` commands against a real server and broker, run as a user runs them (subprocesses):
add-table, tables, status, segments, delete-table, and add-table's roll-back of a schema it created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.devtools.server_process import IngestdServer

ENVIRONMENT = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}


def ingestd(*arguments: str, url: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingestd", *arguments, "--url", url], input=stdin,
                          capture_output=True, text=True, timeout=60, env=ENVIRONMENT)


def config_files(tmp_path: Path, name: str, **stream: str) -> list[str]:
    schema, table = seed_configs(name, **stream)
    for file_name, document in (("schema.json", schema), ("table.json", table)):
        (tmp_path / file_name).write_bytes(orjson.dumps(document))
    return ["--schema-file", str(tmp_path / "schema.json"),
            "--table-config-file", str(tmp_path / "table.json")]


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.split(" | ")]


def test_table_commands_from_add_to_delete(
        kafka: KafkaBroker, server: IngestdServer, unique_name: str, tmp_path: Path) -> None:
    kafka.create_topic(unique_name, 2)
    files = config_files(tmp_path, unique_name, **{
        "stream.kafka.topic.name": unique_name, "stream.kafka.broker.list": kafka.bootstrap,
        "realtime.segment.flush.threshold.rows": "10",  # 5 per segment of each of 2 partitions
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
    added = ingestd("add-table", *files, url=server.url)
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines() == [f"{unique_name} successfully added",
                                         f"Table {unique_name}_REALTIME successfully added"]
    kafka.publish(unique_name, (student_record(i) for i in range(24)), partitions=2)
    wait_until(lambda: server.count(unique_name) == 24, what="24 rows")
    assert unique_name in ingestd("tables", url=server.url).stdout.splitlines()

    def reported_offsets() -> list[int | None]:
        return [p.get("currentOffset") for p in server.get(f"/tables/{unique_name}/status")["partitions"]]

    wait_until(lambda: reported_offsets() == [12, 12], what="the workers to report offset 12 (every second)")

    status = ingestd("status", unique_name, "--interval", "0.2", url=server.url)
    print(status.stdout)  # a sample for the record
    header, _, *rows = status.stdout.splitlines()
    assert cells(header)[:5] == ["table", "state", "partition", "partition state", "offset"]
    assert "rows/s" in cells(header) and "last error" in cells(header)
    by_partition = {row[2]: dict(zip(cells(header), row, strict=True)) for row in map(cells, rows)}
    assert set(by_partition) == {"0", "1"}
    assert all(p["partition state"] == "CONSUMING" and p["offset"] == "12" for p in by_partition.values())
    if "lag" in cells(header):  # shown when the server reports upstream offsets (Tansu's may lag: no values)
        assert all(p["latest"].isdigit() for p in by_partition.values()), status.stdout

    names = wait_until(lambda: len(lines := ingestd("segments", unique_name, url=server.url).stdout.split())
                       == 4 and lines, what="2 sealed segments per partition")
    long = ingestd("segments", unique_name, "--long", url=server.url).stdout.splitlines()
    assert cells(long[0])[:6] == ["segment", "partition", "seq", "startOffset", "endOffset", "rows"]
    assert sorted(cells(line)[0] for line in long[2:]) == sorted(names)
    assert [cells(line)[1:6] for line in long[2:]] == [["0", "0", "0", "5", "5"], ["0", "1", "5", "10", "5"],
                                                       ["1", "0", "0", "5", "5"], ["1", "1", "5", "10", "5"]]

    refused = ingestd("delete-table", unique_name, url=server.url, stdin="n\n")
    assert refused.returncode == 1 and "Aborted" in refused.stderr
    assert unique_name in server.get("/tables")["tables"]
    deleted = ingestd("delete-table", unique_name, "--yes", url=server.url)
    assert deleted.returncode == 0 and f"[{unique_name}_REALTIME] deleted" in deleted.stdout
    assert unique_name not in ingestd("tables", url=server.url).stdout.split()
    gone = ingestd("status", unique_name, url=server.url)
    assert gone.returncode == 1 and "404" in gone.stderr


def test_a_failed_add_table_deletes_the_schema_it_created_and_keeps_one_it_found(
        kafka: KafkaBroker, server: IngestdServer, unique_name: str, tmp_path: Path) -> None:
    missing = f"{unique_name}_missing"
    files = config_files(tmp_path, unique_name, **{"stream.kafka.topic.name": missing,
                                                   "stream.kafka.broker.list": kafka.bootstrap})
    failed = ingestd("add-table", *files, url=server.url)
    assert failed.returncode == 1
    key = "tableIndexConfig.streamConfigs.stream.kafka.topic.name"
    assert f"400: {key} names topic '{missing}'" in failed.stderr
    assert f"schema {unique_name}, uploaded by this command, was deleted again" in failed.stderr
    assert server.http.get(f"{server.url}/schemas/{unique_name}").status_code == 404

    schema: Any = orjson.loads((tmp_path / "schema.json").read_bytes())
    assert server.post("/schemas", schema).status_code == 200
    again = ingestd("add-table", *files, url=server.url)
    assert again.returncode == 1 and "was deleted again" not in again.stderr
    assert server.get(f"/schemas/{unique_name}")["schemaName"] == unique_name


def test_add_table_warns_of_typos(kafka: KafkaBroker, server: IngestdServer, unique_name: str,
                                  tmp_path: Path) -> None:
    kafka.create_topic(unique_name, 1)
    files = config_files(tmp_path, unique_name, **{"stream.kafka.topic.name": unique_name,
                                                   "stream.kafka.broker.list": kafka.bootstrap,
                                                   "realtime.segment.flush.treshold.rows": "100"})
    added = ingestd("add-table", *files, url=server.url)
    assert added.returncode == 0, added.stderr
    assert ("unrecognized property /tableIndexConfig/streamConfigs/realtime.segment.flush.treshold.rows "
            '= "100" (ignored; a typo?)') in added.stderr
