"""Streaming CoT events to a TAK server over TCP or TLS, and replaying estimates files.

A TAK server's streaming input takes a plain concatenation of XML event documents on
one TCP (8087) or TLS (8089, usually with a client certificate) connection. What matters
for warning is what happens when that link is slow or down:
- the queue is bounded, and when full the *oldest track update* is dropped (a newer one
  of the same picture supersedes it), while alerts are never dropped;
- the connection is re-made with exponential backoff (with jitter), and the event whose
  write failed is put back at the head of the queue.
Events already handed to the kernel when a connection dies may be lost: CoT over TCP has
no acknowledgement, and the next track update repairs the picture.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from warnlink.cot.events import CotEvent, CotOptions, estimate_events
from warnlink.formats.jsonl import iter_jsonl
from warnlink.formats.records import Estimate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TakServer:
    """Where to stream: host, port and, for TLS, the client context."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None
    server_hostname: str | None = None  # name to check the server certificate against


def parse_server(text: str) -> tuple[str, int]:
    """HOST:PORT (IPv6 as [ADDR]:PORT) to (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--server must be HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def tls_context(
    cafile: Path | None,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    password: str | None = None,
    verify: bool = True,
) -> ssl.SSLContext:
    """A client TLS context: the server's CA (or the system's), our certificate if given.

    TAK servers usually ask for a client certificate (made by their CA); `verify=False`
    is only for a lab server with a self-signed certificate and no CA file to hand.
    """
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    if certfile is not None:
        ctx.load_cert_chain(certfile, keyfile, password)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class EventQueue:
    """Bounded FIFO of events that never drops an alert.

    When full, a new event pushes out the oldest non-alert event; if every queued event
    is an alert, the queue grows past its bound rather than lose one.
    """

    def __init__(self, maxsize: int = 1000) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._items: deque[CotEvent] = deque()
        self._ready = asyncio.Event()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: CotEvent) -> CotEvent | None:
        """Queue an event; returns the track update dropped to make room, if any."""
        dropped = None
        if len(self._items) >= self.maxsize:
            dropped = self._drop_oldest_update()
        self._items.append(event)
        self._ready.set()
        return dropped

    def _drop_oldest_update(self) -> CotEvent | None:
        for i, queued in enumerate(self._items):
            if not queued.is_alert:
                del self._items[i]
                self.dropped += 1
                return queued
        return None

    def put_front(self, event: CotEvent) -> None:
        """Return an event whose write failed to the head of the queue."""
        self._items.appendleft(event)
        self._ready.set()

    async def get(self) -> CotEvent:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def items(self) -> list[CotEvent]:
        return list(self._items)


@dataclass
class StreamStats:
    sent: int = 0
    connects: int = 0
    failures: int = 0


class CotStreamer:
    """Keeps one connection to a TAK server and writes queued events to it.

    Use `send` from anywhere in the event loop, run `run()` as a task, and `flush`
    before `close` to wait for the queue to empty.
    """

    def __init__(
        self,
        server: TakServer,
        queue_size: int = 1000,
        backoff_s: float = 0.5,
        backoff_max_s: float = 30.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.server = server
        self.queue = EventQueue(queue_size)
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.connect_timeout_s = connect_timeout_s
        self.stats = StreamStats()
        self._idle = asyncio.Event()
        self._idle.set()
        self._room = asyncio.Event()  # set while the queue is under half full
        self._room.set()
        self._stalled = False
        self._task: asyncio.Task[None] | None = None

    def send(self, event: CotEvent) -> None:
        """Queue an event (never blocks); a full queue drops its oldest track update."""
        self._idle.clear()
        dropped = self.queue.put(event)
        if dropped is not None and self.queue.dropped % 1000 == 1:  # the first, then a few
            log.warning(
                "CoT queue full (%d events): dropped %s %s, %d dropped so far",
                self.queue.maxsize,
                dropped.type,
                dropped.uid,
                self.queue.dropped,
            )
        if len(self.queue) < self.queue.maxsize // 2:
            self._room.set()
        else:
            self._room.clear()

    def send_all(self, events: Iterable[CotEvent]) -> None:
        for event in events:
            self.send(event)

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="cot-streamer")
        return self._task

    async def run(self) -> None:
        """Connect, write, reconnect with backoff; runs until cancelled."""
        delay = self.backoff_s
        while True:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        self.server.host,
                        self.server.port,
                        ssl=self.server.tls,
                        server_hostname=self.server.server_hostname
                        if self.server.tls is not None
                        else None,
                    ),
                    self.connect_timeout_s,
                )
            except (OSError, TimeoutError, ssl.SSLError) as exc:
                self.stats.failures += 1
                log.warning("TAK server %s:%d: %s", self.server.host, self.server.port, exc)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2.0, self.backoff_max_s)
                continue
            self.stats.connects += 1
            delay = self.backoff_s
            log.info("connected to TAK server %s:%d", self.server.host, self.server.port)
            try:
                await self._pump(reader, writer)
            except (OSError, ConnectionError, ssl.SSLError) as exc:
                self.stats.failures += 1
                log.warning("TAK server connection lost: %s", exc)
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Write events until the connection fails; the server's data is read and dropped
        (pings, other clients' events) so its buffers never stall, and its EOF noticed."""
        lost = asyncio.ensure_future(self._drain_reader(reader))
        try:
            while True:
                if not self.queue:
                    self._idle.set()
                get = asyncio.ensure_future(self.queue.get())
                done, _ = await asyncio.wait({get, lost}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await get
                    if get.done() and not get.cancelled():
                        self.queue.put_front(get.result())
                    raise ConnectionError("server closed the connection")
                event = get.result()
                if len(self.queue) < self.queue.maxsize // 2:
                    self._room.set()
                try:
                    writer.write(event.to_bytes())
                    await writer.drain()
                except BaseException:
                    self.queue.put_front(event)
                    raise
                self.stats.sent += 1
        finally:
            lost.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await lost

    @staticmethod
    async def _drain_reader(reader: asyncio.StreamReader) -> None:
        while await reader.read(65536):
            pass

    async def room(self, timeout_s: float = 5.0) -> bool:
        """Wait until the queue is under half full (backpressure for a producer that can
        wait, like a replay); False on timeout, when the producer goes on and drops."""
        if self._room.is_set():
            self._stalled = False
            return True
        if self._stalled:  # already waited in vain: do not wait again until it drains
            return False
        try:
            await asyncio.wait_for(self._room.wait(), timeout_s)
        except TimeoutError:
            self._stalled = True
            return False
        return True

    async def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued event has been written; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def replay_epoch(first_t: float, epoch: datetime | None) -> datetime:
    """The UTC instant of t = 0: the run's epoch, or (None) one that puts the first
    estimate now, so that a replay is live and TAK clients do not discard it as stale."""
    if epoch is not None:
        return epoch
    return datetime.now(UTC) - timedelta(seconds=first_t)


async def replay_estimates(
    path: Path,
    streamer: CotStreamer,
    options: CotOptions,
    epoch: datetime | None = None,
    speed: float = 1.0,
    progress: Callable[[Estimate, int], None] | None = None,
    more: Callable[[Estimate, datetime], Iterable[CotEvent]] | None = None,
) -> int:
    """Send an estimates JSON Lines file (docs/formats.md) as CoT, paced by its times.

    Only confirmed tracks are sent (tentative ones are not a warning); `speed` scales
    time (0 sends as fast as the link takes it: the replay waits, up to 5 s at a time,
    for the queue to be under half full). The file is read as it goes, so a long
    run is not held in memory. `more` adds events per estimate (public warnings, say),
    given the replay's epoch. Returns the number of events queued.
    """
    t0_epoch: datetime | None = None
    start_wall = t_first = 0.0
    count = 0
    for estimate in iter_jsonl(path, Estimate):
        if estimate.status == "tentative":
            continue
        if t0_epoch is None:
            t0_epoch = replay_epoch(estimate.t, epoch)
            start_wall, t_first = time.monotonic(), estimate.t
        if speed > 0:
            wait = (estimate.t - t_first) / speed - (time.monotonic() - start_wall)
            if wait > 0:
                await asyncio.sleep(wait)
        else:
            await streamer.room()
        events = estimate_events(estimate, t0_epoch, options)
        if more is not None:
            events += more(estimate, t0_epoch)
        streamer.send_all(events)
        count += len(events)
        if progress is not None:
            progress(estimate, count)
        await asyncio.sleep(0)
    return count
