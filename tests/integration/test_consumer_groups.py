"""Consumer-group mode (`stream.kafka.consumer.type: highLevel`) through the real Tansu broker: two
ingestd servers (their own data dirs and ports) share one 4-partition topic; every published row is
served exactly once across both (COUNT(*) summed, and the distinct keys), also when one server is
killed -9 while rows arrive, the other takes its partitions over from the committed offsets, and the
killed one comes back (serving its sealed segments again and rejoining the group)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.devtools.server_process import IngestdServer
from ingestd.stream.kafka_handovers import Handover, HandoverLog, trim_points
from tests.support.group_tables import GROUP_SETTINGS as SUPPORT_SETTINGS
from tests.support.group_tables import add_group_table, stop_all
from tests.support.group_tables import consumed as consumed_partitions
from tests.support.tables import create_table, segments_by_partition

PARTITIONS = 4
GROUP_SETTINGS = {**SUPPORT_SETTINGS,
                  "realtime.segment.flush.threshold.rows": "600"}  # 300 rows a segment with 2 partitions


def keys(server: IngestdServer, table: str) -> list[str]:
    answer = server.query(f"SELECT firstName FROM {table} LIMIT 1000000")
    assert not answer.get("exceptions"), answer["exceptions"]
    return [row[0] for row in answer["resultTable"]["rows"]]


def exactly_once(servers: list[IngestdServer], table: str, published: int) -> bool:
    """Every row s0 … s(published-1) served once across the servers (at a moment both answer alike)."""
    counts = [server.count(table) for server in servers]
    if sum(counts) != published:
        return False
    seen = Counter(key for server in servers for key in keys(server, table))
    duplicates = [key for key, times in seen.items() if times > 1]
    assert not duplicates, f"rows served twice: {duplicates[:10]} ({len(duplicates)})"
    assert set(seen) == {f"s{i}" for i in range(published)}
    return True


def test_two_servers_share_a_topic_exactly_once_also_when_one_is_killed(
    kafka: KafkaBroker, tmp_path: Path, unique_name: str
) -> None:
    table = unique_name
    kafka.create_topic(table, PARTITIONS)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = IngestdServer(tmp_path / "a", workers=2)
    second = IngestdServer(tmp_path / "b", workers=2)
    try:
        first.start()
        second.start()
        add_group_table(first, kafka, table)
        add_group_table(second, kafka, table)
        # the group splits the partitions between the two servers
        wait_until(lambda: len(consumed_partitions(first, table)) + len(consumed_partitions(second, table))
                   == PARTITIONS and consumed_partitions(first, table) and consumed_partitions(second, table),
                   timeout_s=60, what="the group to split the partitions between both servers")
        kafka.publish(table, (student_record(i) for i in range(2000)), partitions=PARTITIONS)
        wait_until(lambda: exactly_once([first, second], table, 2000), timeout_s=30,
                   what="2000 rows exactly once across both servers")
        assert first.count(table) > 0 and second.count(table) > 0

        # rows keep arriving while the first server is killed -9; the second takes its partitions over
        def publish_slowly() -> None:
            for start in range(2000, 5000, 250):
                kafka.publish(table, (student_record(i) for i in range(start, start + 250)),
                              partitions=PARTITIONS)
                time.sleep(0.1)

        feeder = threading.Thread(target=publish_slowly)
        feeder.start()
        time.sleep(0.6)
        first.kill9()
        feeder.join()
        wait_until(lambda: consumed_partitions(second, table) == set(range(PARTITIONS)), timeout_s=45,
                   what="the second server to take over every partition")
        wait_until(lambda: second.count(table) >= 5000 - 2000, timeout_s=30, what="the backlog consumed")
        # the killed server comes back: its sealed segments are served again, it rejoins the group
        first.start()
        wait_until(lambda: consumed_partitions(first, table) and consumed_partitions(second, table),
                   timeout_s=60, what="the restarted server to rejoin the group")
        kafka.publish(table, (student_record(i) for i in range(5000, 5400)), partitions=PARTITIONS)
        wait_until(lambda: exactly_once([first, second], table, 5400), timeout_s=45,
                   what="5400 rows exactly once across both servers after the kill and restart")
    finally:
        stop_all([first, second])


def test_a_partition_leaving_the_table_is_revoked_and_a_new_one_picked_up_without_a_restart(
    kafka: KafkaBroker, server: IngestdServer, unique_name: str
) -> None:
    """The partition set the coordinator discovers changes while the table runs: here through
    `stream.kafka.partition.ids` (Tansu does not implement CreatePartitions, so a topic cannot grow
    here); the assignment follows without a restart. The partition that leaves is revoked: its consuming
    rows are sealed and stay served, and nothing more of it is consumed."""
    table = unique_name
    config = create_table(server, kafka, table, 2, **{
        "stream.kafka.partition.ids": "0",
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
        "realtime.segment.flush.threshold.rows": "200"})
    kafka.publish(table, (student_record(i) for i in range(500)), partitions=2)  # 250 per partition
    wait_until(lambda: server.count(table) == 250, what="partition 0's 250 rows")

    def update(partition_ids: str) -> None:
        config["tableIndexConfig"]["streamConfigs"]["stream.kafka.partition.ids"] = partition_ids
        response = server.http.put(f"{server.url}/tables/{table}", json=config)
        assert response.status_code == 200, response.text

    update("0,1")  # partition 1 joins the table
    wait_until(lambda: server.count(table) == 500, what="partition 1 picked up")
    update("1")  # partition 0 leaves: revoked, its 50 consuming rows sealed and still served
    wait_until(lambda: [p["partition"] for p in server.get(f"/tables/{table}/status")["partitions"]] == [1],
               what="partition 0 revoked")
    kafka.publish(table, (student_record(i) for i in range(500, 700)), partitions=2)  # 100 per partition
    wait_until(lambda: server.count(table) == 600, what="only partition 1's new rows")
    time.sleep(1)
    assert server.count(table) == 600
    sealed = segments_by_partition(server, table)
    assert sum(meta["totalDocs"] for meta in sealed[0]) == 250  # all of partition 0, sealed


def test_the_handover_log_keeps_every_takeover_in_order_on_the_broker(kafka: KafkaBroker, unique_name: str
                                                                      ) -> None:
    """Records appended one flush at a time (several per call) are read back complete and in order: the
    log's end is found even where the broker reports a batch's base offset + 1 as the end (Tansu)."""
    log = HandoverLog({"bootstrap.servers": kafka.bootstrap}, f"group-{unique_name}")
    log.ensure_topic()
    log.ensure_topic()  # already there: fine
    assert log.read() == []
    first = [Handover(p, "server-a", None) for p in range(4)]
    log.append(first)
    log.append([Handover(2, "server-b", 1500)])
    assert log.read() == [*first, Handover(2, "server-b", 1500)]
    assert trim_points(log.read(), "server-a", {2: 4000, 3: 700}, [2, 3]) == {2: 1500, 3: 700}
    log.close()


def test_a_restart_drops_sealed_segments_the_group_never_got_by_the_handover_log(
    kafka: KafkaBroker, tmp_path: Path, unique_name: str
) -> None:
    """What a crash between a seal's ledger record and its group commit leaves, set up by hand: the
    server sealed rows 0-449 (the group had 450), then the group is made to say that another server took
    the partition over at 300 (as if the commits of 400 and 450 never happened) and committed 600 since.
    Restarted, the server drops its segments beyond 300, serves 0-299, and consumes from 600 on."""
    table = unique_name
    kafka.create_topic(table, 1)
    server = IngestdServer(tmp_path, workers=1)
    group = f"group-{table}"
    try:
        server.start()
        schema, config = seed_configs(table, **{"stream.kafka.topic.name": table,
                                                "stream.kafka.broker.list": kafka.bootstrap,
                                                "stream.kafka.hlc.group.id": group, **GROUP_SETTINGS,
                                                "realtime.segment.flush.threshold.rows": "100"})
        for path, document in (("/schemas", schema), ("/tables", config)):
            assert server.post(path, document).status_code == 200
        kafka.publish(table, (student_record(i) for i in range(450)))
        wait_until(lambda: server.count(table) == 450, timeout_s=60, what="450 rows")
        server.stop()  # leaves the group: the consuming 50 rows sealed, 450 committed
        assert committed_offset(kafka, table, group) == 450
        kafka.publish(table, (student_record(i) for i in range(450, 650)))
        log = HandoverLog({"bootstrap.servers": kafka.bootstrap}, group)
        log.append([Handover(0, "another-server", 300)])
        log.close()
        commit_offset(kafka, table, group, 600)
        server.start()
        wait_until(lambda: server.count(table) == 350, timeout_s=60, what="0-299 and 600-649 only")
        assert sorted(keys(server, table), key=lambda k: int(k[1:])) == [
            f"s{i}" for i in (*range(300), *range(600, 650))]
    finally:
        try:
            server.stop()
        finally:
            server.kill9()


def committed_offset(kafka: KafkaBroker, topic: str, group: str) -> int:
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": group})
    try:
        return int(consumer.committed([TopicPartition(topic, 0)], timeout=10)[0].offset)
    finally:
        consumer.close()


def commit_offset(kafka: KafkaBroker, topic: str, group: str, offset: int) -> None:
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        consumer.close()


def test_a_worker_killed_in_group_mode_restarts_without_losing_or_doubling_rows(
    kafka: KafkaBroker, tmp_path: Path, unique_name: str
) -> None:
    """A worker process killed -9 while rows arrive: its replacement drops the segments the group did not
    get (the dead worker's reports not yet committed) and reads them again; every row is served once."""
    table = unique_name
    kafka.create_topic(table, 2)
    server = IngestdServer(tmp_path, workers=2)
    try:
        server.start()
        schema, config = seed_configs(table, **{"stream.kafka.topic.name": table,
                                                "stream.kafka.broker.list": kafka.bootstrap, **GROUP_SETTINGS,
                                                "realtime.segment.flush.threshold.rows": "100"})
        for path, document in (("/schemas", schema), ("/tables", config)):
            assert server.post(path, document).status_code == 200
        wait_until(lambda: consumed_partitions(server, table) == {0, 1}, timeout_s=60, what="the assignment")
        kafka.publish(table, (student_record(i) for i in range(500)), partitions=2)
        wait_until(lambda: server.count(table) == 500, what="500 rows")
        victim = server.get(f"/tables/{table}/status")["workers"]["1"]["pid"]

        def publish_slowly() -> None:
            for start in range(500, 2000, 100):
                kafka.publish(table, (student_record(i) for i in range(start, start + 100)), partitions=2)
                time.sleep(0.05)

        feeder = threading.Thread(target=publish_slowly)
        feeder.start()
        time.sleep(0.2)
        os.kill(victim, signal.SIGKILL)
        feeder.join()
        wait_until(lambda: exactly_once([server], table, 2000), timeout_s=60,
                   what="2000 rows exactly once after the worker's restart")
    finally:
        try:
            server.stop()
        finally:
            server.kill9()
