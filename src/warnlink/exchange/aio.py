"""The event loop the hub's and a node's processes run on: uvloop when it is installed.

Both move many small frames over TLS; at moderate rates the loop's own work per frame
(wake-ups, callbacks, the TLS layer, which asyncio runs in Python) cost more CPU than the
messages. uvloop does the same in C. WARNLINK_LOOP=asyncio keeps the standard loop (to
compare, or to debug). The hub hands each socket it accepts to the loop's TLS layer with
connect_accepted_socket (not start_tls, whose uvloop version can miss a ClientHello read
before the upgrade).
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
