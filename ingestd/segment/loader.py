"""Loading a sealed segment file per the table's loadMode: MMAP (zero-copy) or HEAP (read in)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from ingestd.config.table import LoadMode


def load_segment(path: Path, mode: LoadMode) -> pa.Table:
    if mode is LoadMode.MMAP:
        source = pa.memory_map(str(path), "r")  # pages come from the page cache, not this process
        return ipc.open_file(source).read_all()
    with pa.OSFile(str(path), "rb") as source:  # every buffer copied into process memory
        return ipc.open_file(source).read_all()
