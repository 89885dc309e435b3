"""The client-property policy: what a table config may hand to librdkafka, and what librdkafka rejects."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from ingestd.config import parse_schema, parse_table_config
from ingestd.devtools.seed import seed_configs
from ingestd.errors import ConfigError
from ingestd.ingest.table_spec import TableSpec
from ingestd.stream.kafka_properties import (
    APPLICATION_OBJECTS,
    FILE_PATHS,
    REFUSED,
    librdkafka_rejection,
    probe_clients,
)

STREAM = "tableIndexConfig.streamConfigs"
PROP = "stream.kafka.consumer.prop."


def table_with(allowed: tuple[Path, ...] = (), **stream: str) -> Any:
    schema, table = seed_configs("t", **stream)
    return parse_table_config(table, {"t": parse_schema(schema)}, allowed)


def refusal(key: str, value: str, allowed: tuple[Path, ...] = ()) -> str:
    with pytest.raises(ConfigError) as caught:
        table_with(allowed, **{key: value})
    assert caught.value.path == f"{STREAM}.{key}"
    return str(caught.value)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_properties_that_load_code_run_commands_or_write_files_are_refused_by_key_path(name: str) -> None:
    message = refusal(PROP + name, "anything")
    assert message.startswith(f"{STREAM}.{PROP}{name} is refused: ")
    if name.startswith(("ssl.", "sasl.")):  # the raw key reaches librdkafka too
        assert refusal(name, "anything").startswith(f"{STREAM}.{name} is refused: ")


def test_the_reasons_say_what_the_property_would_do_to_the_host() -> None:
    assert "shared library" in refusal(PROP + "plugin.library.paths", "/tmp/evil.so")
    assert "shell command" in refusal("sasl.kerberos.kinit.cmd", "touch /tmp/owned")
    assert "provider modules" in refusal("ssl.providers", "default,/tmp/evil")
    assert "write offset files" in refusal(PROP + "offset.store.path", "/tmp")


@pytest.mark.parametrize("name", [*sorted(APPLICATION_OBJECTS), "error_cb", "oauth_cb", "socket_cb"])
def test_callbacks_and_application_objects_are_refused(name: str) -> None:
    assert "application callback" in refusal(PROP + name, "print")


def test_value_dependent_refusals() -> None:
    assert "offset files" in refusal(PROP + "offset.store.method", "file")
    assert "offset files" in refusal(PROP + "topic.offset.store.method", "FILE")  # librdkafka's topic. prefix
    assert "offset files" in refusal(PROP + "topic.offset.store.path", "/tmp")
    table_with(**{PROP + "offset.store.method": "broker"})
    for identity in ("azure_imds", "aws_iam"):
        assert "cloud identity" in refusal("sasl.oauthbearer.metadata.authentication.type", identity)
    table_with(**{"sasl.oauthbearer.metadata.authentication.type": "none"})


@pytest.mark.parametrize("value", ["x$(id)", "x`id`", 'a" ; id ; "', "a b", "a;id", "a|id"])
def test_kerberos_values_pasted_into_the_kinit_shell_command_must_be_shell_inert(value: str) -> None:
    assert "kinit shell command" in refusal("sasl.kerberos.principal", value)
    table_with(**{"sasl.kerberos.principal": "ingestd/host.example.com@EXAMPLE.COM"})


def test_nul_bytes_and_control_characters_are_refused() -> None:
    assert "NUL byte" in refusal(PROP + "client.rack", "a\x00b")
    assert "control characters" in refusal(PROP + "client\x01rack", "a")


@pytest.mark.parametrize("name", sorted(FILE_PATHS))
def test_file_paths_outside_the_allowed_directories_are_refused_saying_how_to_allow_them(
        name: str, tmp_path: Path) -> None:
    message = refusal(PROP + name, "/etc/passwd", allowed=(tmp_path,))
    assert "allowed_file_dirs" in message and "[security]" in message and str(tmp_path) in message
    inside = tmp_path / "certs" / "file.pem"
    table_with((tmp_path,), **{PROP + name: str(inside)})


def test_paths_are_judged_where_they_resolve(tmp_path: Path) -> None:
    allowed = tmp_path / "certs"
    allowed.mkdir()
    (allowed / "escape").symlink_to("/etc/passwd")
    assert "resolving to '/etc/passwd'" in refusal("ssl.key.location", str(allowed / "escape"), (allowed,))
    refusal("ssl.key.location", f"{allowed}/../../etc/passwd", (allowed,))
    refusal("ssl.key.location", str(tmp_path / "certs-not"), (allowed,))  # a sibling sharing the prefix
    assert "none" in refusal("ssl.key.location", str(allowed / "key.pem"))  # nothing allowed by default
    table_with((allowed,), **{"ssl.ca.location": "probe"})  # OpenSSL's system CA paths


def test_unknown_path_like_properties_are_treated_as_paths(tmp_path: Path) -> None:
    assert "allowed_file_dirs" in refusal(PROP + "some.future.location", "/etc/shadow", (tmp_path,))


def test_the_newer_stream_config_maps_location_is_named_too() -> None:
    schema, table = seed_configs("t")
    stream = table["tableIndexConfig"].pop("streamConfigs")
    table["ingestionConfig"] = {"streamIngestionConfig": {"streamConfigMaps": [
        stream | {PROP + "plugin.library.paths": "/tmp/evil.so"}]}}
    with pytest.raises(ConfigError) as caught:
        parse_table_config(table, {"t": parse_schema(schema)})
    assert str(caught.value).startswith("ingestionConfig.streamIngestionConfig.streamConfigMaps[0]."
                                        f"{PROP}plugin.library.paths is refused")


def probe(**stream: str) -> None:
    schema_doc, table_doc = seed_configs("t", **{"stream.kafka.broker.list": "127.0.0.1:1", **stream})
    schema = parse_schema(schema_doc)
    spec = TableSpec(parse_table_config(table_doc, {"t": schema}), schema, "uid")
    probe_clients(spec.consumer_factory(), spec.config.stream)


def test_what_librdkafka_rejects_is_a_config_error_on_the_key_it_names() -> None:
    with pytest.raises(ConfigError) as caught:
        probe(**{PROP + "fetch.wait.max.msz": "1"})
    assert str(caught.value) == (f"{STREAM}.{PROP}fetch.wait.max.msz is rejected by librdkafka: "
                                 'No such configuration property: "fetch.wait.max.msz"')
    with pytest.raises(ConfigError) as caught:
        probe(**{PROP + "fetch.wait.max.ms": "99999999"})
    assert caught.value.path == f"{STREAM}.{PROP}fetch.wait.max.ms"
    assert "outside allowed range" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        probe(**{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "NOPE"})
    assert caught.value.path == f"{STREAM}.sasl.mechanism"


def test_a_valid_config_builds_and_closes_its_clients_in_milliseconds() -> None:
    import time

    probe()  # the first call imports the Kafka module
    started = time.perf_counter()
    for _ in range(10):
        probe(**{PROP + "fetch.wait.max.ms": "100", "sasl.password": "unused-here"})
    assert (time.perf_counter() - started) / 10 < 0.05


def test_librdkafka_messages_never_carry_secret_values() -> None:
    stream = table_with(**{"sasl.password": "hunter2-secret", "sasl.mechanism": "PLAIN"}).stream
    complaint = KafkaException(KafkaError(KafkaError._INVALID_ARG,
                                          'Invalid value "hunter2-secret" for "sasl.mechanism"'))
    error = librdkafka_rejection(complaint, stream)
    assert "hunter2-secret" not in str(error) and "********" in str(error)
    assert error.path == f"{STREAM}.sasl.mechanism"


def test_parse_errors_never_quote_secret_values() -> None:
    secret = "hunter2-secret"
    with pytest.raises(ConfigError) as caught:
        table_with(**{"sasl.password": secret, PROP + "auto.offset.reset": secret})
    assert secret not in str(caught.value) and "********" in str(caught.value)


def test_realpath_is_used_for_allowed_directories_too(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "alias")
    table_with((tmp_path / "alias",), **{"ssl.key.location": str(real / "key.pem")})
