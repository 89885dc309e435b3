"""Each decoder at the speed of the wire: one worker ingesting a backlog end to end, against the raw
consume rate of the same topic in the same run.

    python -m perf.decoders [--messages N] [--partitions P] [--runs R] [--decoders json,simple,...] [--quick]

For each decoder (JSON, and the three Avro wire formats: plain records, Pinot's MD5 framing, Confluent's
schema-id framing) a run publishes N seed-shaped messages, measures raw consume (`consume(10000)` +
`value()`, ingestd's client settings) of that topic, then one ingestd worker until every row is counted
and sealed. The ingest clock starts when the table's first partition starts consuming (as raw consume's
starts after its connection set-up); the figure from table creation (HTTP, assignment, worker start
included: ~1 s, a third of a 2M-message run) is kept beside it. The registries the Avro decoders ask
are the test registry server (tests/support/schema_registry.py) in this process. R runs, each with its
own broker; the figures are the median of the runs with the spread (min-max), never the best run.
Writes perf/results/<date>-decoders.json.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingestd.devtools.local_broker import KafkaBroker
from perf.avro_variant import FRAMES, SEED_AVRO_TEXT, publish_avro
from perf.measures import RESULTS, end_to_end, raw_consume, write_result
from perf.runs import figure, summarize
from perf.workload import publish_fast
from tests.support.schema_registry import SchemaRegistryServer

_DECODER = "stream.kafka.decoder.class.name"
_AVRO = "org.apache.pinot.plugin.inputformat.avro."
DECODERS = ("json", "simple", "kafka_md5", "confluent")
VARIANTS = {"json_pyarrow": "the JSON decoder on its pyarrow engine (INGESTD_JSON_ENGINE=pyarrow)"}


def stream_config(decoder: str, registry: SchemaRegistryServer) -> dict[str, str]:
    if decoder.startswith("json"):
        return {}
    if decoder == "simple":
        return {_DECODER: _AVRO + "SimpleAvroMessageDecoder",
                "stream.kafka.decoder.prop.schema": SEED_AVRO_TEXT}
    if decoder == "kafka_md5":
        return {_DECODER: _AVRO + "KafkaAvroMessageDecoder",
                "stream.kafka.decoder.prop.schema.registry.rest.url": registry.url}
    return {_DECODER: _AVRO + "confluent.KafkaConfluentSchemaRegistryAvroMessageDecoder",
            "stream.kafka.decoder.prop.schema.registry.rest.url": registry.url}


def one_run(decoders: list[str], count: int, partitions: int) -> dict[str, Any]:
    kafka = KafkaBroker.start()
    result: dict[str, Any] = {"messages": count, "partitions": partitions}
    try:
        with SchemaRegistryServer() as registry:
            for decoder in decoders:
                topic = f"perf-decode-{decoder}"
                kafka.create_topic(topic, partitions)
                if decoder.startswith("json"):
                    publish_fast(kafka.bootstrap, topic, count, partitions)
                else:
                    if decoder == "confluent":
                        assert registry.register(f"{topic}-value", SEED_AVRO_TEXT) == 1
                    if decoder == "kafka_md5":
                        registry.add_md5_schema(topic, SEED_AVRO_TEXT)
                    publish_avro(kafka.bootstrap, topic, count, partitions, FRAMES[decoder])
                raw = raw_consume(kafka.bootstrap, topic, partitions, count)
                engine = {"INGESTD_JSON_ENGINE": "pyarrow"} if decoder == "json_pyarrow" else {}
                with _environment(engine):  # the server's processes inherit it
                    ingest = end_to_end(kafka, topic, count, partitions, workers=1,
                                        stream=stream_config(decoder, registry))
                steady = ingest["msg_per_s_from_first_partition"] or 0
                worker_cores = sum(v for k, v in ingest["cores_used"].items() if k.startswith("worker"))
                result[decoder] = {"raw_consume_msg_per_s": round(raw),
                                   "ingest_msg_per_s": steady, "ratio_to_raw": round(steady / raw, 3),
                                   "ingest_from_create_msg_per_s": ingest["msg_per_s"],
                                   "ratio_from_create_to_raw": round(ingest["msg_per_s"] / raw, 3),
                                   "worker_cores": round(worker_cores, 2), "cores_used": ingest["cores_used"]}
                print(f"  {decoder:<10} raw {raw:>12,.0f}  ingest {steady:>10,} ({steady / raw:.2f})  "
                      f"from table creation {ingest['msg_per_s']:>10,} ({ingest['msg_per_s'] / raw:.2f})  "
                      f"worker cores {worker_cores:.2f}", flush=True)
    finally:
        kafka.stop()
    return result


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main() -> None:
    parser = argparse.ArgumentParser(description="each decoder end to end against raw consume")
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--decoders", default=",".join(DECODERS),
                        help=f"any of {', '.join(DECODERS + tuple(VARIANTS))}")
    parser.add_argument("--quick", action="store_true", help="a small run: checks it completes")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.messages, args.partitions, args.runs = 20_000, 2, 1
    decoders = [d for d in args.decoders.split(",") if d]
    runs = []
    for number in range(args.runs):
        print(f"run {number + 1}/{args.runs}: {args.messages:,} messages per decoder", flush=True)
        runs.append(one_run(decoders, args.messages, args.partitions))
    summary = summarize(runs)
    print(f"\nmedian (min-max) of {len(runs)} run(s), one worker, {args.messages:,} messages, "
          f"{args.partitions} partitions")
    print(f"  {'decoder':<10}{'raw consume msg/s':>28}{'ingest msg/s':>28}{'ratio to raw':>20}"
          f"{'ratio from creation':>22}{'worker cores':>20}")
    for decoder in decoders:
        print(f"  {decoder:<10}{figure(summary, decoder + '.raw_consume_msg_per_s'):>28}"
              f"{figure(summary, decoder + '.ingest_msg_per_s'):>28}"
              f"{figure(summary, decoder + '.ratio_to_raw', 2):>20}"
              f"{figure(summary, decoder + '.ratio_from_create_to_raw', 2):>22}"
              f"{figure(summary, decoder + '.worker_cores', 2):>20}")
    path = write_result({"runs": runs, "summary": summary, "unix_time": time.time()},
                        "decoders" + "-quick" * args.quick, args.output)
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
