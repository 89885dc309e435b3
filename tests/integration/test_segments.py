"""Segments as Pinot defines them, on a real broker: both thresholds together, size auto-tuning,
retention, and MMAP vs HEAP loading answering queries the same."""

from __future__ import annotations

import time

import orjson

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import student_record
from ingestd.devtools.server_process import IngestdServer
from tests.support.tables import create_table, segments_by_partition

SMALLEST = {"stream.kafka.consumer.prop.auto.offset.reset": "smallest"}


def offsets_of(server: IngestdServer, table: str, partition: int = 0) -> list[tuple[int, int, int]]:
    return [(int(m["startOffset"]), int(m["endOffset"]), m["totalDocs"])
            for m in segments_by_partition(server, table).get(partition, [])]


def test_rows_and_time_thresholds_together_whichever_comes_first_seals(
    kafka: KafkaBroker, server: IngestdServer, unique_name: str
) -> None:
    create_table(server, kafka, unique_name, 1, **SMALLEST, **{
        "realtime.segment.flush.threshold.rows": "1000", "realtime.segment.flush.threshold.time": "2s"})
    kafka.publish(unique_name, (student_record(i) for i in range(2_500)))
    wait_until(lambda: offsets_of(server, unique_name) == [(0, 1000, 1000), (1000, 2000, 1000),
                                                           (2000, 2500, 500)],
               timeout_s=20, what="two row-sealed segments and one time-sealed")
    assert server.count(unique_name) == 2_500


def test_rows_zero_auto_tunes_segments_to_the_desired_size(
    kafka: KafkaBroker, server: IngestdServer, unique_name: str
) -> None:
    desired = 600 * 1024
    create_table(server, kafka, unique_name, 1, **SMALLEST, **{
        "realtime.segment.flush.threshold.rows": "0",
        "realtime.segment.flush.threshold.segment.size": "600K",
        "realtime.segment.flush.autotune.initialRows": "60000"})
    kafka.publish(unique_name, (student_record(i) for i in range(260_000)))
    segments = wait_until(lambda: (s := segments_by_partition(server, unique_name).get(0, [])) and len(s) >= 6
                          and s, timeout_s=60, what="six sealed segments")
    sizes = [m["sizeInBytes"] for m in segments]
    assert segments[0]["totalDocs"] == 60_000  # the first segment uses initialRows
    assert all(abs(size - desired) <= 0.2 * desired for size in sizes[3:6]), sizes


def test_retention_deletes_sealed_segments_older_than_the_retention(
    kafka: KafkaBroker, server: IngestdServer, unique_name: str
) -> None:
    table = create_table(server, kafka, unique_name, 1, **SMALLEST,
                         **{"realtime.segment.flush.threshold.rows": "100"},
                         segments_config={"retentionTimeUnit": "DAYS", "retentionTimeValue": "7"})
    assert table["segmentsConfig"]["retentionTimeValue"] == "7"
    kafka.publish(unique_name, (student_record(i) for i in range(300)))  # rows from 2019
    now = time.time_ns() // 1_000_000
    recent = [orjson.dumps({"studentID": i, "firstName": f"s{i}", "timestamp": now}) for i in range(300, 400)]
    kafka.publish(unique_name, recent)
    wait_until(lambda: offsets_of(server, unique_name) == [(300, 400, 100)], timeout_s=20,
               what="only the recent segment to remain")
    assert server.count(unique_name) == 100
    server.restart()  # the deleted segments' offsets stay committed: nothing comes back
    wait_until(lambda: server.count(unique_name) == 100, what="100 rows after restart")
    assert offsets_of(server, unique_name) == [(300, 400, 100)]


def test_heap_and_mmap_load_modes_answer_queries_the_same(
    kafka: KafkaBroker, server: IngestdServer, unique_name: str
) -> None:
    answers = []
    for mode in ("MMAP", "HEAP"):
        name = f"{unique_name}_{mode.lower()}"
        create_table(server, kafka, name, 2, **SMALLEST, **{"realtime.segment.flush.threshold.rows": "1000"},
                     index_config={"loadMode": mode})
        kafka.publish(name, (student_record(i, student=i % 7, subject=["A", "B", "C"][i % 3])
                             for i in range(3_000)), partitions=2)
        wait_until(lambda name=name: server.count(name) == 3_000, what=f"{mode} rows")
        wait_until(lambda name=name: sum(map(len, segments_by_partition(server, name).values())) == 6,
                   what=f"{mode} sealed segments")
        assert server.get(f"/tables/{name}")["REALTIME"]["tableIndexConfig"]["loadMode"] == mode
        answers.append(server.query(f"SELECT subject, studentID, COUNT(*), SUM(score), MAX(\"timestamp\") "
                                    f"FROM {name} GROUP BY subject, studentID ORDER BY 1, 2 LIMIT 100")
                       ["resultTable"]["rows"])
    assert answers[0] == answers[1] and len(answers[0]) == 21
