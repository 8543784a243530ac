"""The hub's Prometheus counters and histograms, and the text endpoint that serves them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0
)  # fmt: skip


class HubMetrics:
    """Per-party counters (accepted, rejected by reason, delivered), lag and latencies."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.accepted = Counter(
            "warnlink_hub_accepted", "Messages stored", ["party", "kind"], registry=r
        )
        self.rejected = Counter(
            "warnlink_hub_rejected", "Messages or connections refused", ["party", "reason"],
            registry=r,
        )  # fmt: skip
        self.delivered = Counter(
            "warnlink_hub_delivered", "Messages written to a party", ["party"], registry=r
        )
        self.lag = Gauge(
            "warnlink_hub_lag_messages", "Stored messages a party has not acknowledged",
            ["party"], registry=r,
        )  # fmt: skip
        self.connected = Gauge(
            "warnlink_hub_connected", "1 while the party is connected", ["party"], registry=r
        )
        self.commit_seconds = Histogram(
            "warnlink_hub_commit_seconds", "Arrival to durable commit of a batch",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.delivery_seconds = Histogram(
            "warnlink_hub_delivery_seconds", "Arrival at the hub to written to the recipient",
            ["party"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip

    def render(self) -> bytes:
        return generate_latest(self.registry)


async def serve(host: str, port: int, render: Callable[[], Awaitable[bytes]]) -> asyncio.Server:
    """A minimal HTTP/1.0 endpoint: GET /metrics returns the text format, nothing else."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b""
            if request.startswith(b"GET ") and path == b"/metrics":
                body, status = await render(), b"200 OK"
                ctype = b"text/plain; version=0.0.4; charset=utf-8"
            else:
                body, status, ctype = b"not found\n", b"404 Not Found", b"text/plain"
            writer.write(
                b"HTTP/1.0 " + status + b"\r\nContent-Type: " + ctype
                + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )  # fmt: skip
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)
