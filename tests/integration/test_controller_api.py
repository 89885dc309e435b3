"""Pinot's controller API as Pinot's own tools call it, through a real server and broker: pinotdb's
SQLAlchemy dialect (reflection through GET /tables/{t}/schema, then a Core select), /tableConfigs and the
validate routes, multipart schema upload, pinot-admin's AddTable command line, /version, and an OpenAPI
document and /docs page that need nothing from the internet."""

from __future__ import annotations

import collections
import subprocess
import sys
from pathlib import Path

import orjson
import sqlalchemy as sa

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.devtools.server_process import IngestdServer
from tests.support.tables import create_table, segments_by_partition


def test_pinotdb_sqlalchemy_reflects_the_columns_and_runs_a_core_select(
        kafka: KafkaBroker, server: IngestdServer, unique_name: str) -> None:
    create_table(server, kafka, unique_name, 2,
                 **{"stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
    subjects = ["Maths", "Physics", "Chemistry"]
    records = [student_record(i, student=i % 7, subject=subjects[i % 3]) for i in range(90)]
    kafka.publish(unique_name, records, partitions=2)
    wait_until(lambda: server.count(unique_name) == 90, what="90 rows")
    truth = collections.Counter(orjson.loads(r)["subject"] for r in records)

    engine = sa.create_engine(f"pinot://127.0.0.1:{server.port}/query/sql?controller={server.url}/")
    schema, _ = seed_configs(unique_name)
    expected = {f["name"] for key in ("dimensionFieldSpecs", "metricFieldSpecs", "dateTimeFieldSpecs")
                for f in schema.get(key, [])}
    inspector = sa.inspect(engine)
    assert unique_name in inspector.get_table_names()
    assert {column["name"] for column in inspector.get_columns(unique_name)} == expected

    table = sa.Table(unique_name, sa.MetaData(), autoload_with=engine)
    assert set(table.c.keys()) == expected
    query = sa.select(table.c.subject, sa.func.count().label("n")).group_by(table.c.subject)
    with engine.connect() as connection:
        rows = connection.execute(query).fetchall()
    assert {subject: n for subject, n in rows} == dict(truth)


def test_table_configs_validate_and_multipart_schema_routes(
        kafka: KafkaBroker, server: IngestdServer, unique_name: str, tmp_path: Path) -> None:
    kafka.create_topic(unique_name, 1)
    schema, table = seed_configs(unique_name, **{"stream.kafka.topic.name": unique_name,
                                                 "stream.kafka.broker.list": kafka.bootstrap,
                                                 "stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
    document = {"tableName": unique_name, "schema": schema, "realtime": table}
    url = server.url

    # validate: checked, nothing stored; a bad document is a 400 naming the problem
    checked = server.http.post(f"{url}/tableConfigs/validate", json=document | {"tpyo": 1})
    assert checked.status_code == 200, checked.text
    assert checked.json()["unrecognizedProperties"] == {"/tpyo": 1}
    assert unique_name not in server.get("/tableConfigs") and unique_name not in server.get("/schemas")
    bad = server.http.post(f"{url}/tableConfigs/validate", json=document | {"tableName": "other"})
    assert bad.status_code == 400 and "must be equal to 'schemaName'" in bad.json()["error"]
    assert server.http.post(f"{url}/schemas/validate", json=schema).json()["schemaName"] == unique_name
    assert server.http.post(f"{url}/tables/validate", json=table).status_code == 400  # no schema yet

    # create both in one document, as pinot-admin AddTable posts it; a second create points at PUT
    created = server.http.post(f"{url}/tableConfigs", json=document)
    assert created.json() == {"unrecognizedProperties": {},
                              "status": f"TableConfigs {unique_name} successfully added"}
    again = server.http.post(f"{url}/tableConfigs", json=document)
    assert again.status_code == 400 and "Use PUT" in again.json()["error"]
    validated = server.http.post(f"{url}/tables/validate", json=table).json()
    assert validated["REALTIME"]["tableName"] == unique_name
    got = server.get(f"/tableConfigs/{unique_name}")
    assert got["tableName"] == unique_name and got["schema"] == schema and got["realtime"]["tableName"]
    assert unique_name in server.get("/tableConfigs")
    kafka.publish(unique_name, (student_record(i) for i in range(20)))
    wait_until(lambda: server.count(unique_name) == 20, what="20 rows")

    # multipart schema upload, as `curl -F schemaName=@schema.json`: a new column, applied live
    schema["dimensionFieldSpecs"].append({"name": "school", "dataType": "STRING"})
    form = {"schemaName": ("schema.json", orjson.dumps(schema), "application/octet-stream")}  # curl -F's form
    uploaded = server.http.post(f"{url}/schemas", files=form)
    assert uploaded.json()["status"] == f"{unique_name} successfully added", uploaded.text
    assert "school" in {f["name"] for f in server.get(f"/tables/{unique_name}/schema")["dimensionFieldSpecs"]}
    two_files = server.http.post(f"{url}/schemas", files={"a": ("a.json", b"{}"), "b": ("b.json", b"{}")})
    assert two_files.status_code == 400 and "exactly one file" in two_files.json()["error"]

    # PUT the whole document: a lower row threshold applies live
    table["tableIndexConfig"]["streamConfigs"]["realtime.segment.flush.threshold.rows"] = "10"
    updated = server.http.put(f"{url}/tableConfigs/{unique_name}", json=document)
    assert updated.json()["status"] == f"TableConfigs updated for {unique_name}"
    kafka.publish(unique_name, (student_record(i) for i in range(20, 30)))
    wait_until(lambda: server.count(unique_name) == 30, what="30 rows")
    answer = server.query(f"SELECT school, COUNT(*) FROM {unique_name} GROUP BY school")
    assert answer["resultTable"]["rows"] == [["null", 30]]
    sealed = lambda: [m["totalDocs"] for m in segments_by_partition(server, unique_name).get(0, [])]  # noqa: E731
    wait_until(lambda: sealed() == [20, 10], what="the consuming 20 rows sealed, then 10 more")

    deleted = server.http.delete(f"{url}/tableConfigs/{unique_name}")
    assert deleted.json() == {"status": f"Deleted TableConfigs: {unique_name}"}
    assert unique_name not in server.get("/tables")["tables"] and unique_name not in server.get("/schemas")


def test_pinot_admin_add_table_command_line_creates_then_updates(
        kafka: KafkaBroker, server: IngestdServer, unique_name: str, tmp_path: Path) -> None:
    kafka.create_topic(unique_name, 1)
    schema, table = seed_configs(unique_name, **{"stream.kafka.topic.name": unique_name,
                                                 "stream.kafka.broker.list": kafka.bootstrap,
                                                 "stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
    schema_file, table_file = tmp_path / "schema.json", tmp_path / "table.json"
    schema_file.write_bytes(orjson.dumps(schema))
    table_file.write_bytes(orjson.dumps(table))
    pinot_admin = [sys.executable, "-m", "ingestd", "add-table", "-schemaFile", str(schema_file),
                   "-tableConfigFile", str(table_file), "-controllerHost", "127.0.0.1",
                   "-controllerPort", str(server.port), "-exec"]
    added = subprocess.run(pinot_admin, capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    assert f"Table {unique_name}_REALTIME successfully added" in added.stdout

    table["tableIndexConfig"]["streamConfigs"]["realtime.segment.flush.threshold.time"] = "90m"
    table_file.write_bytes(orjson.dumps(table))
    updated = subprocess.run([*pinot_admin, "-update"], capture_output=True, text=True, timeout=60)
    assert updated.returncode == 0, updated.stderr
    stored = server.get(f"/tables/{unique_name}")["REALTIME"]["tableIndexConfig"]["streamConfigs"]
    assert stored["realtime.segment.flush.threshold.time"] == "90m"


def test_openapi_lists_every_route_and_docs_need_no_internet(server: IngestdServer) -> None:
    paths = server.get("/openapi.json")["paths"]
    expected = {
        "/tables/{name}/schema": {"get"}, "/tableConfigs": {"get", "post"},
        "/tableConfigs/{name}": {"get", "put", "delete"}, "/tableConfigs/validate": {"post"},
        "/tables/validate": {"post"}, "/schemas/validate": {"post"}, "/schemas": {"get", "post"},
        "/schemas/{name}": {"get", "put", "delete"}, "/tables/{name}": {"get", "put", "delete"},
        "/tables/{name}/pauseConsumption": {"post"}, "/tables/{name}/resumeConsumption": {"post"},
        "/tables/{name}/pauseStatus": {"get"}, "/tables/{name}/forceCommit": {"post"},
        "/tables/forceCommitStatus/{job_id}": {"get"}, "/tables/{name}/size": {"get"}, "/version": {"get"},
        "/tables": {"get", "post"}, "/query/sql": {"get", "post"}, "/segments/{name}": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    page = server.http.get(f"{server.url}/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing loaded from elsewhere
    assert server.http.get(f"{server.url}/redoc").status_code == 404
    assert server.get("/version")["ingestd"]
