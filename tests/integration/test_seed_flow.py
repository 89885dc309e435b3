"""The seed document's flow, unchanged: its schema and table config (only broker.list pointed at the
test broker), its 12 records, and SQL answers through the pinotdb DB-API client."""

from __future__ import annotations

import pinotdb

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_records, seed_schema, seed_table
from ingestd.devtools.server_process import IngestdServer
from tests.support.tables import create_table


def test_seed_records_are_queryable_through_pinotdb_within_seconds(
    kafka: KafkaBroker, server: IngestdServer
) -> None:
    kafka.create_topic("transcript-topic", 3)
    assert server.post("/schemas", seed_schema()).status_code == 200
    table = seed_table(**{"stream.kafka.broker.list": kafka.bootstrap})
    response = server.post("/tables", table)
    assert response.json()["status"] == "Table transcript_REALTIME successfully added"
    kafka.publish("transcript-topic", seed_records(), partitions=3)

    cursor = pinotdb.connect(host="127.0.0.1", port=server.port, path="/query/sql", scheme="http").cursor()

    def count() -> int:
        cursor.execute("SELECT COUNT(*) FROM transcript")
        return int(cursor.fetchone()[0])

    wait_until(lambda: count() == 12, timeout_s=10, what="12 rows")
    assert cursor.description[0][0] == "count(*)"

    cursor.execute("SELECT subject, COUNT(*) AS n FROM transcript GROUP BY subject ORDER BY n DESC, subject")
    assert cursor.fetchall() == [["Maths", 4], ["History", 3], ["English", 2], ["Chemistry", 1],
                                 ["Geography", 1], ["Physics", 1]]

    cursor.execute("SELECT firstName, subject, score FROM transcript WHERE studentID = 209 ORDER BY subject")
    rows = cursor.fetchall()
    assert [(r[0], r[1]) for r in rows] == [("Jane", "English"), ("Jane", "Geography"), ("Jane", "Maths"),
                                             ("Jane", "Physics")]
    assert [round(r[2], 2) for r in rows] == [3.5, 3.8, 3.2, 3.6]

    cursor.execute('SELECT AVG(score), SUM(studentID), MIN("timestamp"), MAX("timestamp") FROM transcript')
    avg, total, first, last = cursor.fetchone()
    assert round(avg, 4) == round(sum([3.8, 3.5, 3.2, 3.6, 3.8, 3.5, 3.2, 3.6, 3.8, 3.5, 3.2, 3.6]) / 12, 4)
    assert total == 205 * 2 + 207 * 2 + 209 * 4 + 211 * 3 + 212
    assert (first, last) == (1571900400000, 1572854400000)


def test_selection_without_limit_gets_pinots_default_of_ten_rows(
    kafka: KafkaBroker, server: IngestdServer
) -> None:
    create_table(server, kafka, "defaultlimit", 2,
                 **{"stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
    kafka.publish("defaultlimit", seed_records(), partitions=2)
    wait_until(lambda: server.count("defaultlimit") == 12, what="12 rows")
    answer = server.query("SELECT * FROM defaultlimit")
    assert len(answer["resultTable"]["rows"]) == 10
    schema = answer["resultTable"]["dataSchema"]  # Pinot lists `SELECT *` alphabetically
    assert schema["columnNames"] == ["firstName", "gender", "lastName", "score", "studentID", "subject",
                                     "timestamp"]
    assert schema["columnDataTypes"] == ["STRING", "STRING", "STRING", "FLOAT", "INT", "STRING", "LONG"]
    assert answer["numServersQueried"] == answer["numServersResponded"] == 2
    assert answer["totalDocs"] == 12
    assert len(server.query("SELECT * FROM defaultlimit LIMIT 100")["resultTable"]["rows"]) == 12
