"""The catalog applies the client-property policy on upload and on restore, and keeps configs private."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson
import pytest

from ingestd.catalog import Catalog
from ingestd.devtools.seed import seed_configs
from ingestd.errors import ConfigError
from ingestd.paths import DataPaths

PROP = "stream.kafka.consumer.prop."


def catalog_with_schema(root: Path, allowed: tuple[Path, ...] = ()) -> Catalog:
    catalog = Catalog(DataPaths(root), allowed)
    catalog.load()
    catalog.put_schema(seed_configs("t")[0])
    return catalog


def test_a_stored_config_the_policy_refuses_is_not_restored(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    catalog = catalog_with_schema(tmp_path)
    _, table = seed_configs("t", **{"stream.kafka.broker.list": "127.0.0.1:1"})
    catalog.put_table(table)
    stored = catalog._paths.tables / "t.json"  # as written before the policy existed
    document = orjson.loads(stored.read_bytes())
    document["config"]["tableIndexConfig"]["streamConfigs"][PROP + "plugin.library.paths"] = "/tmp/evil.so"
    stored.write_bytes(orjson.dumps(document))
    restarted = Catalog(DataPaths(tmp_path))
    restarted.load()
    assert restarted.tables == {} and "plugin.library.paths is refused" in caplog.text


def test_file_paths_follow_the_allowed_directories_given_to_the_catalog(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    _, table = seed_configs("t", **{"stream.kafka.broker.list": "127.0.0.1:1",
                                    "ssl.ca.location": str(certs / "ca.pem")})
    with pytest.raises(ConfigError, match="allowed_file_dirs"):
        catalog_with_schema(tmp_path / "a").put_table(table)
    assert catalog_with_schema(tmp_path / "b", (certs,)).put_table(table).name == "t"


def test_what_librdkafka_rejects_is_never_stored(tmp_path: Path) -> None:
    catalog = catalog_with_schema(tmp_path)
    _, table = seed_configs("t", **{"stream.kafka.broker.list": "127.0.0.1:1",
                                    PROP + "fetch.wait.max.msz": "1"})
    with pytest.raises(ConfigError, match=r"prop\.fetch\.wait\.max\.msz is rejected by librdkafka"):
        catalog.put_table(table)
    assert catalog.tables == {} and not list(catalog._paths.tables.glob("*.json"))


def test_stored_configs_are_private_to_the_servers_user(tmp_path: Path) -> None:
    catalog = catalog_with_schema(tmp_path)
    _, table = seed_configs("t", **{"stream.kafka.broker.list": "127.0.0.1:1", "sasl.password": "hunter2!"})
    catalog.put_table(table)
    metadata = tmp_path / "metadata"
    assert stat.S_IMODE(metadata.stat().st_mode) == 0o700
