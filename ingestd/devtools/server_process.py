"""A real `ingestd start --config` process on free ports, restartable and killable (kill -9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from ingestd.devtools.local_broker import free_port
from ingestd.devtools.polling import wait_until


class IngestdServer:
    def __init__(self, workdir: Path, workers: int = 2) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.data_dir = workdir / "data"
        self.config = workdir / "ingestd.toml"
        self.config.write_text(f'data_dir = "{self.data_dir}"\n[http]\nport = {self.port}\n'
                               f"[workers]\ncount = {workers}\n")
        self.log = workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(timeout=30)  # one connection, as a dashboard or client library keeps

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
