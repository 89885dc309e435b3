"""Bad input: malformed configs are rejected with HTTP 400 naming the field; malformed messages are
counted and skipped while the partition keeps flowing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.devtools.server_process import IngestdServer
from tests.support.tables import create_table

STREAM = "tableIndexConfig.streamConfigs"


def _without(document: dict[str, Any], *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


def _with(document: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


SCHEMA, TABLE = seed_configs("badcfg")
_STREAM_PATH = ("tableIndexConfig", "streamConfigs")

BAD_TABLES = [
    (_without(TABLE, *_STREAM_PATH, "stream.kafka.topic.name"),
     f"{STREAM}.stream.kafka.topic.name is missing"),
    (_without(TABLE, *_STREAM_PATH, "stream.kafka.broker.list"),
     f"{STREAM}.stream.kafka.broker.list is missing"),
    (_with(TABLE, "DISK", "tableIndexConfig", "loadMode"), "tableIndexConfig.loadMode must be MMAP or HEAP"),
    (_with(TABLE, "lots", *_STREAM_PATH, "realtime.segment.flush.threshold.rows"),
     f"{STREAM}.realtime.segment.flush.threshold.rows must be an integer"),
    (_with(TABLE, "5 fortnights", *_STREAM_PATH, "realtime.segment.flush.threshold.time"),
     f"{STREAM}.realtime.segment.flush.threshold.time must be milliseconds or a period"),
    (_with(TABLE, "com.example.NoSuchDecoder", *_STREAM_PATH, "stream.kafka.decoder.class.name"),
     f"{STREAM}.stream.kafka.decoder.class.name names an unknown class"),
    (_with(TABLE, "middleLevel", *_STREAM_PATH, "stream.kafka.consumer.type"),
     f"{STREAM}.stream.kafka.consumer.type must be lowlevel or highLevel"),
    (_with(TABLE, "score", "segmentsConfig", "timeColumnName"),
     "segmentsConfig.timeColumnName 'score' is not a dateTimeFieldSpecs field"),
    (_with(TABLE, "OFFLINE", "tableType"), "tableType OFFLINE (batch) tables is not supported yet"),
    (_with(TABLE, "nosuchschema", "segmentsConfig", "schemaName"),
     "segmentsConfig.schemaName names schema 'nosuchschema', which has not been uploaded"),
    (_without(TABLE, "tableIndexConfig", "streamConfigs"), f"{STREAM} is missing"),
]

BAD_SCHEMAS = [
    (_with(SCHEMA, "STRNG", "dimensionFieldSpecs", 1, "dataType"),
     "dimensionFieldSpecs[1].dataType must be one of INT, LONG"),
    (_without(SCHEMA, "dateTimeFieldSpecs", 0, "format"), "dateTimeFieldSpecs[0].format is missing"),
    (_without(SCHEMA, "schemaName"), "schemaName is missing"),
    (_with(SCHEMA, "STRING", "metricFieldSpecs", 0, "dataType"),
     "metricFieldSpecs[0].dataType STRING is not a metric type"),
]


def test_malformed_configs_are_rejected_with_400_naming_the_field(server: IngestdServer) -> None:
    assert server.post("/schemas", SCHEMA).status_code == 200
    for document, message in BAD_TABLES:
        response = server.post("/tables", document)
        assert response.status_code == 400, (message, response.text)
        assert message in response.json()["error"], response.json()["error"]
    for document, message in BAD_SCHEMAS:
        response = server.post("/schemas", document)
        assert response.status_code == 400, (message, response.text)
        assert message in response.json()["error"], response.json()["error"]
    not_json = server.post("/tables", None)
    assert not_json.status_code == 400
    assert server.get("/tables") == {"tables": []}


@pytest.mark.parametrize("partitions", [2])
def test_malformed_messages_are_counted_and_skipped_and_the_partition_keeps_flowing(
    kafka: KafkaBroker, server: IngestdServer, unique_name: str, partitions: int
) -> None:
    create_table(server, kafka, unique_name, partitions,
                 **{"stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
    bad = [b"not json", b'{"studentID": "two hundred"}', b"[1, 2]", b"", None, b'{"studentID": 1e99}']
    good = [student_record(i) for i in range(20)]
    kafka.publish(unique_name, good[:10] + bad + good[10:], partitions=1)  # all into partition 0
    wait_until(lambda: server.count(unique_name) == 20, what="20 good rows")
    status = wait_until(lambda: (s := server.get(f"/tables/{unique_name}/status"))["malformedMessages"] == 6
                        and s, what="6 malformed messages counted")
    assert status["partitions"][0]["lastError"]

    kafka.publish(unique_name, (student_record(i) for i in range(20, 30)), partitions=1)
    wait_until(lambda: server.count(unique_name) == 30, what="the partition to keep flowing")
