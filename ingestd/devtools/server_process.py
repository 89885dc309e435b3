"""A real `ingestd start --config` process on free ports, restartable and killable (kill -9).

Tests can add server settings (`toml`: sections merged over the defaults, e.g. `{"auth": {"tokens":
[...]}}`) and give the HTTP client credentials (`auth` for Basic, `token` for Bearer).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from ingestd.devtools.local_broker import free_port
from ingestd.devtools.polling import wait_until


class IngestdServer:
    def __init__(self, workdir: Path, workers: int = 2, toml: Mapping[str, Any] | None = None,
                 auth: tuple[str, str] | None = None, token: str | None = None,
                 data_dir: Path | None = None, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.data_dir = data_dir or workdir / "data"
        self.config = workdir / "ingestd.toml"
        document: dict[str, Any] = {"data_dir": str(self.data_dir), "http": {"port": self.port},
                                    "workers": {"count": workers}}
        for key, value in (toml or {}).items():
            base = document.get(key)
            merge = isinstance(base, dict) and isinstance(value, Mapping)
            document[key] = {**base, **value} if merge else value
        self.config.write_text(render_toml(document))
        self.log = workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        headers = {"Authorization": f"Bearer {token}"} if token else None
        # one connection, as a dashboard or client library keeps
        self.http = httpx.Client(timeout=30, auth=auth, headers=headers)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ingestd", "start", "--config", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_until(self._healthy, timeout_s=30, what=f"ingestd /health (log: {self.log})")

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"ingestd exited with {self.process.returncode}; see {self.log}")
        try:
            return self.http.get(self.url + "/health", timeout=1).text == "OK"
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """SIGTERM and wait: a clean shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)

    def kill9(self) -> None:
        """SIGKILL the coordinator and its workers (the whole process group) at once."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            time.sleep(0.2)

    def restart(self) -> None:
        self.stop()
        self.start()

    def get(self, path: str) -> Any:
        response = self.http.get(self.url + path)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, document: Any) -> httpx.Response:
        return self.http.post(self.url + path, json=document)

    def query(self, sql: str) -> Any:
        return self.http.post(self.url + "/query/sql", json={"sql": sql}).json()

    def count(self, table: str) -> int:
        answer = self.query(f"SELECT COUNT(*) FROM {table}")
        if answer.get("exceptions"):
            raise AssertionError(answer["exceptions"])
        return int(answer["resultTable"]["rows"][0][0])


def render_toml(document: Mapping[str, Any], section: str = "") -> str:
    """The little TOML these tests need: strings, integers, booleans, lists and (nested) tables."""
    lines = [f"[{section}]"] if section else []
    tables = []
    for key, value in document.items():
        if isinstance(value, Mapping):
            tables.append((key, value))
        else:
            lines.append(f"{json.dumps(key)} = {_toml_value(value)}")
    text = "\n".join(lines) + "\n"
    for key, value in tables:
        text += render_toml(value, f"{section}.{json.dumps(key)}" if section else json.dumps(key))
    return text


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(value)  # a JSON string or integer is valid TOML
