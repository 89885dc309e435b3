"""The time threshold seals a consuming segment that stopped receiving data."""

from __future__ import annotations

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import student_record
from ingestd.devtools.server_process import IngestdServer
from tests.support.tables import create_table, segments_by_partition


def test_time_threshold_seals_a_segment_that_stopped_receiving_data(
    kafka: KafkaBroker, server: IngestdServer, unique_name: str
) -> None:
    create_table(server, kafka, unique_name, 1, **{
        "realtime.segment.flush.threshold.rows": "100000",
        "realtime.segment.flush.threshold.time": "2s",
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
    })
    kafka.publish(unique_name, (student_record(i) for i in range(50)))
    wait_until(lambda: server.count(unique_name) == 50, what="50 rows")

    segments = wait_until(lambda: segments_by_partition(server, unique_name).get(0), timeout_s=15,
                          what="a segment sealed by time")
    assert [(int(m["startOffset"]), int(m["endOffset"]), m["totalDocs"]) for m in segments] == [(0, 50, 50)]
    assert segments[0]["startTime"] == 1_571_900_400_000
    assert segments[0]["endTime"] == 1_571_900_400_049
    assert server.count(unique_name) == 50  # sealed rows are not counted twice

    status = wait_until(
        lambda: (p := server.get(f"/tables/{unique_name}/status")["partitions"][0])["sealedRows"] == 50 and p,
        what="status to report the sealed rows")
    assert status["consumingRows"] == 0
    assert status["currentOffset"] == 50
