"""The host is not the user's to command: through a real server, configs cannot load code, run commands or
read files outside the allowed directories; what librdkafka rejects is a 400; secrets never come back out;
only authenticated callers get in; bodies and names are bounded; one server and one writer per file."""

from __future__ import annotations

import os
import posixpath
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pinotdb
import pytest

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs, student_record
from ingestd.devtools.server_process import IngestdServer
from ingestd.ledger import LedgerLocked, OffsetLedger
from tests.support.tables import create_table

STREAM = "tableIndexConfig.streamConfigs"
PROP = "stream.kafka.consumer.prop."
PASSWORD = "correct horse battery staple"
TOKEN = "a-bearer-token-of-some-length"
MAX_BODY = 16_384
SECRETS = {"sasl.password": "kafka-pass-123", "ssl.key.pem": "-----BEGIN PRIVATE KEY-----XYZ",
           "sasl.oauthbearer.client.secret": "oauth-secret-456", PROP + "ssl.keystore.password": "store-789"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("certs")


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, certs: Path) -> Iterator[IngestdServer]:
    """One server with users, tokens, a small body limit and one allowed certificate directory."""
    instance = IngestdServer(tmp_path_factory.mktemp("secured"), toml={
        "auth": {"users": {"alice": PASSWORD}, "tokens": [TOKEN]},
        "http": {"max_body_bytes": MAX_BODY},
        "security": {"allowed_file_dirs": [str(certs)]},
    }, auth=("alice", PASSWORD))
    instance.start()
    yield instance
    try:
        instance.stop()
    finally:
        instance.kill9()


def table_config(name: str, kafka: KafkaBroker | None = None, **stream: str) -> dict[str, Any]:
    broker = {"stream.kafka.broker.list": kafka.bootstrap if kafka else "127.0.0.1:1",
              "stream.kafka.topic.name": name}
    return seed_configs(name, **broker, **stream)[1]


def error_of(server: IngestdServer, path: str, document: Any, status: int = 400) -> str:
    response = server.post(path, document)
    assert response.status_code == status, response.text
    return str(response.json()["error"])


REFUSED = [
    (PROP + "plugin.library.paths", "/tmp/evil.so", "load a shared library"),
    ("sasl.kerberos.kinit.cmd", "touch /tmp/owned", "shell command"),
    (PROP + "sasl.kerberos.kinit.cmd", "touch /tmp/owned", "shell command"),
    ("ssl.engine.location", "/tmp/engine.so", "load a shared library"),
    (PROP + "ssl.engine.id", "dynamic", "OpenSSL engine"),
    ("ssl.providers", "default,/tmp/evil", "provider modules"),
    (PROP + "offset.store.path", "/tmp", "write offset files"),
    (PROP + "offset.store.method", "file", "write offset files"),
    ("sasl.oauthbearer.metadata.authentication.type", "aws_iam", "cloud identity"),
    ("sasl.kerberos.principal", "me$(touch /tmp/owned)", "kinit shell command"),
    (PROP + "logger", "x", "application callback"),
    (PROP + "error_cb", "x", "application callback"),
    ("sasl.jaas.config", 'org.apache.kafka.common.security.plain.PlainLoginModule password="p";',
     "JAAS"),
    ("ssl.ca.location", "/etc/passwd", "allowed_file_dirs"),
    ("sasl.kerberos.keytab", "/etc/krb5.keytab", "allowed_file_dirs"),
    (PROP + "ssl.key.location", "/proc/self/environ", "allowed_file_dirs"),
]


def test_refused_client_properties_answer_400_naming_the_full_key_path(secured: IngestdServer) -> None:
    schema, _ = seed_configs("refused")
    assert secured.post("/schemas", schema).status_code == 200
    for key, value, reason in REFUSED:
        error = error_of(secured, "/tables", table_config("refused", **{key: value}))
        assert error.startswith(f"{STREAM}.{key} is refused: ") and reason in error, error
    escape = secured.workdir / "escape.pem"
    escape.symlink_to("/etc/passwd")
    error = error_of(secured, "/tables", table_config("refused", **{"ssl.ca.location": str(escape)}))
    assert "resolving to '/etc/passwd'" in error and "[security]" in error
    assert "refused" not in secured.get("/tables")["tables"]


def test_what_librdkafka_rejects_is_400_and_the_coordinator_lives_on(secured: IngestdServer,
                                                                     kafka: KafkaBroker) -> None:
    schema, _ = seed_configs("typo")
    assert secured.post("/schemas", schema).status_code == 200
    error = error_of(secured, "/tables", table_config("typo", **{PROP + "fetch.wait.max.msz": "100"}))
    assert error == (f"{STREAM}.{PROP}fetch.wait.max.msz is rejected by librdkafka: "
                     'No such configuration property: "fetch.wait.max.msz"')
    error = error_of(secured, "/tables", table_config("typo", **{PROP + "fetch.wait.max.ms": "-5"}))
    assert error.startswith(f"{STREAM}.{PROP}fetch.wait.max.ms is rejected by librdkafka")
    secret = "s3cret-value-here"
    error = error_of(secured, "/tables", table_config("typo", **{
        "sasl.password": secret, PROP + "auto.offset.reset": secret}))
    assert secret not in error and "********" in error
    kafka.create_topic("typo", 1)  # the stream is checked once the config is
    assert secured.post("/tables", table_config("typo", kafka)).status_code == 200
    wait_until(lambda: secured.get("/tables/typo/status")["state"] in ("CONSUMING", "WAITING_FOR_STREAM",
                                                                       "STALLED"), what="status answers")
    assert secured.http.delete(secured.url + "/tables/typo").status_code == 200


