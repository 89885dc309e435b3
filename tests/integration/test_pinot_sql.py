"""Pinot's SQL through a real 2-worker server: its functions, multi-value and JSON columns, syntax and
answer rules, each checked against a truth computed here from the published records (not from
ingestd's own translation). Unit tests (tests/unit/test_pinot_functions.py) cover each function in
depth; this proves they reach the server, cross workers and come back in Pinot's shape."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import pinotdb
import pytest

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.server_process import IngestdServer

TABLE = "pinotEvents"
DAY = 86_400_000
BASE = 1_571_900_400_123  # 2019-10-24 07:00:00.123 UTC
SCHEMA = {
    "schemaName": TABLE,
    "dimensionFieldSpecs": [
        {"name": "user", "dataType": "STRING"},
        {"name": "country", "dataType": "STRING"},
        {"name": "tags", "dataType": "STRING", "singleValueField": False},
        {"name": "payload", "dataType": "JSON"},
        {"name": "created", "dataType": "TIMESTAMP"},
    ],
    "metricFieldSpecs": [{"name": "amount", "dataType": "DOUBLE"}, {"name": "score", "dataType": "FLOAT"}],
    "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH",
                            "granularity": "1:MILLISECONDS"}],
}
RECORDS = [
    {"user": f"u{i % 4}", "country": ["US", "DE", "FR"][i % 3],
     "tags": [["a", "b"], ["a"], ["c"], ["b", "c"]][i % 4],
     "payload": {"plan": ["free", "pro"][i % 2], "seats": i},
     "created": BASE + i, "amount": float(i * 10 + 5), "score": [3.8, 0.1, 2.5][i % 3],
     "ts": BASE + (i % 5) * DAY + i * 1000}
    for i in range(20)
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, kafka: KafkaBroker) -> Iterator[IngestdServer]:
    instance = IngestdServer(tmp_path_factory.mktemp("pinot-sql"))
    instance.start()
    kafka.create_topic(TABLE, 3)
    table = {
        "tableName": TABLE, "tableType": "REALTIME",
        "segmentsConfig": {"timeColumnName": "ts", "schemaName": TABLE},
        "tableIndexConfig": {"loadMode": "MMAP", "streamConfigs": {
            "streamType": "kafka", "stream.kafka.topic.name": TABLE,
            "stream.kafka.broker.list": kafka.bootstrap,
            "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
            "realtime.segment.flush.threshold.rows": "6"}},
    }
    for path, document in (("/schemas", SCHEMA), ("/tables", table)):
        assert instance.post(path, document).status_code == 200
    kafka.publish(TABLE, (orjson.dumps(r) for r in RECORDS), partitions=3)
    wait_until(lambda: instance.count(TABLE) == len(RECORDS), what="every record")
    yield instance
    try:
        instance.stop()
    finally:
        instance.kill9()


def answer(server: IngestdServer, sql: str) -> dict[str, Any]:
    body = server.query(sql)
    assert not body.get("exceptions"), (sql, body.get("exceptions"))
    return dict(body["resultTable"])


def rows(server: IngestdServer, sql: str) -> list[list[Any]]:
    return [list(row) for row in answer(server, sql)["rows"]]


def utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def test_time_functions_on_epoch_millis(server: IngestdServer) -> None:
    per_day = Counter(r["ts"] // DAY * DAY for r in RECORDS)
    got = answer(server, f"SELECT DATETRUNC('DAY', ts) AS d, COUNT(*) FROM {TABLE} GROUP BY 1 ORDER BY 1 "
                         "LIMIT 50")
    assert got["rows"] == [[day, n] for day, n in sorted(per_day.items())]
    assert got["dataSchema"]["columnDataTypes"] == ["LONG", "LONG"]
    first = min(RECORDS, key=lambda r: r["ts"])
    assert rows(server, f"SELECT ToDateTime(ts, 'yyyy-MM-dd HH:mm') FROM {TABLE} ORDER BY ts LIMIT 1") == [
        [utc(first["ts"]).strftime("%Y-%m-%d %H:%M")]]
    assert rows(server, f"SELECT YEAR(ts), MONTH(ts), ToEpochDays(ts) FROM {TABLE} ORDER BY ts LIMIT 1") == [
        [2019, 10, first["ts"] // DAY]]
    recent = rows(server, f"SELECT COUNT(*) FROM {TABLE} WHERE ts > ago('P36500D') AND ts < now()")
    assert recent == [[len(RECORDS)]]


def test_pinot_aggregations_across_workers(server: IngestdServer) -> None:
    amounts = sorted(r["amount"] for r in RECORDS)
    got = answer(server, f"SELECT DISTINCTCOUNT(user), PERCENTILE(amount, 50), MINMAXRANGE(amount), "
                         f"COUNTMV(tags) FROM {TABLE}")
    assert got["rows"] == [[4, amounts[len(amounts) // 2], amounts[-1] - amounts[0],
                            sum(len(r["tags"]) for r in RECORDS)]]
    assert got["dataSchema"]["columnDataTypes"][0] == "INT"
    by_user = rows(server, f"SELECT user, DISTINCTCOUNT(country) FROM {TABLE} GROUP BY user ORDER BY user")
    users = ("u0", "u1", "u2", "u3")
    assert by_user == [[u, len({r["country"] for r in RECORDS if r["user"] == u})] for u in users]


def test_string_namesakes_mean_what_pinot_means(server: IngestdServer) -> None:
    got = rows(server, f"SELECT SUBSTR(country, 0, 1), CONCAT(user, country, '-') FROM {TABLE} "
                       "WHERE user = 'u1' ORDER BY ts LIMIT 1")
    first = min((r for r in RECORDS if r["user"] == "u1"), key=lambda r: r["ts"])
    assert got == [[first["country"][0], f"u1-{first['country']}"]]


def test_multi_value_predicates_and_grouping(server: IngestdServer) -> None:
    with_a = sum(1 for r in RECORDS if "a" in r["tags"])
    assert rows(server, f"SELECT COUNT(*) FROM {TABLE} WHERE tags = 'a'") == [[with_a]]
    elements = Counter(tag for r in RECORDS for tag in r["tags"])
    assert rows(server, f"SELECT tags, COUNT(*) FROM {TABLE} GROUP BY tags ORDER BY tags") == [
        [tag, n] for tag, n in sorted(elements.items())]


def test_json_columns_extraction_and_typing(server: IngestdServer) -> None:
    plans = rows(server, f"SELECT JSON_EXTRACT_SCALAR(payload, '$.plan', 'STRING', 'none') AS p, COUNT(*) "
                         f"FROM {TABLE} GROUP BY 1 ORDER BY 1")
    assert plans == [[plan, n] for plan, n in sorted(Counter(r["payload"]["plan"] for r in RECORDS).items())]
    typed = answer(server, f"SELECT payload FROM {TABLE} ORDER BY ts LIMIT 1")
    assert typed["dataSchema"]["columnDataTypes"] == ["JSON"]
    cursor = pinotdb.connect(host="127.0.0.1", port=server.port, path="/query/sql", scheme="http").cursor()
    cursor.execute(f"SELECT payload FROM {TABLE} ORDER BY ts LIMIT 1")
    assert cursor.fetchone()[0] == min(RECORDS, key=lambda r: r["ts"])["payload"]


def test_values_print_as_pinot_prints_them(server: IngestdServer) -> None:
    got = rows(server, f"SELECT score, created FROM {TABLE} WHERE user = 'u0' AND country = 'US' "
                       "ORDER BY ts LIMIT 1")
    assert got == [[3.8, "2019-10-24 07:00:00.123"]]


def test_pinot_syntax_limit_offset_case_insensitive_names_explain_and_unknown_functions(
    server: IngestdServer,
) -> None:
    ordered = [r["user"] for r in sorted(RECORDS, key=lambda r: r["ts"])]
    page = rows(server, f"SELECT USER FROM {TABLE.upper()} ORDER BY ts LIMIT 2, 3")
    assert page == [[u] for u in ordered[2:5]]
    plan = answer(server, f"EXPLAIN PLAN FOR SELECT COUNT(*) FROM {TABLE}")
    assert plan["dataSchema"]["columnNames"] == ["Operator", "Operator_Id", "Parent_Id"]
    assert server.query(f"SELECT nosuchfunction(user) FROM {TABLE}")["exceptions"][0]["errorCode"] == 700
    body = server.query(f"SET timeoutMs = 5000; SELECT COUNT(*) FROM {TABLE} OPTION(timeoutMs=6000)")
    assert body["resultTable"]["rows"] == [[len(RECORDS)]] and body["numRowsResultSet"] == 1


def test_virtual_columns_time_pruning_and_freshness(server: IngestdServer) -> None:
    got = answer(server, f"SELECT $segmentName, $docId, $hostName, user FROM {TABLE} ORDER BY ts LIMIT 3")
    assert got["dataSchema"]["columnNames"] == ["$segmentName", "$docId", "$hostName", "user"]
    segments = server.get(f"/segments/{TABLE}")[0]["REALTIME"]  # sealed and consuming, as in Pinot
    assert all(row[0] in segments and isinstance(row[1], int) and row[2] for row in got["rows"])
    per_segment = rows(server, f"SELECT $segmentName, COUNT(*), MAX($docId) FROM {TABLE} GROUP BY 1 "
                               "LIMIT 100")
    assert sum(n for _, n, _ in per_segment) == len(RECORDS)
    assert all(top == n - 1 for _, n, top in per_segment)  # docIds number each segment's rows from 0

    first_day = sum(1 for r in RECORDS if r["ts"] < BASE + DAY)
    body = server.query(f"SELECT COUNT(*) FROM {TABLE} WHERE ts < {BASE + DAY}")
    assert body["resultTable"]["rows"] == [[first_day]]
    assert body["numSegmentsProcessed"] < body["numSegmentsQueried"]  # later days' segments skipped
    assert body["totalDocs"] == len(RECORDS) and body["numDocsScanned"] == first_day
    assert body["minConsumingFreshnessTimeMs"] > 0
