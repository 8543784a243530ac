"""The link proxy on real loopback sockets: relaying, latency, cuts, outages, chaos, CLI."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from warnlink.net.linkproxy import Faults, LinkProxy

LOCAL = "127.0.0.1"
STEP = 5.0  # s; no single network step in these tests should come near this

pytestmark = pytest.mark.timeout(60)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.write_eof()  # pass the client's half-close back
    writer.close()


async def _source(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    block = bytes(range(256)) * 64
    with contextlib.suppress(ConnectionError):
        while True:
            writer.write(block)
            await writer.drain()


@contextlib.asynccontextmanager
async def peer(handler: Handler) -> AsyncIterator[tuple[str, int]]:
    """A test peer standing in for the hub: not part of the code under test."""
    server = await asyncio.start_server(handler, LOCAL, 0)
    try:
        yield LOCAL, int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection(LOCAL, port), STEP)


async def _roundtrip(port: int, message: bytes = b"ping") -> bytes:
    reader, writer = await _connect(port)
    try:
        writer.write(message)
        return await asyncio.wait_for(reader.readexactly(len(message)), STEP)
    finally:
        writer.close()


async def _until_idle(proxy: LinkProxy) -> None:
    """Wait until connections closed by clients have ended in the proxy too."""
    deadline = time.monotonic() + STEP
    while proxy.active:
        assert time.monotonic() < deadline, "connections still open in the proxy"
        await asyncio.sleep(0.01)


async def _read_until_closed(reader: asyncio.StreamReader) -> int:
    """Bytes received until the connection ends, by EOF or by reset."""
    count = 0
    with contextlib.suppress(ConnectionResetError):
        while chunk := await asyncio.wait_for(reader.read(65536), STEP):
            count += len(chunk)
    return count


@pytest.mark.parametrize(("latency_s", "jitter_s"), [(0.0, 0.0), (0.02, 0.0), (0.02, 0.02)])
def test_bytes_pass_unchanged_both_ways(latency_s: float, jitter_s: float) -> None:
    """Jitter varies each chunk's delay but never reorders: the stream arrives intact."""
    payload = random.Random(7).randbytes(4 * 1024 * 1024)

    async def run() -> None:
        async with (
            peer(_echo) as upstream,
            LinkProxy(upstream, faults=Faults(latency_s=latency_s, jitter_s=jitter_s)) as proxy,
        ):
            reader, writer = await _connect(proxy.port)

            async def send() -> None:
                for i in range(0, len(payload), 100_000):  # odd-sized writes, not chunk-aligned
                    writer.write(payload[i : i + 100_000])
                    await writer.drain()
                writer.write_eof()

            sending = asyncio.create_task(send())
            echoed = await asyncio.wait_for(reader.read(), STEP)  # to EOF: half-close relayed
            await sending
            writer.close()
            assert hashlib.sha256(echoed).hexdigest() == hashlib.sha256(payload).hexdigest()
            assert proxy.stats.bytes_up == proxy.stats.bytes_down == len(payload)

    asyncio.run(run())


def test_jitter_spreads_the_delay_around_the_latency_and_never_below_zero() -> None:
    proxy = LinkProxy(("127.0.0.1", 9), faults=Faults(latency_s=0.03, jitter_s=0.01), seed=3)
    delays = [proxy.delay() for _ in range(4000)]
    mean = sum(delays) / len(delays)
    sd = (sum((d - mean) ** 2 for d in delays) / len(delays)) ** 0.5
    assert abs(mean - 0.03) < 0.001 and abs(sd - 0.01) < 0.001
    wide = LinkProxy(("127.0.0.1", 9), faults=Faults(latency_s=0.001, jitter_s=0.05), seed=3)
    assert min(wide.delay() for _ in range(1000)) == 0.0
    with pytest.raises(ValueError, match="jitter"):
        Faults(jitter_s=-0.1)


def test_latency_adds_the_set_delay_each_way() -> None:
    latency = 0.1

    async def timed_roundtrip(port: int) -> float:
        start = time.monotonic()
        assert await _roundtrip(port) == b"ping"
        return time.monotonic() - start

    async def run() -> None:
        async with peer(_echo) as upstream, LinkProxy(upstream) as proxy:
            proxy.set_latency(latency)
            rtt = await timed_roundtrip(proxy.port)
            assert 2 * latency <= rtt < 2 * latency + 0.5  # generous slack: behaviour only
            proxy.set_latency(0.0)
            assert await timed_roundtrip(proxy.port) < latency
            with pytest.raises(ValueError):
                proxy.set_latency(-1.0)

    asyncio.run(run())


