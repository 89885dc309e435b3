"""Typos in optional keys are reported the way Pinot reports them (`unrecognizedProperties`, a map from a
`/`-separated path to the value); keys Pinot has, including those ingestd ignores, are not typos."""

from __future__ import annotations

import copy

from ingestd.config.unrecognized import unrecognized_schema_properties, unrecognized_table_properties
from ingestd.devtools.seed import seed_configs
from ingestd.redact import MASK

SCHEMA, TABLE = seed_configs("typos")


def test_the_seed_configs_have_no_unrecognized_properties() -> None:
    assert unrecognized_table_properties(TABLE) == {}
    assert unrecognized_schema_properties(SCHEMA) == {}


def test_misspelt_optional_keys_are_reported_by_path_with_their_values() -> None:
    table = copy.deepcopy(TABLE)
    table["tableIndexConfig"]["loadMod"] = "HEAP"
    table["tableIndexConfig"]["streamConfigs"]["realtime.segment.flush.treshold.rows"] = "1000"
    table["tableIndexConfig"]["streamConfigs"]["stream.kafka.topic.nme"] = "x"
    table["segmentsConfig"]["retentionTimeUnits"] = "DAYS"
    assert unrecognized_table_properties(table) == {
        "/tableIndexConfig/loadMod": "HEAP",
        "/tableIndexConfig/streamConfigs/realtime.segment.flush.treshold.rows": "1000",
        "/tableIndexConfig/streamConfigs/stream.kafka.topic.nme": "x",
        "/segmentsConfig/retentionTimeUnits": "DAYS",
    }


def test_schema_keys_are_reported_as_pinot_reports_them() -> None:
    """Pinot's own test (PinotSchemaRestletResourceTest) expects {"/illegalKey1": 1} for this key."""
    schema = copy.deepcopy(SCHEMA) | {"illegalKey1": 1}
    schema["dimensionFieldSpecs"][0]["datatype"] = "INT"
    assert unrecognized_schema_properties(schema) == {"/illegalKey1": 1,
                                                      "/dimensionFieldSpecs/0/datatype": "INT"}


def test_keys_pinot_has_and_ingestd_ignores_are_not_typos() -> None:
    table = copy.deepcopy(TABLE)
    table["segmentsConfig"] |= {"segmentPushType": "APPEND", "segmentAssignmentStrategy": "Balanced",
                                "replication": "1", "replicasPerPartition": "1"}
    table["tableIndexConfig"] |= {"invertedIndexColumns": ["subject"], "noDictionaryColumns": [],
                                  "sortedColumn": [], "segmentNameGeneratorType": "normalizedDate"}
    table["tableIndexConfig"]["streamConfigs"] |= {
        "stream.kafka.zk.broker.url": "zk:2181", "stream.kafka.decoder.prop.format": "JSON",
        "stream.kafka.consumer.prop.fetch.min.bytes": "1", "realtime.segment.flush.threshold.time.llc": "1h",
        "realtime.segment.flush.threshold.segment.size": "100M", "security.protocol": "PLAINTEXT"}
    table |= {"tenants": {"broker": "DefaultTenant", "server": "DefaultTenant"},
              "metadata": {"customConfigs": {"anything": "goes"}},
              "routing": {"instanceSelectorType": "strictReplicaGroup"}, "upsertConfig": {"mode": "FULL"},
              "ingestionConfig": {"streamIngestionConfig": {"pauselessConsumptionEnabled": False}}}
    assert unrecognized_table_properties(table) == {}


def test_stream_config_maps_in_ingestion_config_are_checked_too() -> None:
    table = copy.deepcopy(TABLE)
    streams = table["tableIndexConfig"].pop("streamConfigs")
    table["ingestionConfig"] = {"streamIngestionConfig": {"streamConfigMaps": [
        streams | {"realtime.segment.flush.thresold.time": "1h"}]}}
    path = "/ingestionConfig/streamIngestionConfig/streamConfigMaps/0/realtime.segment.flush.thresold.time"
    assert unrecognized_table_properties(table) == {path: "1h"}


def test_unknown_objects_are_flattened_into_leaves_and_secrets_are_masked() -> None:
    table = copy.deepcopy(TABLE) | {"extras": {"a": [1, {"b": 2}], "c": {}}}
    table["tableIndexConfig"]["streamConfigs"]["my.password"] = "hunter2-secret"
    found = unrecognized_table_properties(table)
    assert found == {"/extras/a/0": 1, "/extras/a/1/b": 2, "/extras/c": {},
                     "/tableIndexConfig/streamConfigs/my.password": MASK}


def test_wrongly_typed_sections_are_left_to_the_parser() -> None:
    table = copy.deepcopy(TABLE) | {"segmentsConfig": "not an object"}
    assert unrecognized_table_properties(table) == {}
