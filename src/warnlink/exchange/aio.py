"""The event loop a node's process runs on: uvloop when it is installed.

A node moves many small frames over TLS; at moderate rates the loop's own work per frame
(wake-ups, callbacks, the TLS layer, which asyncio runs in Python) cost more CPU than the
messages. uvloop does the same in C. WARNLINK_LOOP=asyncio keeps the standard loop (to
compare, or to debug). The hub stays on asyncio's loop: it upgrades accepted connections
with start_tls, and uvloop's can miss a ClientHello that arrived before the upgrade.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_name() -> str:
    """Which loop `run` uses here: "uvloop" or "asyncio"."""
    if os.environ.get("WARNLINK_LOOP", "").lower() == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(main), on uvloop unless it is missing or WARNLINK_LOOP=asyncio."""
    if loop_name() == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
