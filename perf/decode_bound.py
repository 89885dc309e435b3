"""How close to the raw consume rate can any JSON ingest get? consume + polars decode alone, no ingestd.

    python -m perf.decode_bound [--runs 3] [--messages 2000000]

One process, one assign()ed consumer per partition (4), ingestd's client settings, a backlog of seed rows:
(1) raw consume (`consume(10000, 0)` + `value()`), (2) the same plus polars `read_ndjson` of each batch and
`to_arrow()` (what the JSON decoder's parse costs, nothing else), (3) as (2) with the next batch consumed on a
prefetch thread while a batch decodes. Each run uses fresh consumers over the same topic; medians across runs
with the min-max. It bounds what a worker's JSON path can reach: (2) / (1). Writes
perf/results/<time>-decode-bound.json.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

import polars as pl
from confluent_kafka import Consumer, TopicPartition

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.stream.kafka import CONSUMER_DEFAULTS
from perf.measures import write_result
from perf.runs import figure, summarize
from perf.workload import publish_fast

PARTITIONS = 4
SCHEMA = {"studentID": pl.Int32, "firstName": pl.Categorical, "lastName": pl.Categorical,
          "gender": pl.Categorical, "subject": pl.Categorical, "score": pl.Float32, "timestamp": pl.Int64}


def consumers(bootstrap: str, topic: str) -> list[Consumer]:
    made = []
    for partition in range(PARTITIONS):
        consumer = Consumer(CONSUMER_DEFAULTS | {"bootstrap.servers": bootstrap, "group.id": "perf-bound",
                                                 "enable.auto.commit": False})
        consumer.assign([TopicPartition(topic, partition, 0)])
        made.append(consumer)
    return made


def fetch(consumer: Consumer) -> list[Any]:
    return [message.value() for message in consumer.consume(10_000, 0)]


def decode(values: list[Any]) -> None:
    pl.read_ndjson(b"\n".join(values), schema=SCHEMA).to_arrow()


def raw(made: list[Consumer], total: int) -> float:
    count, started = 0, time.perf_counter()
    while count < total:
        for consumer in made:
            count += len(fetch(consumer))
    return total / (time.perf_counter() - started)


def decoded(made: list[Consumer], total: int) -> float:
    count, started = 0, time.perf_counter()
    while count < total:
        for consumer in made:
            values = fetch(consumer)
            if values:
                decode(values)
                count += len(values)
    return total / (time.perf_counter() - started)


def prefetched(made: list[Consumer], total: int) -> float:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        ahead = [pool.submit(fetch, consumer) for consumer in made]
        count, started = 0, time.perf_counter()
        while count < total:
            for index, consumer in enumerate(made):
                values = ahead[index].result()
                ahead[index] = pool.submit(fetch, consumer)
                if values:
                    decode(values)
                    count += len(values)
        rate = total / (time.perf_counter() - started)
        for future in ahead:
            future.result()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--messages", type=int, default=2_000_000)
    args = parser.parse_args()
    kafka = KafkaBroker.start()
    modes: dict[str, Callable[[list[Consumer], int], float]] = {
        "raw": raw, "consume_and_decode": decoded, "prefetched": prefetched}
    runs = []
    try:
        publish_fast(kafka.bootstrap, "bound", args.messages, PARTITIONS)
        for _ in range(args.runs):
            run = {}
            for name, measure in modes.items():
                made = consumers(kafka.bootstrap, "bound")
                run[name] = measure(made, args.messages)
                for consumer in made:
                    consumer.close()
            run["ratio"] = run["consume_and_decode"] / run["raw"]
            run["prefetched_ratio"] = run["prefetched"] / run["raw"]
            runs.append(run)
    finally:
        kafka.stop()
    summary = summarize(runs)
    print(f"raw {figure(summary, 'raw')} msg/s; consume + polars decode "
          f"{figure(summary, 'consume_and_decode')} "
          f"= {figure(summary, 'ratio', 2)} of raw; with a prefetch thread {figure(summary, 'prefetched')} "
          f"= {figure(summary, 'prefetched_ratio', 2)}")
    print(f"result: {write_result({'runs': runs, 'summary': summary}, 'decode-bound')}")


if __name__ == "__main__":
    main()
