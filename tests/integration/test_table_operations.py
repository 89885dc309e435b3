"""Operating a real-time table through the real server, as Pinot's controller does: pause (everything
consumed is sealed, nothing more is read, even across a restart), resume from the last consumed offset,
from the largest (skips) or the smallest offset (reads again), force commit and its job status, and the
table's size."""

from __future__ import annotations

from typing import Any

import orjson

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.devtools.server_process import IngestdServer
from tests.support.tables import create_table, segments_by_partition

SMALLEST = {"stream.kafka.consumer.prop.auto.offset.reset": "smallest"}


def _post(server: IngestdServer, path: str) -> Any:
    response = server.http.post(server.url + path)
    assert response.status_code == 200, response.text
    return response.json()


def _sealed(server: IngestdServer, table: str) -> list[dict[str, Any]]:
    return [meta for metas in segments_by_partition(server, table).values() for meta in metas]


def _names(server: IngestdServer, table: str) -> set[str]:
    rows = server.query(f"SELECT firstName FROM {table} LIMIT 100000")["resultTable"]["rows"]
    return {name for (name,) in rows}


def test_pause_seals_everything_stays_paused_across_a_restart_and_resume_goes_on(
        kafka: KafkaBroker, server: IngestdServer, unique_name: str) -> None:
    create_table(server, kafka, unique_name, 2, **SMALLEST)
    control = f"{unique_name}_control"  # an unpaused table on the same topic shows what was there to read
    schema, table = seed_configs(control, **SMALLEST, **{"stream.kafka.topic.name": unique_name,
                                                         "stream.kafka.broker.list": kafka.bootstrap})
    for path, document in (("/schemas", schema), ("/tables", table)):
        assert server.post(path, document).status_code == 200
    kafka.publish(unique_name, (student_record(i) for i in range(100)), partitions=2)
    wait_until(lambda: server.count(unique_name) == 100 and server.count(control) == 100, what="100 rows")

    paused = _post(server, f"/tables/{unique_name}/pauseConsumption?comment=maintenance")
    assert paused["pauseFlag"] is True and paused["comment"] == "maintenance"
    assert len(paused["consumingSegments"]) == 2  # both partitions' segments, now sealed
    pause_status = f"/tables/{unique_name}/pauseStatus"
    status = wait_until(lambda: (s := server.get(pause_status))["consumingSegments"] == [] and s,
                        what="no consuming segment left")
    assert status["pauseFlag"] is True and status["reasonCode"] == "ADMINISTRATIVE"
    assert status["comment"] == "maintenance" and status["timestamp"] == paused["timestamp"]
    assert sum(meta["totalDocs"] for meta in _sealed(server, unique_name)) == 100
    assert set(server.get(f"/segments/{unique_name}")[0]["REALTIME"]) == set(paused["consumingSegments"])
    assert server.get(f"/tables/{unique_name}/status")["state"] == "PAUSED"

    kafka.publish(unique_name, (student_record(i) for i in range(100, 150)), partitions=2)
    wait_until(lambda: server.count(control) == 150, what="the control table to read 50 more")
    assert server.count(unique_name) == 100

    server.restart()
    wait_until(lambda: server.count(control) == 150, what="the control table after the restart")
    def states() -> list[str]:
        return [p.get("state") for p in server.get(f"/tables/{unique_name}/status")["partitions"]]

    wait_until(lambda: states() == ["PAUSED", "PAUSED"], what="both partitions reported paused")
    assert server.count(unique_name) == 100
    assert server.get(f"/tables/{unique_name}/pauseStatus")["pauseFlag"] is True

    resumed = _post(server, f"/tables/{unique_name}/resumeConsumption")
    assert resumed["pauseFlag"] is False and resumed["comment"].startswith("Pause flag is cleared")
    wait_until(lambda: server.count(unique_name) == 150, what="the 50 published meanwhile")
    assert _names(server, unique_name) == {f"s{i}" for i in range(150)}
    assert server.get(f"/tables/{unique_name}/pauseStatus")["pauseFlag"] is False
    bad = server.http.post(f"{server.url}/tables/{unique_name}/resumeConsumption?consumeFrom=newest")
    assert bad.status_code == 400 and "consumeFrom" in bad.json()["error"]