def test_secrets_are_masked_and_allowed_files_work_end_to_end(
        secured: IngestdServer, kafka: KafkaBroker, unique_name: str, certs: Path) -> None:
    create_table(secured, kafka, unique_name, 1, **SECRETS, **{
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
        PROP + "ssl.ca.location": str(certs / "ca.pem")})  # allowed; unused over PLAINTEXT
    kafka.publish(unique_name, (student_record(i) for i in range(25)))
    wait_until(lambda: secured.count(unique_name) == 25, what="25 rows through the secured server")

    response = secured.http.get(f"{secured.url}/tables/{unique_name}")
    streams = response.json()["REALTIME"]["tableIndexConfig"]["streamConfigs"]
    assert all(streams[key] == "********" for key in SECRETS)
    assert streams[PROP + "ssl.ca.location"] == str(certs / "ca.pem")
    assert not any(secret in response.text for secret in SECRETS.values())
    metadata = secured.data_dir / "metadata"
    assert stat.S_IMODE(metadata.stat().st_mode) == 0o700  # the stored copy keeps them, privately
    stored = orjson.loads((metadata / "tables" / f"{unique_name}.json").read_bytes())
    assert stored["config"]["tableIndexConfig"]["streamConfigs"]["sasl.password"] == SECRETS["sasl.password"]

    connection = pinotdb.connect(host="127.0.0.1", port=secured.port, path="/query/sql", scheme="http",
                                 username="alice", password=PASSWORD)
    cursor = connection.cursor()
    cursor.execute(f"SELECT COUNT(*) FROM {unique_name}")
    assert cursor.fetchone()[0] == 25
    anonymous = pinotdb.connect(host="127.0.0.1", port=secured.port, path="/query/sql", scheme="http")
    with pytest.raises(pinotdb.exceptions.Error):
        anonymous.cursor().execute(f"SELECT COUNT(*) FROM {unique_name}")


GUARDED = [("GET", "/schemas"), ("POST", "/schemas"), ("GET", "/schemas/x"), ("DELETE", "/schemas/x"),
           ("GET", "/tables"), ("POST", "/tables"), ("GET", "/tables/x"), ("DELETE", "/tables/x"),
           ("GET", "/tables/x/status"), ("GET", "/segments/x"), ("GET", "/segments/x/y/metadata"),
           ("POST", "/query/sql"), ("GET", "/query/sql?sql=SELECT%201"), ("GET", "/openapi.json"),
           ("GET", "/docs"), ("GET", "/no/such/route")]