def test_cut_resets_current_connections_and_the_link_stays_up() -> None:
    async def run() -> None:
        async with peer(_echo) as upstream, LinkProxy(upstream) as proxy:
            reader, writer = await _connect(proxy.port)
            writer.write(b"before")
            assert await asyncio.wait_for(reader.readexactly(6), STEP) == b"before"
            proxy.cut()
            start = time.monotonic()
            assert await _read_until_closed(reader) == 0
            assert time.monotonic() - start < 1.0
            writer.close()
            assert await _roundtrip(proxy.port, b"after") == b"after"
            assert proxy.stats.cuts == 1
            await _until_idle(proxy)

    asyncio.run(run())


def test_down_refuses_new_connections_until_brought_back() -> None:
    async def run() -> None:
        async with peer(_echo) as upstream, LinkProxy(upstream) as proxy:
            reader, writer = await _connect(proxy.port)
            writer.write(b"up")
            assert await asyncio.wait_for(reader.readexactly(2), STEP) == b"up"

            proxy.set_down(True)
            assert await _read_until_closed(reader) == 0  # the open connection is cut
            writer.close()
            refused_r, refused_w = await _connect(proxy.port)
            start = time.monotonic()
            assert await _read_until_closed(refused_r) == 0  # accepted, then closed at once
            assert time.monotonic() - start < 1.0
            refused_w.close()

            proxy.set_down(False)
            assert await _roundtrip(proxy.port, b"back") == b"back"
            assert (proxy.stats.refused, proxy.stats.cuts) == (1, 1)

    asyncio.run(run())


class _Counter(asyncio.Protocol):
    """Counts every byte the socket delivers; a StreamReader would drop its unread buffer
    when the reset arrives, and the test would then undercount what got through."""

    def __init__(self) -> None:
        self.received = 0
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.received += len(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ended.done():
            self.ended.set_result(None)


async def _count_until_cut(port: int) -> int:
    loop = asyncio.get_running_loop()
    transport, counter = await asyncio.wait_for(loop.create_connection(_Counter, LOCAL, port), STEP)
    await asyncio.wait_for(counter.ended, STEP)
    transport.close()
    return counter.received


@pytest.mark.parametrize("latency_s", [0.0, 0.02])  # with latency the bytes come in bursts
def test_chaos_cuts_each_connection_within_the_byte_range(latency_s: float) -> None:
    lo, hi = 20_000, 200_000

    async def received_per_connection(seed: int) -> list[int]:
        # the source peer streams without end, so only the chaos cut ends each connection
        faults = Faults(latency_s=latency_s, cut_every_bytes=(lo, hi))
        async with peer(_source) as upstream, LinkProxy(upstream, faults=faults, seed=seed) as p:
            counts = [await _count_until_cut(p.port) for _ in range(6)]  # one at a time
            assert p.stats.cuts == 6
            assert p.stats.bytes_down == sum(counts)
            return counts

    async def run() -> None:
        counts = await received_per_connection(seed=3)
        assert all(lo <= n <= hi for n in counts), counts
        assert len(set(counts)) > 1  # random per connection, not one fixed size
        assert await received_per_connection(seed=3) == counts  # reproducible from the seed

    asyncio.run(run())


def test_stats_count_connections_cuts_and_bytes() -> None:
    async def run() -> None:
        async with peer(_echo) as upstream, LinkProxy(upstream) as proxy:
            for message in (b"one", b"three"):
                assert await _roundtrip(proxy.port, message) == message
            await _until_idle(proxy)  # so the cut below hits only the third connection
            reader, writer = await _connect(proxy.port)
            writer.write(b"xy")
            assert await asyncio.wait_for(reader.readexactly(2), STEP) == b"xy"
            proxy.cut()
            await _read_until_closed(reader)
            writer.close()
            stats = proxy.stats
            assert (stats.connections, stats.cuts, stats.refused) == (3, 1, 0)
            assert stats.bytes_up == stats.bytes_down == len(b"one" + b"three" + b"xy")

    asyncio.run(run())


def test_module_runs_as_a_process_and_stops_on_sigterm() -> None:
    async def run() -> None:
        async with peer(_echo) as (host, port):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "warnlink.net.linkproxy",
                "--upstream",
                f"{host}:{port}",
                "--latency-ms",
                "5",
                stdout=asyncio.subprocess.PIPE,
            )
            try:
                assert process.stdout is not None
                line = await asyncio.wait_for(process.stdout.readline(), 10.0)
                proxy_port = json.loads(line)["port"]
                assert await _roundtrip(proxy_port, b"relayed") == b"relayed"
                process.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(process.wait(), STEP) == 0
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()

    asyncio.run(run())
