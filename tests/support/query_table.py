"""A deterministic, deliberately awkward seed-shaped data set for the query-correctness tests, loaded
into a real server and mirrored as an Arrow table for the DuckDB reference.

The rows mix letter case in every string column ('Maths', 'MATHS', 'maths'), repeat values (ties in
every column, whole duplicated rows), and carry negative and fractional scores. Scores sit on a 1/8
grid, so float32 stores them exactly and any sum of them is exact in a double: the order in which
partial results are added can never change an answer or the ORDER BY of a computed value.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_configs
from ingestd.devtools.server_process import IngestdServer

TABLE = "t"
ROW_COUNT = 3000
PARTITIONS = 4
SEGMENT_ROWS = 300  # per partition: every partition has sealed segments and a consuming one
FIRST_NAMES = ["Ann", "ann", "ANN", "Bob", "bob", "Carla", "Dmitri", "Eve", "eve", "Zoë", "O'Hara",
               "Ann_Marie"]
LAST_NAMES = ["Jones", "jones", "Lewis", "Doe", "DOE", "Young", "van Dyke"]
GENDERS = ["Female", "Male", "female", "MALE"]
SUBJECTS = ["Maths", "MATHS", "maths", "History", "HISTORY", "English", "Physics", "Chemistry",
            "Geography"]
BASE_TIME_MS = 1_571_900_400_000

# How the server stores the seed schema (ingestd/columns.py: single-value STRING dimensions are
# dictionary-encoded, FLOAT is float32, the LONG time column int64).
_DICT = pa.dictionary(pa.int32(), pa.string())
ARROW_SCHEMA = pa.schema([("studentID", pa.int32()), ("firstName", _DICT), ("lastName", _DICT),
                          ("gender", _DICT), ("subject", _DICT), ("score", pa.float32()),
                          ("timestamp", pa.int64())])


def make_rows(count: int = ROW_COUNT, seed: int = 20_241_125) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for index in range(count):
        if index % 25 == 24:  # a whole duplicated row
            rows.append(dict(rows[rng.randrange(len(rows))]))
            continue
        student = rng.randint(-5, 0) if rng.random() < 0.05 else rng.randint(1, 60)
        score = rng.choice([3.5, 3.75, 0.0, -1.25, 50.0]) if rng.random() < 0.3 else rng.randint(-40, 800) / 8
        hours, millis = rng.randint(0, 400), (rng.randint(1, 999) if rng.random() < 0.2 else 0)
        rows.append({
            "studentID": 1000 if rng.random() < 0.01 else student,
            "firstName": rng.choice(FIRST_NAMES),
            "lastName": rng.choice(LAST_NAMES),
            "gender": rng.choices(GENDERS, weights=[10, 10, 2, 2])[0],
            "subject": rng.choices(SUBJECTS, weights=[10, 3, 3, 6, 2, 5, 4, 3, 2])[0],
            "score": score,
            "timestamp": BASE_TIME_MS + hours * 3_600_000 + millis,
        })
    return rows


def arrow_table(rows: list[dict[str, Any]]) -> pa.Table:
    """The rows exactly as the server's segments hold them."""
    columns = {name: [row[name] for row in rows] for name in ARROW_SCHEMA.names}
    arrays = [pa.array(columns[f.name], pa.string()).dictionary_encode() if pa.types.is_dictionary(f.type)
              else pa.array(columns[f.name], f.type) for f in ARROW_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)


def load_table(server: IngestdServer, kafka: KafkaBroker, topic: str, rows: list[dict[str, Any]],
               table: str = TABLE) -> None:
    """Create `table` (seed schema) fed by a new `topic`, publish `rows`, wait until all are queryable."""
    kafka.create_topic(topic, PARTITIONS)
    schema, config = seed_configs(table, **{
        "stream.kafka.topic.name": topic,
        "stream.kafka.broker.list": kafka.bootstrap,
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
        "realtime.segment.flush.threshold.rows": str(SEGMENT_ROWS),
    })
    for path, document in (("/schemas", schema), ("/tables", config)):
        response = server.post(path, document)
        assert response.status_code == 200, response.text
    kafka.publish(topic, (orjson.dumps(row) for row in rows), partitions=PARTITIONS)
    wait_until(lambda: server.count(table) == len(rows), timeout_s=60, what=f"{len(rows)} rows in {table}")


def running_server(workdir: Path, kafka: KafkaBroker, topic: str,
                   rows: list[dict[str, Any]]) -> Iterator[IngestdServer]:
    """Body of a module-scoped fixture: a 2-worker server with `rows` loaded as table `t`."""
    server = IngestdServer(workdir, workers=2)
    server.start()
    try:
        load_table(server, kafka, topic, rows)
        wait_until(lambda: len(worker_health(server)) == 2, what="both workers in the table status")
        yield server
    finally:
        try:
            server.stop()
        finally:
            server.kill9()


def worker_health(server: IngestdServer, table: str = TABLE) -> dict[str, tuple[Any, Any, Any]]:
    """Per worker id: (pid, restarts, lastExitCode) from the table status."""
    workers = server.get(f"/tables/{table}/status")["workers"]
    return {wid: (w.get("pid"), w.get("restarts"), w.get("lastExitCode")) for wid, w in workers.items()}
