"""Running the `warnlink` command as a real process, for the end-to-end tests."""

from __future__ import annotations

import subprocess
import sys


def warnlink(*args: str, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
    """Run `python -m warnlink.cli ARGS`; the caller checks the exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "warnlink.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
