"""A fault-injecting TCP relay between a party node and the hub.

The proxy listens on loopback and relays bytes both ways to one upstream address without
looking at them (TLS passes through untouched). Faults are injected on the relay: one-way
latency per chunk, connections cut after a random byte count (chaos), the whole link taken
down, or every connection cut on demand. A cut is a real cut: both sockets are reset with
``SO_LINGER`` 0, so bytes still in flight are lost, as on a failed link.

Run as its own process with ``python -m warnlink.net.linkproxy --upstream HOST:PORT``; it
prints ``{"port": N}`` once listening and runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import enum
import fcntl
import json
import random
import signal
import socket
import struct
import sys
import termios
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

CHUNK = 64 * 1024
"""Bytes asked for per read: large enough that per-chunk overhead does not limit throughput."""

QUEUE_LIMIT = 4 * 1024 * 1024
"""Bytes a direction may hold while delaying them; above this it stops reading its source."""

FLUSH_TIMEOUT_S = 1.0
"""How long a chaos cut waits for the bytes before it to leave the proxy's buffer."""


@dataclass
class Faults:
    """What the link does to the traffic; changed at run time through `LinkProxy`."""

    latency_s: float = 0.0
    """One-way delay added to every chunk in each direction; order is preserved."""
    jitter_s: float = 0.0
    """1-sigma variation of that delay (never below zero, never reordering chunks)."""
    cut_every_bytes: tuple[int, int] | None = None
    """Chaos: each connection is reset after uniform-random [lo, hi] bytes, both ways in total."""
    down: bool = False
    """Link down: new connections are accepted and closed at once."""

    def __post_init__(self) -> None:
        if self.latency_s < 0:
            raise ValueError(f"latency must be >= 0 s, got {self.latency_s}")
        if self.jitter_s < 0:
            raise ValueError(f"jitter must be >= 0 s, got {self.jitter_s}")
        if self.cut_every_bytes is not None:
            lo, hi = self.cut_every_bytes
            if not 0 <= lo <= hi:
                raise ValueError(f"cut_every_bytes needs 0 <= lo <= hi, got {self.cut_every_bytes}")


@dataclass
class LinkStats:
    """Counters for assertions in tests and for exercise reports."""

    connections: int = 0
    """Client connections accepted while the link was up."""
    cuts: int = 0
    """Connections the proxy reset: `cut`, `set_down` or chaos."""
    bytes_up: int = 0
    """Bytes handed to the upstream socket (client to hub)."""
    bytes_down: int = 0
    """Bytes handed to the client socket (hub to client)."""
    refused: int = 0
    """Connections closed at once because the link was down."""
    upstream_errors: int = 0
    """Accepted connections reset because the upstream could not be reached."""


class _Mark(enum.Enum):
    EOF = "eof"  # the source half-closed: half-close the destination
    CUT = "cut"  # the chaos byte budget is spent: reset the connection