def test_every_route_but_health_needs_a_user_or_a_token(secured: IngestdServer) -> None:
    with httpx.Client(base_url=secured.url, timeout=30) as anonymous:
        for method, path in GUARDED:
            response = anonymous.request(method, path, content=b"{}")
            assert response.status_code == 401, (method, path, response.text)
            assert response.headers.get_list("www-authenticate") == ['Basic realm="ingestd"',
                                                                     'Bearer realm="ingestd"']
            assert response.json()["code"] == 401
        assert anonymous.get("/health").text == "OK"
        assert anonymous.get("/tables", auth=("alice", PASSWORD + "!")).status_code == 401
        assert anonymous.get("/tables", auth=("mallory", PASSWORD)).status_code == 401
        assert anonymous.get("/tables", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
        assert anonymous.get("/tables", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert anonymous.get("/tables", auth=("alice", PASSWORD)).status_code == 200
        # a stranger's body is never read: 401 even when it is over the size limit
        assert anonymous.post("/tables", content=b" " * (MAX_BODY * 4)).status_code == 401


def test_the_cli_authenticates_with_options_or_environment(secured: IngestdServer, kafka: KafkaBroker,
                                                           tmp_path: Path) -> None:
    kafka.create_topic("clitable", 1)
    table = table_config("clitable", kafka)
    schema, _ = seed_configs("clitable")
    (tmp_path / "schema.json").write_bytes(orjson.dumps(schema))
    (tmp_path / "table.json").write_bytes(orjson.dumps(table))
    ingestd = [sys.executable, "-m", "ingestd"]
    add = [*ingestd, "add-table", "--schema-file", str(tmp_path / "schema.json"),
           "--table-config-file", str(tmp_path / "table.json"), "--url", secured.url]
    bare_env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}

    def run(arguments: list[str], **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(arguments, capture_output=True, text=True, timeout=60, env=bare_env | env)

    refused = run(add)
    assert refused.returncode == 1 and "401" in refused.stderr
    added = run([*add, "--user", "alice", "--password", PASSWORD])
    assert added.returncode == 0, added.stderr
    assert "Table clitable_REALTIME successfully added" in added.stdout
    sql = "SELECT COUNT(*) FROM clitable"
    assert run([*ingestd, "query", sql, "--url", secured.url], INGESTD_TOKEN=TOKEN).returncode == 0
    by_env = run([*ingestd, "query", sql, "--url", secured.url],
                 INGESTD_USER="alice", INGESTD_PASSWORD=PASSWORD)
    assert by_env.returncode == 0 and "count(*)" in by_env.stdout, by_env.stderr
    wrong = run([*ingestd, "query", sql, "--url", secured.url, "--user", "alice", "--password", "nope"])
    assert wrong.returncode == 1 and "401" in wrong.stderr
    assert secured.http.delete(secured.url + "/tables/clitable").status_code == 200


def test_request_bodies_over_the_limit_are_413_declared_or_chunked(secured: IngestdServer) -> None:
    big = b" " * (MAX_BODY + 1)
    declared = secured.http.post(secured.url + "/schemas", content=big)
    assert declared.status_code == 413 and declared.json() == {
        "code": 413, "error": f"the request body is larger than {MAX_BODY} bytes (the server's "
                              "[http] max_body_bytes)"}

    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY // 1000 + 2):
            yield b" " * 1000

    chunked = secured.http.post(secured.url + "/query/sql", content=chunks())
    assert chunked.status_code == 413 and chunked.json()["code"] == 413
    padded = orjson.dumps({"sql": "SELECT 1"}) + b" " * (MAX_BODY - 40)
    assert len(padded) <= MAX_BODY
    assert secured.http.post(secured.url + "/query/sql", content=padded).status_code == 200


BAD_NAMES = ["a\x00b", "tab\tle", "x" * 256, "_REALTIME"]


def test_bad_names_are_400_naming_the_field_and_bad_path_names_never_500(secured: IngestdServer) -> None:
    for name in BAD_NAMES:
        schema, table = seed_configs("names")
        table["tableName"] = name
        assert error_of(secured, "/tables", table).startswith("tableName ")
        schema["schemaName"] = name
        if name != "_REALTIME":  # a legal schema name
            assert error_of(secured, "/schemas", schema).startswith("schemaName ")
        schema, _ = seed_configs("names")
        schema["dimensionFieldSpecs"][0]["name"] = name
        if name != "_REALTIME":
            assert error_of(secured, "/schemas", schema).startswith("dimensionFieldSpecs[0].name ")
    for raw in ("%00", "a%00b", "_REALTIME", "x" * 300, "%0A", "%FF", "..", "a%2Fb"):
        for method, path in (("GET", f"/tables/{raw}"), ("GET", f"/tables/{raw}/status"),
                             ("DELETE", f"/tables/{raw}"), ("GET", f"/schemas/{raw}"),
                             ("DELETE", f"/schemas/{raw}"), ("GET", f"/segments/{raw}"),
                             ("GET", f"/segments/{raw}/{raw}/metadata")):
            status = secured.http.request(method, secured.url + path).status_code
            # httpx sends /tables/.. and the like as /: the console's redirect (GET), nothing to delete (405)
            root = posixpath.normpath(path) == "/" and status == {"GET": 307, "DELETE": 405}[method]
            assert status in (400, 404) or root, (method, path, status)
    assert all(name.isprintable() and name for name in secured.get("/tables")["tables"])


def test_one_server_per_data_dir_and_one_writer_per_ledger(
        kafka: KafkaBroker, tmp_path: Path, unique_name: str) -> None:
    (tmp_path / "first").mkdir()
    first = IngestdServer(tmp_path / "first", toml={"http": {"host": "0.0.0.0"}})
    first.start()
    try:
        assert "without authentication" in first.log.read_text()  # exposed and open: warned
        create_table(first, kafka, unique_name, 1, **{PROP + "auto.offset.reset": "smallest",
                                                      "realtime.segment.flush.threshold.rows": "10"})
        kafka.publish(unique_name, (student_record(i) for i in range(30)))
        wait_until(lambda: first.count(unique_name) == 30, what="30 rows")

        (tmp_path / "second").mkdir()
        second = IngestdServer(tmp_path / "second", data_dir=first.data_dir)
        with pytest.raises(RuntimeError, match="exited with 1"):
            second.start()
        assert first.process is not None
        message = second.log.read_text()
        assert f"data_dir {first.data_dir} is in use by another ingestd server (pid {first.process.pid})" \
            in message, message

        ledger = next(first.data_dir.rglob("ledger.bin"))
        with pytest.raises(LedgerLocked, match="being written by another process"):
            OffsetLedger(ledger, wait_s=0.2)
        first.kill9()  # the kernel releases both locks with the processes
        OffsetLedger(ledger, wait_s=5).close()
        first.start()
        wait_until(lambda: first.count(unique_name) == 30, what="30 rows after kill -9 and restart")
    finally:
        first.stop()
        first.kill9()
