"""Does dictionary-encoding low-cardinality string columns help sealed segments? Measures, on seed-shaped
rows, the Arrow IPC file size and DuckDB query time for plain vs dictionary-encoded string columns.

    python -m perf.dictionary [--rows 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import duckdb
import pyarrow as pa
import pyarrow.ipc as ipc

from perf.workload import NAMES, SUBJECTS

STRING_COLUMNS = ("firstName", "lastName", "gender", "subject")
QUERIES = {
    "group_by_subject": "SELECT subject, COUNT(*), AVG(score) FROM t GROUP BY subject",
    "filter_subject": "SELECT COUNT(*) FROM t WHERE subject = 'Maths' AND gender = 'Female'",
    "select_rows": "SELECT firstName, subject FROM t WHERE studentID = 205 LIMIT 100",
}


def rows(count: int) -> pa.Table:
    names = [NAMES[i % len(NAMES)] for i in range(count)]
    return pa.table({
        "studentID": pa.array([200 + i % 1000 for i in range(count)], pa.int32()),
        "firstName": [n[0] for n in names], "lastName": [n[1] for n in names],
        "gender": [n[2] for n in names],
        "subject": [SUBJECTS[i % len(SUBJECTS)] for i in range(count)],
        "score": pa.array([(i % 41) / 10 for i in range(count)], pa.float32()),
        "timestamp": pa.array([1_571_900_400_000 + i for i in range(count)], pa.int64()),
    })


def ipc_size(table: pa.Table) -> int:
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return int(sink.getvalue().size)


def query_ms(table: pa.Table, sql: str, repeats: int = 15) -> float:
    connection = duckdb.connect()
    connection.register("t", table)
    connection.execute(sql).fetchall()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        connection.execute(sql).fetchall()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    plain = rows(parser.parse_args().rows)
    encoded = plain
    for name in STRING_COLUMNS:
        index = encoded.schema.get_field_index(name)
        encoded = encoded.set_column(index, name, encoded.column(name).dictionary_encode())
    sizes = [ipc_size(t) / 2**20 for t in (plain, encoded)]
    print(f"IPC size: plain {sizes[0]:.1f} MiB, dictionary {sizes[1]:.1f} MiB")
    for label, sql in QUERIES.items():
        print(f"{label:<18} plain {query_ms(plain, sql):>7} ms   dictionary {query_ms(encoded, sql):>7} ms")


if __name__ == "__main__":
    main()