def _reset(transport: asyncio.WriteTransport) -> None:
    """Close with RST, not FIN, so the peer sees a reset and unsent bytes are dropped."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _unacked(sock: socket.socket) -> int:
    """Bytes the kernel still holds for the peer (sent but not acknowledged); 0 if unknown."""
    try:
        out = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except (OSError, ValueError):  # not supported here, or the socket is already closed
        return 0
    return int(struct.unpack("i", out)[0])


class _Pipe:
    """One direction of a connection: chunks waiting for their due time, bounded in bytes."""

    def __init__(self) -> None:
        self._items: deque[tuple[float, bytes | _Mark]] = deque()
        self._queued = 0
        self._ready = asyncio.Event()
        self.last_due = 0.0  # a chunk is never due before the one ahead of it
        self.room = asyncio.Event()
        self.room.set()

    def put(self, due: float, item: bytes | _Mark) -> None:
        self._items.append((due, item))
        if isinstance(item, bytes):
            self._queued += len(item)
            if self._queued > QUEUE_LIMIT:
                self.room.clear()
        self._ready.set()

    async def get(self) -> tuple[float, bytes | _Mark]:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        due, item = self._items.popleft()
        if isinstance(item, bytes):
            self._queued -= len(item)
            if self._queued <= QUEUE_LIMIT // 2:  # hysteresis: resume well below the limit
                self.room.set()
        return due, item


class _Link:
    """One relayed client connection: its upstream socket and four pump tasks."""

    def __init__(self, proxy: LinkProxy, client: asyncio.StreamWriter, budget: int | None) -> None:
        self.proxy = proxy
        self.writers = [client]
        self.tasks: list[asyncio.Future[Any]] = []
        self.aborted = False
        self.budget = budget  # chaos: bytes (both ways) still allowed before the cut

    def abort(self) -> None:
        """Reset both sockets and stop the pumps; bytes still queued are lost."""
        if self.aborted:
            return
        self.aborted = True
        for writer in self.writers:
            _reset(writer.transport)
        try:
            me = asyncio.current_task()
        except RuntimeError:
            me = None
        for task in self.tasks:
            if task is not me:
                task.cancel()

    async def run(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            connect = asyncio.ensure_future(asyncio.open_connection(*self.proxy.upstream))
            self.tasks.append(connect)
            # wait() rather than await: a cancelled connect must not look like our own cancel
            await asyncio.wait([connect])
            if connect.cancelled():
                return
            if connect.exception() is not None:
                self.proxy.stats.upstream_errors += 1
                self.abort()
                return
            up_r, up_w = connect.result()
            self.writers.append(up_w)
            if self.aborted:  # cut while connecting
                _reset(up_w.transport)
                return
            up, down = _Pipe(), _Pipe()
            pumps = [
                asyncio.create_task(self._read(client_r, up)),
                asyncio.create_task(self._write(up, up_w, upstream=True)),
                asyncio.create_task(self._read(up_r, down)),
                asyncio.create_task(self._write(down, client_w, upstream=False)),
            ]
            self.tasks.extend(pumps)
            await asyncio.wait(pumps)
            for pump in pumps:
                if not pump.cancelled() and (exc := pump.exception()) is not None:
                    self.abort()
                    raise exc
        finally:
            for writer in self.writers:
                writer.close()  # after both EOFs: FIN; after an abort: no-op

    async def _read(self, src: asyncio.StreamReader, pipe: _Pipe) -> None:
        """Read as fast as the pipe has room; stamp each chunk with its due time."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                await pipe.room.wait()
                data = await src.read(CHUNK)
                due = pipe.last_due = max(pipe.last_due, loop.time() + self.proxy.delay())
                if not data:
                    pipe.put(due, _Mark.EOF)
                    return
                if self.budget is not None:
                    if len(data) >= self.budget:
                        data = data[: self.budget]
                        self.budget = 0
                        if data:
                            pipe.put(due, data)
                        pipe.put(due, _Mark.CUT)
                        return
                    self.budget -= len(data)
                pipe.put(due, data)
        except OSError:  # the source reset: pass the reset on
            self.abort()

    async def _write(self, pipe: _Pipe, dst: asyncio.StreamWriter, *, upstream: bool) -> None:
        """Write each chunk at its due time; sleeping here keeps the reader at full speed."""
        loop = asyncio.get_running_loop()
        stats = self.proxy.stats
        try:
            while True:
                due, item = await pipe.get()
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if item is _Mark.EOF:
                    if dst.can_write_eof():
                        dst.write_eof()
                    return
                if item is _Mark.CUT:
                    await self._flush(dst)
                    self.proxy._cut_link(self)
                    return
                dst.write(item)
                if upstream:
                    stats.bytes_up += len(item)
                else:
                    stats.bytes_down += len(item)
                await dst.drain()
        except OSError:  # the destination reset: pass the reset on
            self.abort()

    @staticmethod
    async def _flush(dst: asyncio.StreamWriter) -> None:
        """Let the bytes before a chaos cut reach the peer, so the cut point is exact.

        The reset drops whatever the kernel has not delivered yet, so wait for both the
        transport's buffer and the socket's unacknowledged bytes, within a time limit (a
        peer that stops reading must not keep the connection from being cut).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FLUSH_TIMEOUT_S
        transport = dst.transport
        if transport.get_write_buffer_size() > 0:
            transport.set_write_buffer_limits(high=0)  # drain() now waits for an empty buffer
            with contextlib.suppress(TimeoutError, OSError):
                await asyncio.wait_for(dst.drain(), FLUSH_TIMEOUT_S)
        sock = transport.get_extra_info("socket")
        while sock is not None and _unacked(sock) > 0 and loop.time() < deadline:
            await asyncio.sleep(0.001)


class LinkProxy:
    """A TCP relay on loopback with latency, chaos cuts and outages injected on demand."""

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        faults: Faults | None = None,
        seed: int = 0,
    ) -> None:
        self.upstream = upstream
        self.listen = listen
        self.faults = faults if faults is not None else Faults()
        self.stats = LinkStats()
        self._rng = random.Random(seed)  # the only randomness: runs repeat with the seed
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._handlers: set[asyncio.Task[object]] = set()
        self._closing = False

    async def start(self) -> int:
        """Start listening; returns the port (useful with port 0)."""
        if self._server is not None:
            raise RuntimeError("LinkProxy already started")
        self._closing = False
        host, port = self.listen
        self._server = await asyncio.start_server(self._handle, host, port)
        return self.port

    async def close(self) -> None:
        """Stop listening and reset every connection; safe to call twice."""
        self._closing = True
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for link in list(self._links):
            link.abort()
        if self._handlers:
            await asyncio.wait(set(self._handlers))
        if server is not None:
            await server.wait_closed()

    @property
    def port(self) -> int:
        """The listening port; only valid after `start`."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("LinkProxy is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active(self) -> int:
        """Connections being relayed now (so callers can wait for a quiet link)."""
        return len(self._links)

    def cut(self) -> None:
        """Reset every current connection now; the link stays up for new ones."""
        for link in list(self._links):
            self._cut_link(link)

    def set_down(self, down: bool) -> None:
        """Take the link down (cut current connections, refuse new) or bring it back."""
        self.faults.down = down
        if down:
            self.cut()

    def set_latency(self, latency_s: float) -> None:
        """Change the one-way delay; applies to chunks read from now on."""
        if latency_s < 0:
            raise ValueError(f"latency must be >= 0 s, got {latency_s}")
        self.faults.latency_s = latency_s

    def delay(self) -> float:
        """One chunk's one-way delay: the latency with its jitter, at least zero."""
        f = self.faults
        return max(0.0, f.latency_s + (self._rng.gauss(0.0, f.jitter_s) if f.jitter_s else 0.0))

    def _cut_link(self, link: _Link) -> None:
        if not link.aborted:
            self.stats.cuts += 1
            link.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            if self._closing or self.faults.down:
                self.stats.refused += 1
                writer.close()  # FIN: the client sees EOF at once
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                return
            self.stats.connections += 1
            budget = None
            if self.faults.cut_every_bytes is not None:
                budget = self._rng.randint(*self.faults.cut_every_bytes)
            link = _Link(self, writer, budget)
            self._links.add(link)
            try:
                await link.run(reader, writer)
            finally:
                self._links.discard(link)
        finally:
            self._handlers.discard(task)

    async def __aenter__(self) -> LinkProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _span(text: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("-")
    if not sep or not lo.isdigit() or not hi.isdigit() or int(lo) > int(hi):
        raise argparse.ArgumentTypeError(f"expected LO-HI bytes with LO <= HI, got {text!r}")
    return int(lo), int(hi)


def _latency_ms(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a latency >= 0 ms, got {text!r}")
    return value


async def _serve(proxy: LinkProxy) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with proxy:
        sys.stdout.write(json.dumps({"port": proxy.port}) + "\n")
        sys.stdout.flush()
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Run a link proxy as its own process until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m warnlink.net.linkproxy",
        description="Relay TCP to an upstream with injected latency and chaos cuts.",
    )
    parser.add_argument("--upstream", type=_address, required=True, metavar="HOST:PORT")
    parser.add_argument("--listen", type=_address, default=("127.0.0.1", 0), metavar="HOST:PORT")
    parser.add_argument("--latency-ms", type=_latency_ms, default=0.0, metavar="X")
    parser.add_argument("--cut-every", type=_span, default=None, metavar="LO-HI")
    parser.add_argument("--seed", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    faults = Faults(latency_s=args.latency_ms / 1000.0, cut_every_bytes=args.cut_every)
    proxy = LinkProxy(args.upstream, listen=args.listen, faults=faults, seed=args.seed)
    asyncio.run(_serve(proxy))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
