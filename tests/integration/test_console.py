"""The web console in a real browser: headless Chromium (Debian's `chromium`, installed by .ci/run) loads
/ui from a real server with authentication and a table, and the DOM after its scripts ran shows the
table, its partitions and a query's result rows (`?sql=` fills the SQL box and runs it); a screenshot
is saved. Without chromium these tests fail: they are never skipped."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import student_record
from ingestd.devtools.server_process import IngestdServer
from tests.support.tables import create_table

USER, PASSWORD = "alice", "console-password-1"
TABLE = "console_demo"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# the flags Chromium needs on this closed network, as root, with a fresh profile per run
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,900", "--virtual-time-budget=10000"]
_profiles = itertools.count()


class Rows(HTMLParser):
    """The rows of the DOM's tables: (the row's attributes, its cells' texts)."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.rows: list[tuple[dict[str, str | None], list[str]]] = []
        self._cell: list[str] | None = None
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append((dict(attrs), []))
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1][1].append("".join(self._cell))
            self._cell = None

    def of_class(self, name: str) -> list[list[str]]:
        return [cells for attrs, cells in self.rows if attrs.get("class") == name]


def chromium(tmp_path: Path, url: str, *extra: str) -> str:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (.ci/run does)")
    profile = tmp_path / f"chromium-profile-{next(_profiles)}"
    done = subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *extra, url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory, kafka: KafkaBroker) -> Iterator[IngestdServer]:
    instance = IngestdServer(tmp_path_factory.mktemp("console"), toml={"auth": {"users": {USER: PASSWORD}}},
                             auth=(USER, PASSWORD))
    instance.start()
    try:
        create_table(instance, kafka, TABLE, 2,
                     **{"stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
        kafka.publish(TABLE, (student_record(i, subject=("Maths", "Physics", "Physics")[i % 3])
                              for i in range(30)), partitions=2)
        wait_until(lambda: instance.count(TABLE) == 30, what="30 rows")
        status = f"/tables/{TABLE}/status"
        wait_until(lambda: [p.get("currentOffset") for p in instance.get(status)["partitions"]] == [15, 15],
                   what="the workers to report offset 15 (every second)")
        yield instance
    finally:
        try:
            instance.stop()
        finally:
            instance.kill9()


def page_url(server: IngestdServer, sql: str | None = None) -> str:
    """The console as a user opens it, credentials in the URL (the browser's Basic login)."""
    query = f"?sql={quote(sql)}" if sql else ""
    return f"http://{USER}:{PASSWORD}@127.0.0.1:{server.port}/ui{query}"


def test_the_console_is_served_behind_the_same_authentication(console_server: IngestdServer) -> None:
    with httpx.Client(base_url=console_server.url, timeout=10) as anonymous:
        for path in ("/", "/ui", "/ui/console.js", "/ui/console.css"):
            refused = anonymous.get(path)
            assert refused.status_code == 401, path
            assert 'Basic realm="ingestd"' in refused.headers.get_list("www-authenticate")
        signed_in = httpx.Client(base_url=console_server.url, timeout=10, auth=(USER, PASSWORD))
        root = signed_in.get("/")
        assert root.status_code == 307 and root.headers["location"] == "/ui"
        page = signed_in.get("/ui")
        assert page.headers["content-type"].startswith("text/html") and "/ui/console.js" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert signed_in.get("/ui/console.js").headers["content-type"].startswith("text/javascript")
        assert signed_in.get("/ui/console.css").headers["content-type"].startswith("text/css")
        assert signed_in.get("/ui/secrets.txt").status_code == 404


def test_the_console_renders_the_tables_and_partitions_and_runs_the_sql_box(
        console_server: IngestdServer, tmp_path: Path) -> None:
    sql = f"SELECT subject, COUNT(*) AS n FROM {TABLE} GROUP BY subject ORDER BY n DESC"
    dom = chromium(tmp_path, page_url(console_server, sql), "--dump-dom")
    assert f'data-table="{TABLE}"' in dom
    rows = Rows(dom)
    header = next(cells for attrs, cells in rows.rows if cells[:3] == ["Partition", "Worker", "State"])
    partitions = [dict(zip(header, cells, strict=True)) for cells in rows.of_class("partition")]
    assert [p["Partition"] for p in partitions] == ["0", "1"]
    assert {p["State"] for p in partitions} == {"CONSUMING"}
    assert [p["Current offset"] for p in partitions] == ["15", "15"]
    assert rows.of_class("result-row") == [["Physics", "20"], ["Maths", "10"]]
    assert 'id="tables-error" class="error" hidden' in dom and "Cannot read" not in dom

    failing = chromium(tmp_path, page_url(console_server, f"SELECT nosuch FROM {TABLE}"), "--dump-dom")
    assert 'class="error exception"' in failing and "error 710" in failing
    assert Rows(failing).of_class("result-row") == []


def test_a_screenshot_of_the_console(console_server: IngestdServer, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "console.png"
    screenshot.unlink(missing_ok=True)
    sql = (f"SELECT subject, COUNT(*) AS n, AVG(score) AS avg_score FROM {TABLE} "
           "GROUP BY subject ORDER BY n DESC")
    chromium(tmp_path, page_url(console_server, sql), f"--screenshot={screenshot}")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 10_000
    print(f"console screenshot: {screenshot}")