def test_resume_from_largest_skips_what_came_meanwhile_and_from_smallest_reads_it_all_again(
        kafka: KafkaBroker, server: IngestdServer, unique_name: str) -> None:
    create_table(server, kafka, unique_name, 1, **SMALLEST)
    kafka.publish(unique_name, (student_record(i) for i in range(30)))
    wait_until(lambda: server.count(unique_name) == 30, what="30 rows")
    _post(server, f"/tables/{unique_name}/pauseConsumption")
    kafka.publish(unique_name, (student_record(i) for i in range(30, 50)))

    _post(server, f"/tables/{unique_name}/resumeConsumption?consumeFrom=largest")
    wait_until(lambda: server.get(f"/tables/{unique_name}/status")["partitions"][0].get("startOffset") == 50,
               what="consumption to start at the end, offset 50")
    kafka.publish(unique_name, (student_record(i) for i in range(50, 60)))
    wait_until(lambda: server.count(unique_name) == 40, what="30 + the 10 published after the resume")
    assert _names(server, unique_name) == {f"s{i}" for i in [*range(30), *range(50, 60)]}

    _post(server, f"/tables/{unique_name}/pauseConsumption")
    _post(server, f"/tables/{unique_name}/resumeConsumption?consumeFrom=smallest")
    wait_until(lambda: server.count(unique_name) == 100, what="the topic's 60 messages read again")
    server.restart()  # the move to offset 0 was committed: a restart neither loses nor repeats it
    wait_until(lambda: server.count(unique_name) == 100, what="100 rows after the restart")
    assert _names(server, unique_name) == {f"s{i}" for i in range(60)}


def test_force_commit_seals_the_consuming_segments_and_size_counts_them(
        kafka: KafkaBroker, server: IngestdServer, unique_name: str) -> None:
    create_table(server, kafka, unique_name, 2, **SMALLEST)
    kafka.publish(unique_name, (student_record(i) for i in range(100)), partitions=2)
    wait_until(lambda: server.count(unique_name) == 100, what="100 rows")
    assert _sealed(server, unique_name) == []
    empty = server.get(f"/tables/{unique_name}/size")
    assert empty["reportedSizeInBytes"] == 0 and empty["realtimeSegments"]["segments"] == {}

    answer = _post(server, f"/tables/{unique_name}/forceCommit")
    assert answer["forceCommitStatus"] == "SUCCESS" and answer["jobMetaZKWriteStatus"] == "SUCCESS"
    sealed = _sealed(server, unique_name)
    assert sorted(meta["totalDocs"] for meta in sealed) == [50, 50]
    job = server.get(f"/tables/forceCommitStatus/{answer['forceCommitJobId']}")
    assert sorted(orjson.loads(job["segmentsForceCommitted"])) == sorted(m["segmentName"] for m in sealed)
    assert job["numberOfSegmentsYetToBeCommitted"] == 0 and job["tableName"] == f"{unique_name}_REALTIME"

    size = server.get(f"/tables/{unique_name}/size")
    truth = {meta["segmentName"]: meta["sizeInBytes"] for meta in sealed}
    assert size["reportedSizeInBytes"] == size["estimatedSizeInBytes"] == sum(truth.values())
    segments = size["realtimeSegments"]["segments"]
    assert {name: s["reportedSizeInBytes"] for name, s in segments.items()} == truth
    owners = server.get(f"/tables/{unique_name}/status")["partitions"]
    workers = {f"worker-{p['worker']}" for p in owners}
    assert {server for s in segments.values() for server in s["serverInfo"]} == workers
    assert server.get(f"/tables/{unique_name}/size?verbose=false")["realtimeSegments"]["segments"] == {}

    kafka.publish(unique_name, (student_record(i) for i in range(100, 110)), partitions=2)
    wait_until(lambda: server.count(unique_name) == 110, what="consumption going on after the commit")
    one = _post(server, f"/tables/{unique_name}/forceCommit?partitions=1")
    job = server.get(f"/tables/forceCommitStatus/{one['forceCommitJobId']}")
    assert [name.split("__")[1] for name in orjson.loads(job["segmentsForceCommitted"])] == ["1"]
