"""Running the `warnlink` command as a real process, for the end-to-end tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def warnlink(*args: str, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
    """Run `python -m warnlink.cli ARGS`; the caller checks the exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "warnlink.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def exercise(scenario: Path, speed: str, out: Path, *args: str) -> Path:
    """Run `warnlink exercise` into `out` and insist it succeeded; returns `out`."""
    done = warnlink("exercise", str(scenario), "--speed", speed, "--out", str(out), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return out
