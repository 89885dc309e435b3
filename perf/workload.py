"""The perf workload: seed-shaped JSON messages, published as fast as possible or at a steady rate."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator

import orjson
from confluent_kafka import Producer

SUBJECTS = ["Maths", "History", "English", "Physics", "Chemistry", "Geography"]
NAMES = [("Natalie", "Jones", "Female"), ("Bob", "Lewis", "Male"), ("Jane", "Doe", "Female"),
         ("John", "Doe", "Male"), ("Nick", "Young", "Male")]
BASE_TIME_MS = 1_571_900_400_000


def message(sequence: int, timestamp_ms: int | None = None, student: int | None = None) -> bytes:
    """Row `sequence` of the workload: studentID 200 + sequence % 1000 (or `student`), names cycling over
    NAMES, subject over SUBJECTS, score (sequence % 41) / 10, timestamp BASE_TIME_MS + sequence (or
    `timestamp_ms`)."""
    first, last, gender = NAMES[sequence % len(NAMES)]
    return orjson.dumps({
        "studentID": 200 + sequence % 1000 if student is None else student,
        "firstName": first, "lastName": last, "gender": gender,
        "subject": SUBJECTS[sequence % len(SUBJECTS)], "score": (sequence % 41) / 10,
        "timestamp": BASE_TIME_MS + sequence if timestamp_ms is None else timestamp_ms,
    })


def messages(count: int) -> Iterator[bytes]:
    return (message(i) for i in range(count))


def publish_fast(bootstrap: str, topic: str, count: int, partitions: int) -> float:
    """Publish `count` seed-shaped messages round-robin; returns messages per second."""
    return publish_values(bootstrap, topic, messages(count), partitions)


def publish_values(bootstrap: str, topic: str, values: Iterable[bytes], partitions: int) -> float:
    """Publish `values` round-robin over the partitions as fast as the producer takes them (waiting
    whenever its queue is full); returns messages per second."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 10_000,
                         "queue.buffering.max.messages": 1_000_000, "queue.buffering.max.kbytes": 1_048_576})
    started = time.perf_counter()
    count = 0
    for count, value in enumerate(values, start=1):
        while True:
            try:
                producer.produce(topic, value=value, partition=(count - 1) % partitions)
                break
            except BufferError:
                producer.poll(0.01)
        if count % 20_000 == 0:
            producer.poll(0)
    producer.flush(300)
    return count / (time.perf_counter() - started)


def publish_at_rate(bootstrap: str, topic: str, rate: int, seconds: float, partitions: int,
                    stop: threading.Event | None = None) -> list[int]:
    """Publish at `rate` msg/s for `seconds` or until `stop` is set, each message carrying its publish
    time (ms) as timestamp. Returns the publish time of each message, by sequence."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
    sent: list[int] = []
    total = int(rate * seconds)
    started = time.perf_counter()
    tick = 0.005
    while len(sent) < total and not (stop is not None and stop.is_set()):
        due = min(total, int((time.perf_counter() - started) * rate) + 1)
        now_ms = time.time_ns() // 1_000_000
        for sequence in range(len(sent), due):
            producer.produce(topic, value=message(sequence, now_ms), partition=sequence % partitions)
            sent.append(now_ms)
        producer.poll(0)
        time.sleep(tick)
    producer.flush(60)
    return sent
