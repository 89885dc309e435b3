"""Pulsar table configs with Pinot's keys: what parses, and every refusal naming its key. No broker: these
are the config parser's answers, through ingestd's own table-config parser and plugin registry."""

from __future__ import annotations

from typing import Any

import pytest

from ingestd.config import parse_table_config
from ingestd.devtools.seed import seed_table
from ingestd.errors import ConfigError, NotSupportedYet
from ingestd.stream.pulsar import PulsarConsumerFactory
from ingestd.stream.pulsar_config import parse_pulsar_settings

STREAMS = "tableIndexConfig.streamConfigs"


def pinot_docs_pulsar_configs(**changes: str | None) -> dict[str, Any]:
    """The stream configs of Pinot's Pulsar documentation example (only the topic named)."""
    configs: dict[str, Any] = {
        "streamType": "pulsar",
        "stream.pulsar.topic.name": "transcript",
        "stream.pulsar.bootstrap.servers": "pulsar://localhost:6650,pulsar://localhost:6651",
        "stream.pulsar.consumer.prop.auto.offset.reset": "smallest",
        "stream.pulsar.consumer.type": "lowlevel",
        "stream.pulsar.fetch.timeout.millis": "30000",
        "stream.pulsar.decoder.class.name": "org.apache.pinot.plugin.inputformat.json.JSONMessageDecoder",
        "stream.pulsar.consumer.factory.class.name":
            "org.apache.pinot.plugin.stream.pulsar.PulsarConsumerFactory",
        "realtime.segment.flush.threshold.rows": "1000000",
        "realtime.segment.flush.threshold.time": "6h",
    }
    for key, value in changes.items():
        if value is None:
            configs.pop(key, None)
        else:
            configs[key] = value
    return configs


def pulsar_table(**changes: str | None) -> dict[str, Any]:
    table = seed_table()
    table["tableIndexConfig"]["streamConfigs"] = pinot_docs_pulsar_configs(**changes)
    return table


def test_pinot_docs_pulsar_config_parses_to_the_pulsar_plugin() -> None:
    config = parse_table_config(pulsar_table())
    assert config.stream.stream_type == "pulsar"
    assert config.stream.consumer_factory.target == "ingestd.stream.pulsar:PulsarConsumerFactory"
    settings = parse_pulsar_settings(config.stream)
    assert settings.service_url == "pulsar://localhost:6650,localhost:6651"
    assert settings.topic == "persistent://public/default/transcript"
    assert settings.token is None
    without_factory = parse_table_config(pulsar_table(**{"stream.pulsar.consumer.factory.class.name": None}))
    assert without_factory.stream.consumer_factory == config.stream.consumer_factory


@pytest.mark.parametrize(("topic", "full"), [
    ("events", "persistent://public/default/events"),
    ("acme/prod/events", "persistent://acme/prod/events"),
    ("persistent://acme/prod/events", "persistent://acme/prod/events"),
])
def test_every_spelling_of_a_topic_is_its_full_name(topic: str, full: str) -> None:
    config = parse_table_config(pulsar_table(**{"stream.pulsar.topic.name": topic}))
    assert parse_pulsar_settings(config.stream).topic == full


def test_a_token_is_read_and_masked_by_key_name() -> None:
    from ingestd.redact import is_secret_key

    config = parse_table_config(pulsar_table(**{"stream.pulsar.authenticationToken": "eyJhbGciOi.x.y"}))
    assert parse_pulsar_settings(config.stream).token == "eyJhbGciOi.x.y"
    assert is_secret_key("stream.pulsar.authenticationToken")


@pytest.mark.parametrize(("key", "value", "words"), [
    ("stream.pulsar.bootstrap.servers", None, "is missing"),
    ("stream.pulsar.bootstrap.servers", "localhost:6650", "pulsar:// or pulsar+ssl://"),
    ("stream.pulsar.bootstrap.servers", "http://localhost:8080", "pulsar:// or pulsar+ssl://"),
    ("stream.pulsar.bootstrap.servers", "pulsar://bad host:6650", "host:port"),
    ("stream.pulsar.bootstrap.servers", "pulsar://a:6650,pulsar+ssl://b:6651", "mixes"),
    ("stream.pulsar.topic.name", "non-persistent://public/default/t", "non-persistent"),
    ("stream.pulsar.topic.name", "a/b", "must be a topic name"),
    ("stream.pulsar.topic.name", "persistent://public/default/t-partition-3", "names one partition"),
    ("stream.pulsar.topic.name", "kafka://x/y/z", "must be persistent://"),
    ("stream.pulsar.serviceHttpUrl", "localhost:8080", "http:// or https://"),
    ("stream.pulsar.authenticationToken", "two words", "without spaces"),
    ("stream.pulsar.enableKeyValueStitch", "maybe", "true or false"),
])
def test_a_bad_pulsar_key_is_a_config_error_naming_it(key: str, value: str | None, words: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_table_config(pulsar_table(**{key: value}))
    assert error.value.path == f"{STREAMS}.{key}"
    assert words in error.value.problem


@pytest.mark.parametrize(("key", "value"), [
    ("stream.pulsar.tlsTrustCertsFilePath", "/etc/ssl/ca.pem"),
    ("stream.pulsar.credsFilePath", "file:///secrets/creds.json"),
    ("stream.pulsar.issuerUrl", "https://auth.example.com"),
    ("stream.pulsar.enableKeyValueStitch", "true"),
    ("stream.pulsar.metadata.populate", "true"),
    ("stream.pulsar.consumer.type", "highLevel"),
])
def test_pinot_features_ingestd_lacks_for_pulsar_are_refused_never_ignored(key: str, value: str) -> None:
    with pytest.raises(NotSupportedYet) as error:
        parse_table_config(pulsar_table(**{key: value}))
    assert error.value.path == f"{STREAMS}.{key}"


def test_building_the_clients_needs_no_broker_and_no_connection() -> None:
    config = parse_table_config(pulsar_table(**{"stream.pulsar.bootstrap.servers": "pulsar://127.0.0.1:1"}))
    connections: list[str] = []
    factory = PulsarConsumerFactory(config.stream, "ingestd-t",
                                    lambda settings, client_id: connections.append(client_id))
    from ingestd.stream.kafka_properties import probe_clients

    probe_clients(factory, config.stream)  # what POST /tables and `ingestd validate` do
    assert connections == []


def test_pinot_docs_pulsar_keys_are_recognized_and_a_typo_is_reported() -> None:
    from ingestd.config.unrecognized import unrecognized_table_properties

    table = pulsar_table(**{"stream.pulsar.authenticationToken": "t0ken",
                            "stream.pulsar.bootstarp.servers": "x"})
    typo = "/tableIndexConfig/streamConfigs/stream.pulsar.bootstarp.servers"
    assert unrecognized_table_properties(table) == {typo: "x"}
