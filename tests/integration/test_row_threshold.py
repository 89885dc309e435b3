"""The rows threshold seals segments at exactly N rows with exact offset ranges — N being the table's
`threshold.rows` divided by the partitions the server consumes, as in Pinot — and a restart (clean,
then kill -9) resumes from the ledger: the count stays exact and new messages keep coming."""

from __future__ import annotations

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import student_record
from ingestd.devtools.server_process import IngestdServer
from tests.support.tables import create_table, segments_by_partition


def test_row_threshold_seals_exact_offset_ranges_and_survives_restarts(
    kafka: KafkaBroker, server: IngestdServer, unique_name: str
) -> None:
    table = unique_name
    create_table(server, kafka, table, 3, **{
        "realtime.segment.flush.threshold.rows": "3000",  # 1,000 per segment of each of 3 partitions
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
    })
    kafka.publish(table, (student_record(i) for i in range(10_500)), partitions=3)

    wait_until(lambda: server.count(table) == 10_500, timeout_s=30, what="10,500 rows")
    segments = wait_until(
        lambda: (s := segments_by_partition(server, table)) and sum(map(len, s.values())) == 9 and s,
        what="9 sealed segments")
    for partition in range(3):
        ranges = [(int(m["startOffset"]), int(m["endOffset"]), m["totalDocs"]) for m in segments[partition]]
        assert ranges == [(0, 1000, 1000), (1000, 2000, 1000), (2000, 3000, 1000)]
        assert [m["segmentName"].split("__")[:3] for m in segments[partition]] == [
            [table, str(partition), str(seq)] for seq in range(3)]

    server.restart()
    wait_until(lambda: server.count(table) == 10_500, timeout_s=30, what="10,500 rows after restart")
    kafka.publish(table, (student_record(i) for i in range(10_500, 10_800)), partitions=3)
    wait_until(lambda: server.count(table) == 10_800, timeout_s=30, what="new messages after restart")

    server.kill9()
    server.start()
    wait_until(lambda: server.count(table) == 10_800, timeout_s=30, what="10,800 rows after kill -9")
    answer = server.query(f"SELECT COUNT(DISTINCT firstName) FROM {table}")
    assert answer["resultTable"]["rows"] == [[10_800]]  # no duplicates: every record once
