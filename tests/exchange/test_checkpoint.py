"""The checkpointer that keeps WAL checkpoints off the commit path: a failed checkpoint
(a full disk) is logged and retried, loses no commit, and does not stop its process."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

_FULL_DISK = """
import asyncio, resource, signal, sys
from pathlib import Path
from warnlink.exchange import logs
from warnlink.exchange.store import Checkpointer

path = Path(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
size = path.stat().st_size
resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))  # the main file cannot grow
logs.setup()

async def main() -> None:
    checkpointer = Checkpointer(path)
    try:
        await asyncio.wait_for(checkpointer.run(every_s=0.1), 1.0)
    except TimeoutError:
        print("still running")
    checkpointer.close()

asyncio.run(main())
"""


def test_a_failed_checkpoint_is_logged_retried_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    keep = sqlite3.connect(path, isolation_level=None)  # holds the log open between runs
    keep.execute("PRAGMA journal_mode=WAL")
    keep.execute("PRAGMA wal_autocheckpoint=0")
    keep.execute("CREATE TABLE t (x BLOB)")
    for _ in range(200):
        keep.execute("INSERT INTO t VALUES (?)", (os.urandom(4000),))
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 800_000  # everything is still in the log
    out = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(path)], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "still running"
    events = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    failed = [e for e in events if e["event"] == "checkpoint_failed"]
    assert len(failed) >= 2, out.stderr  # logged, and tried again
    assert keep.execute("SELECT count(*) FROM t").fetchone()[0] == 200
    # with room again, a checkpoint moves the log into the main file
    busy, frames, done = keep.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and frames == done > 0
    assert path.stat().st_size > 800_000
    keep.close()
