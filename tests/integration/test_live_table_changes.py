"""Changing a live table through the real server: a new row threshold and broker list (PUT /tables), a
new time threshold, and new schema columns (PUT /schemas) apply while the table consumes, lose and
repeat no row, and are still there after a restart; removing or retyping a column is refused."""

from __future__ import annotations

import collections
from typing import Any

import orjson

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import student_record
from ingestd.devtools.server_process import IngestdServer
from tests.support.tables import create_table, segments_by_partition

SMALLEST = {"stream.kafka.consumer.prop.auto.offset.reset": "smallest"}


def _streams(table: dict[str, Any]) -> dict[str, str]:
    configs: dict[str, str] = table["tableIndexConfig"]["streamConfigs"]
    return configs


def _sealed_rows(server: IngestdServer, table: str) -> int:
    return sum(meta["totalDocs"] for metas in segments_by_partition(server, table).values() for meta in metas)


def _distinct_names(server: IngestdServer, table: str) -> int:
    return int(server.query(f"SELECT COUNT(DISTINCT firstName) FROM {table}")["resultTable"]["rows"][0][0])


def test_new_row_threshold_and_broker_list_apply_live_without_losing_or_repeating_rows(
        kafka: KafkaBroker, server: IngestdServer, unique_name: str) -> None:
    table = create_table(server, kafka, unique_name, 2, **SMALLEST,
                         **{"realtime.segment.flush.threshold.rows": "2000"})
    kafka.publish(unique_name, (student_record(i) for i in range(300)), partitions=2)
    wait_until(lambda: server.count(unique_name) == 300, what="300 rows")
    assert _sealed_rows(server, unique_name) == 0

    _streams(table)["realtime.segment.flush.threshold.rows"] = "80"  # 40 rows for each of 2 partitions
    _streams(table)["stream.kafka.broker.list"] = f"localhost:{kafka.port}"  # same broker, new list
    changed = server.http.put(f"{server.url}/tables/{unique_name}", json=table)
    assert changed.json()["status"] == f"Table config updated for {unique_name}", changed.text
    # the 150 rows each consuming segment held are sealed first; the consumer is rebuilt at offset 150
    wait_until(lambda: _sealed_rows(server, unique_name) == 300, what="the consuming segments sealed")
    assert server.log.read_text().count("consumer rebuilt at offset 150 (brokers localhost:") == 2

    kafka.publish(unique_name, (student_record(i) for i in range(300, 500)), partitions=2)
    wait_until(lambda: server.count(unique_name) == 500, what="500 rows")
    assert _distinct_names(server, unique_name) == 500
    wait_until(lambda: _sealed_rows(server, unique_name) == 460, what="two 40-row segments per partition")
    for metas in segments_by_partition(server, unique_name).values():
        assert [meta["totalDocs"] for meta in metas] == [150, 40, 40]

    server.restart()
    stored = _streams(server.get(f"/tables/{unique_name}")["REALTIME"])
    assert stored["realtime.segment.flush.threshold.rows"] == "80"
    assert stored["stream.kafka.broker.list"] == f"localhost:{kafka.port}"
    wait_until(lambda: server.count(unique_name) == 500, what="500 rows after the restart")
    assert _distinct_names(server, unique_name) == 500


def test_a_shorter_time_threshold_seals_the_consuming_segment(
        kafka: KafkaBroker, server: IngestdServer, unique_name: str) -> None:
    table = create_table(server, kafka, unique_name, 1, **SMALLEST)
    kafka.publish(unique_name, (student_record(i) for i in range(10)))
    wait_until(lambda: server.count(unique_name) == 10, what="10 rows")
    assert _sealed_rows(server, unique_name) == 0
    _streams(table)["realtime.segment.flush.threshold.time"] = "2s"
    assert server.http.put(f"{server.url}/tables/{unique_name}", json=table).status_code == 200
    wait_until(lambda: _sealed_rows(server, unique_name) == 10, timeout_s=20, what="a time-sealed segment")
    assert server.count(unique_name) == 10


def _with_new_fields(sequence: int) -> bytes:
    record = orjson.loads(student_record(sequence))
    record |= {"grade": "AB"[sequence % 2], "bonus": sequence, "tags": [f"t{sequence % 3}", "x"]}
    return orjson.dumps(record)


def test_columns_added_while_consuming_read_as_their_default_in_older_segments(
        kafka: KafkaBroker, server: IngestdServer, unique_name: str) -> None:
    create_table(server, kafka, unique_name, 2, **SMALLEST,
                 **{"realtime.segment.flush.threshold.rows": "100"})
    kafka.publish(unique_name, (student_record(i) for i in range(120)), partitions=2)
    wait_until(lambda: server.count(unique_name) == 120, what="120 rows")
    wait_until(lambda: _sealed_rows(server, unique_name) == 100, what="a sealed segment per partition")

    schema = server.get(f"/schemas/{unique_name}")
    kept = [f for f in schema["dimensionFieldSpecs"] if f["name"] != "gender"]
    removed = dict(schema, dimensionFieldSpecs=kept)
    refused = server.http.put(f"{server.url}/schemas/{unique_name}", json=removed)
    assert refused.status_code == 409 and "'gender' cannot be removed" in refused.json()["error"]
    retyped = orjson.loads(orjson.dumps(schema))
    next(f for f in retyped["dimensionFieldSpecs"] if f["name"] == "subject")["dataType"] = "INT"
    refused = server.http.put(f"{server.url}/schemas/{unique_name}", json=retyped)
    assert refused.status_code == 409 and "'subject' cannot change its dataType" in refused.json()["error"]

    schema["dimensionFieldSpecs"] += [{"name": "grade", "dataType": "STRING"},
                                      {"name": "tags", "dataType": "STRING", "singleValueField": False}]
    schema["metricFieldSpecs"].append({"name": "bonus", "dataType": "INT"})
    added = server.http.put(f"{server.url}/schemas/{unique_name}", json=schema)
    assert added.status_code == 200, added.text
    new = [_with_new_fields(i) for i in range(120, 240)]
    kafka.publish(unique_name, new, partitions=2)
    wait_until(lambda: server.count(unique_name) == 240, what="240 rows")

    truth: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    truth["null"] = [120, 0]  # the 120 older rows (sealed, and earlier batches of the consuming segments)
    for record in map(orjson.loads, new):
        truth[record["grade"]][0] += 1
        truth[record["grade"]][1] += record["bonus"]
    tags = collections.Counter({"null": 120})
    for record in map(orjson.loads, new):
        tags.update(record["tags"])

    def answers() -> tuple[dict[str, list[int]], dict[str, int]]:
        by_grade = server.query(f"SELECT grade, COUNT(*), SUM(bonus) FROM {unique_name} GROUP BY grade")
        by_tag = server.query(f"SELECT tags, COUNT(*) FROM {unique_name} GROUP BY tags")
        return ({grade: [count, int(total)] for grade, count, total in by_grade["resultTable"]["rows"]},
                {tag: count for tag, count in by_tag["resultTable"]["rows"]})

    assert answers() == (dict(truth), dict(tags))
    columns = server.query(f"SELECT * FROM {unique_name} LIMIT 1")["resultTable"]["dataSchema"]["columnNames"]
    assert {"grade", "bonus", "tags"} <= set(columns)
    # per partition: 10 older rows and 40 new ones in the second sealed segment, 20 new ones consuming
    wait_until(lambda: _sealed_rows(server, unique_name) == 200, what="segments mixing old and new rows")
    server.restart()
    wait_until(lambda: server.count(unique_name) == 240, what="240 rows after the restart")
    assert answers() == (dict(truth), dict(tags))
