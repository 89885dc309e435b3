"""Secret-bearing config values: the key rule, masking at any depth, and scrubbing messages."""

from __future__ import annotations

import pytest

from ingestd.redact import MASK, is_secret_key, mask_secrets, scrub, secret_values

SECRET_KEYS = [
    "sasl.password", "stream.kafka.consumer.prop.sasl.password", "ssl.key.password", "ssl.keystore.password",
    "ssl.key.pem", "sasl.oauthbearer.client.secret", "sasl.oauthbearer.client.credentials.client.secret",
    "sasl.oauthbearer.assertion.private.key.pem", "sasl.oauthbearer.assertion.private.key.passphrase",
    "sasl.jaas.config", "sasl.oauthbearer.config", "accessToken", "api_key", "password", "DB_PASSWD",
]
PLAIN_KEYS = [
    "sasl.username", "ssl.key.location", "ssl.certificate.pem", "ssl.ca.pem", "sasl.mechanism",
    "sasl.oauthbearer.token.endpoint.url", "sasl.oauthbearer.client.id", "stream.kafka.broker.list",
    "sasl.oauthbearer.assertion.private.key.file", "tableName",
]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", PLAIN_KEYS)
def test_plain_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_masking_reaches_every_depth_and_leaves_the_rest_alone() -> None:
    document = {"tableName": "t", "tableIndexConfig": {"streamConfigs": {
        "sasl.password": "hunter2", "sasl.username": "bob", "ssl.key.pem": {"odd": "shape"}}},
        "metadata": {"customConfigs": [{"apiToken": 12345}]}, "empty": {"password": None}}
    masked = mask_secrets(document)
    assert masked == {"tableName": "t", "tableIndexConfig": {"streamConfigs": {
        "sasl.password": MASK, "sasl.username": "bob", "ssl.key.pem": MASK}},
        "metadata": {"customConfigs": [{"apiToken": MASK}]}, "empty": {"password": None}}
    assert document["tableIndexConfig"]["streamConfigs"]["sasl.password"] == "hunter2"  # a copy


def test_scrub_removes_plain_and_repr_forms_and_leaves_short_values() -> None:
    secrets = list(secret_values({"a": {"sasl.password": "two\nlines", "token": "abc"}}))
    assert secrets == ["two\nlines", "abc"]
    message = f"got {secrets[0]} and {secrets[0]!r} and abc"
    assert scrub(message, secrets) == f"got {MASK} and '{MASK}' and abc"


def test_passwords_in_urls_are_masked_wherever_they_are() -> None:
    masked = mask_secrets({"stream.kafka.decoder.prop.schema.registry.rest.url":
                           "https://alice:s3cr3t@registry:8081,http://registry2:8081",
                           "plain": "http://host:9000/path"})
    assert masked["stream.kafka.decoder.prop.schema.registry.rest.url"] == \
        "https://alice:********@registry:8081,http://registry2:8081"
    assert masked["plain"] == "http://host:9000/path"
