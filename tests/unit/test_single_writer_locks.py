"""One server per data_dir and one writer per ledger, enforced with flock across processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingestd.data_dir_lock import DataDirLock, DataDirLocked, hold_data_dir
from ingestd.ledger import OffsetLedger, read_ledger
from tests.unit.test_ledger import RECORDS


def test_a_second_holder_of_a_data_dir_is_refused_naming_the_dir_and_the_pid(tmp_path: Path) -> None:
    with hold_data_dir(tmp_path):
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
        second = DataDirLock(tmp_path)  # another open file description: flock excludes it like a process
        with pytest.raises(DataDirLocked) as caught:
            second.acquire()
        assert str(tmp_path) in str(caught.value) and f"pid {os.getpid()}" in str(caught.value)
    with hold_data_dir(tmp_path):  # released on exit; the stale file does not block
        pass


def _try_ledger(path: Path) -> subprocess.CompletedProcess[str]:
    code = ("import sys; from pathlib import Path; from ingestd.ledger import OffsetLedger\n"
            f"OffsetLedger(Path({str(path)!r}), wait_s=0.2).recover()\nprint('acquired')")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])


def test_a_second_process_cannot_write_a_ledger_while_its_writer_lives(tmp_path: Path) -> None:
    path = tmp_path / "ledger.bin"
    ledger = OffsetLedger(path)
    for record in RECORDS:
        ledger.append(record)
    refused = _try_ledger(path)
    assert refused.returncode != 0
    assert "LedgerLocked" in refused.stderr and f"pid {os.getpid()}" in refused.stderr, refused.stderr

    ledger.rewrite(RECORDS[:2])  # the lock moves to the new file with the rename
    assert _try_ledger(path).returncode != 0
    assert read_ledger(path).records == RECORDS[:2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.bin"]

    ledger.close()
    acquired = _try_ledger(path)
    assert acquired.returncode == 0 and "acquired" in acquired.stdout, acquired.stderr


def test_ledgers_of_one_file_in_one_process_share_the_lock_until_the_last_goes(tmp_path: Path) -> None:
    path = tmp_path / "ledger.bin"
    first = OffsetLedger(path)
    first.append(RECORDS[0])
    second = OffsetLedger(path)  # an in-process "restart" while the old object is still alive
    second.append(RECORDS[1])
    assert second.recover() == RECORDS[:2]
    first.close()
    assert _try_ledger(path).returncode != 0  # `second` still holds it
    del second
    assert _try_ledger(path).returncode == 0  # dropped by garbage collection
    with pytest.raises(ValueError, match="closed"):
        first.append(RECORDS[2])
