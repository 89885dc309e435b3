"""The seed document's demo from a checkout without installing: the same as `ingestd quickstart`
(an embedded broker, the server, the transcript table, live records, query results; Ctrl-C stops it).

    python scripts/quickstart.py [--port 9000] [--duration SECONDS] [--rate N]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingestd.cli import main

if __name__ == "__main__":
    main(["quickstart", *sys.argv[1:]], prog_name="ingestd")
