"""`[cluster] peers`: two servers share a topic in consumer-group mode and list each other; each answers
every row, its own and its peer's, exactly once (the group gives each row to one server), and a peer that
is down makes the answer partial instead of wrong."""

from __future__ import annotations

from pathlib import Path

from ingestd.devtools.local_broker import KafkaBroker, free_port
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import student_record
from ingestd.devtools.server_process import IngestdServer
from tests.support.group_tables import add_group_table, consumed, stop_all


def test_each_server_answers_every_row_through_its_peer(
    kafka: KafkaBroker, tmp_path: Path, unique_name: str
) -> None:
    table = unique_name
    kafka.create_topic(table, 4)
    ports = [free_port(), free_port()]
    servers = []
    for index, name in enumerate(("a", "b")):
        (tmp_path / name).mkdir()
        peer = f"http://127.0.0.1:{ports[1 - index]}"
        servers.append(IngestdServer(tmp_path / name, workers=1, port=ports[index],
                                     toml={"cluster": {"peers": [peer]}}))
    first, second = servers
    try:
        for server in servers:
            server.start()
            add_group_table(server, kafka, table, rows=300)
        wait_until(lambda: consumed(first, table) and consumed(second, table), timeout_s=60,
                   what="the group to split the partitions between both servers")
        kafka.publish(table, (student_record(i, student=i) for i in range(1000)), partitions=4)
        sql = f"SELECT COUNT(*), COUNT(DISTINCT studentID), SUM(studentID) FROM {table}"
        expected = [[1000, 1000, float(sum(range(1000)))]]
        for server in servers:
            wait_until(lambda server=server: server.query(sql)["resultTable"]["rows"] == expected,
                       timeout_s=30, what="every row from either server")
        grouped = first.query(f"SELECT subject, COUNT(*) FROM {table} GROUP BY subject")
        assert grouped["resultTable"]["rows"] == [["Maths", 1000]] and not grouped["partialResult"]
        second.kill9()  # the peer is gone: the answer says it is partial
        answer = first.query(sql)
        assert answer["partialResult"] and answer["exceptions"]
        assert answer["resultTable"]["rows"][0][0] < 1000
    finally:
        stop_all(servers)
