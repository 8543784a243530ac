"""A party's node: publishes its outbox to the hub and receives what is released to it.

The node reconnects for ever with backoff; on each connection it resends whatever the hub
has not acknowledged (the hub recognises resends) and resumes delivery from the cursors
stored with its inbox, so crashes on either side lose and duplicate nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import ssl
from collections import Counter, deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from warnlink.exchange import frames, pki, signing, tls
from warnlink.exchange.envelope import Envelope, EnvelopeError, Kind, Lane, decode
from warnlink.exchange.frames import FrameReader, FrameType, Mode, ProtocolError, Reason
from warnlink.exchange.logs import event
from warnlink.exchange.node_store import NodeStore, Received
from warnlink.exchange.store import Checkpointer, Listing

log = logging.getLogger("warnlink.node")
SLOW_START = 32
RECENT = 4096
"""Inbox rows kept in memory after their commit, so a reader keeping up never re-reads them."""


class HubRefused(Exception):
    """The hub sent ERROR and closed: the reason is its word for what went wrong."""


@dataclass
class NodeStats:
    connects: int = 0
    received: int = 0
    duplicates: int = 0
    acked: int = 0
    rejected: int = 0
    dropped: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class HubAddress:
    host: str
    port: int
    server_name: str = "localhost"

    @classmethod
    def parse(cls, text: str) -> HubAddress:
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"hub address {text!r} is not HOST:PORT")
        return cls(host, int(port), "localhost" if host in ("127.0.0.1", "::1") else host)


def _learn(keys: signing.KeyRing, der: bytes) -> None:
    """Admit a signing certificate the hub forwarded, or log why it is refused."""
    try:
        keys.add(der)
    except pki.PkiError as exc:
        event(log, "signing_cert_refused", logging.WARNING, reason=str(exc))


def _key_ring(pki_root: Path) -> signing.KeyRing:
    return signing.KeyRing(signing.SigningCertificates.for_root(pki_root))


async def _connect(
    pki_root: Path, party: str, hub: HubAddress, mode: Mode, cursors: tuple[int, int, int],
    cert: bytes, keys: signing.KeyRing,
) -> tuple[asyncio.StreamWriter, FrameReader, list[tuple[FrameType, bytes]]]:  # fmt: skip
    """TLS connect, HELLO, and read WELCOME; returns the frames that came with it."""
    ctx = tls.client_context(pki_root, party)
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(hub.host, hub.port, ssl=ctx, server_hostname=hub.server_name),
        10,
    )
    writer.write(frames.hello(mode, cursors, cert))
    fr = FrameReader(reader, idle_s=10, frame_s=10)
    batch = await fr.frames()
    if not batch:
        raise ConnectionError("the hub closed the connection after HELLO")
    if batch[0][0] == FrameType.ERROR:
        raise HubRefused(batch[0][1][1:].decode(errors="replace"))
    if batch[0][0] != FrameType.WELCOME:
        raise ProtocolError(Reason.PROTOCOL, f"expected WELCOME, got {batch[0][0].name}")
    return writer, fr, batch[1:]


class Node:
    """One party's connection to the hub, with a durable outbox and inbox in `data`."""

    def __init__(
        self, pki_root: Path, party: str, hub: HubAddress, data: Path, *,
        window: int = 4096, poll_s: float = 0.05, idle_s: float = 10.0,
    ) -> None:  # fmt: skip
        self.pki_root = pki_root
        self.party = party
        self.hub = hub
        self.signer = signing.Signer.load(pki_root, party)
        self.store = NodeStore(data / "node.db")
        self.keys = _key_ring(pki_root)
        self.stats = NodeStats()
        self.connected = asyncio.Event()
        self.window = window
        self.poll_s = poll_s
        self.idle_s = idle_s
        self._wake = asyncio.Event()
        self._arrived = asyncio.Event()
        self._inflight: set[int] = set()
        self._room = SLOW_START
        self._blocked = False  # the sender's last pass filled the window
        self._confirm: dict[int, int] = {}  # RECEIVED not yet sent: lane -> hub sequence
        self._sent = [0, 0, 0]  # per lane, the last sequence sent on this connection
        self._parked: asyncio.StreamWriter | None = None  # the sender waits on this one
        self._passed = self._published = 0.0  # loop times of the last pass, of the last PUBLISH
        self._recent: deque[Received] = deque(maxlen=RECENT)

    # -- the application's side ----------------------------------------------------------

    def publish(self, kind: Kind, label: Sequence[str], payload: bytes) -> Envelope:
        """Queue a signed message durably; it goes out now or when the hub is back."""
        return self.publish_many([(kind, label, payload)])[0]

    def publish_many(self, items: Sequence[tuple[Kind, Sequence[str], bytes]]) -> list[Envelope]:
        """Queue messages durably, and send them now if the connection is idle (a turn of
        the loop sooner than by waking the sender, which on a busy machine is worth
        milliseconds); else the sender takes them on its next pass."""
        out = self.store.publish(self.signer, items)
        writer = self._parked
        if writer and not writer.is_closing() and not writer.transport.get_write_buffer_size():
            self._pass(writer)
        else:
            self._wake.set()
        return out

    async def messages(self, after: int = 0) -> AsyncIterator[Received]:
        """Every inbox message after row `after`, waiting for new ones for ever.

        Rows are committed before they are yielded. A reader that keeps up gets them from
        memory (decoded once, by the node); one that is behind reads them from the inbox.
        """
        while True:
            self._arrived.clear()
            rows = self._recent_after(after)
            if rows is None:
                rows = self.store.inbox(after)
            for row in rows:
                yield row
                after = row.row
            if not rows:
                await self._arrived.wait()

    def _recent_after(self, after: int) -> list[Received] | None:
        """The rows after `after` from memory, or None if memory does not reach back so far.

        Only the node writes the inbox, so the rows it committed last are the newest; the
        memory holds a contiguous run of them (it is reset at any gap in row ids).
        """
        recent = self._recent
        if not recent or recent[0].row > after + 1:
            return None
        start = after + 1 - recent[0].row
        if start >= len(recent):
            return []
        return list(itertools.islice(recent, start, None))

    # -- the connection ------------------------------------------------------------------

    async def run(self) -> None:
        """Stay connected: reconnect with jittered backoff after any failure (and meanwhile
        checkpoint the store's log off the publish and receive paths)."""
        checkpointer = Checkpointer(self.store.path)
        checkpoints = asyncio.create_task(checkpointer.run())
        self.store.autocheckpoint(False)
        try:
            await self._connected_for_ever()
        finally:
            self.store.autocheckpoint(True)
            checkpoints.cancel()
            await asyncio.gather(checkpoints, return_exceptions=True)
            checkpointer.close()

    async def _connected_for_ever(self) -> None:
        backoff = 0.1
        rng = random.Random()
        while True:
            try:
                await self._session()
            except (OSError, ConnectionError, TimeoutError, ssl.SSLError, ProtocolError,
                    HubRefused, asyncio.IncompleteReadError) as exc:  # fmt: skip
                event(log, "hub_connection_failed", logging.WARNING, party=self.party,
                      error=f"{type(exc).__name__}: {exc}")  # fmt: skip
            if self.connected.is_set():
                backoff = 0.1  # the session had come up: the link, not the hub, is failing
            self.connected.clear()
            await asyncio.sleep(backoff * (0.5 + rng.random()))
            backoff = min(backoff * 2, 2.0)

    async def _session(self) -> None:
        writer, fr, early = await _connect(
            self.pki_root, self.party, self.hub, Mode.NODE, self.store.cursors(),
            self.signer.certificate_der, self.keys,
        )  # fmt: skip
        self.stats.connects += 1
        self.connected.set()
        self._inflight.clear()
        self._room = SLOW_START
        self._confirm.clear()  # HELLO carried the stored cursors
        event(log, "hub_connected", party=self.party, connects=self.stats.connects)
        sender = asyncio.create_task(self._send(writer))
        try:
            self._handle(early)  # deliveries may share WELCOME's read
            while batch := await fr.frames():
                self._handle(batch)
                if sender.done():
                    sender.result()
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            writer.transport.abort()

    async def _send(self, writer: asyncio.StreamWriter) -> None:
        """Outbox to hub, most urgent lane first, a growing window of unacknowledged; and
        the RECEIVED frames `_receive` left, in the same write.

        Each connection starts with a small window that grows with every acknowledgement
        (as TCP's slow start): a link that keeps being cut still gets the oldest messages
        acknowledged, instead of spending every connection resending one big window.
        A pass runs on each publish (in `publish_many` itself while this waits), on an
        acknowledgement only if the last pass filled the window (otherwise it left nothing
        unsent), and when `poll_s` has gone by since the last pass; so a RECEIVED waits at
        most `poll_s` and mostly costs no write or hub wake-up of its own.
        """
        loop = asyncio.get_running_loop()
        self._sent = [0, 0, 0]
        self._passed = self._published = loop.time()
        while True:
            self._pass(writer)
            await writer.drain()
            self._parked = writer  # publish_many may pass meanwhile
            try:
                while not self._wake.is_set():  # until woken, or poll_s after the last pass
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout_at(self._passed + self.poll_s):
                            await self._wake.wait()
                    if loop.time() >= self._passed + self.poll_s:
                        break
            finally:
                self._parked = None
            if loop.time() - self._published >= self.idle_s / 3:
                writer.write(frames.frame(FrameType.PING))
                self._published = loop.time()

    def _pass(self, writer: asyncio.StreamWriter) -> None:
        """One sender pass: the RECEIVED frames due and what the window lets out of the
        outbox, in one write."""
        self._wake.clear()  # before reading, so a publish meanwhile is not waited past
        self._passed = now = asyncio.get_running_loop().time()
        out = [frames.received(lane, hseq) for lane, hseq in self._confirm.items()]
        self._confirm.clear()
        room = self._room - len(self._inflight)
        sent = self._sent
        for lane in Lane:
            if room <= 0:
                break
            rows = self.store.pending(lane, sent[lane], room)
            if rows:
                out += [frames.frame(FrameType.PUBLISH, r.raw) for r in rows]
                self._inflight.update(r.seq for r in rows)
                sent[lane] = rows[-1].seq
                room -= len(rows)
                self._published = now
        self._blocked = room <= 0
        if out:
            writer.write(b"".join(out))

    def _handle(self, batch: list[tuple[FrameType, bytes]]) -> None:
        acked: list[int] = []
        rejected: list[tuple[int, str]] = []
        delivered: list[tuple[int, bytes]] = []
        for ftype, body in batch:
            if ftype == FrameType.DELIVER:
                delivered.append(frames.parse_deliver(body))
            elif ftype == FrameType.ACK:
                acked.append(frames.parse_ack(body)[0])
            elif ftype == FrameType.REJECT:
                seq, reason, text = frames.parse_reject(body)
                event(log, "publish_rejected", logging.WARNING, party=self.party, seq=seq,
                      reason=reason.name, detail=text)  # fmt: skip
                rejected.append((seq, f"{reason.name.lower()}: {text}"))
            elif ftype == FrameType.CERT:
                _learn(self.keys, body)
            elif ftype == FrameType.ERROR:
                raise HubRefused(body[1:].decode(errors="replace"))
            elif ftype != FrameType.PONG:
                raise ProtocolError(Reason.PROTOCOL, f"unexpected {ftype.name} from the hub")
        if delivered or acked or rejected:
            self._receive(delivered, acked, rejected)
        if acked or rejected:
            self._inflight.difference_update(acked)
            self._inflight.difference_update(seq for seq, _ in rejected)
            self._room = min(self.window, self._room + len(acked) + len(rejected))
            self.stats.acked += len(acked)
            self.stats.rejected += len(rejected)
            if self._blocked:
                self._wake.set()

    def _receive(
        self, delivered: list[tuple[int, bytes]], acked: list[int],
        rejected: list[tuple[int, str]],
    ) -> None:  # fmt: skip
        """Verify each delivery; store the good ones, advance the cursors and record the
        hub's answers to our publishes in one commit."""
        good: list[tuple[int, Envelope]] = []
        cursors: dict[int, int] = {}
        for hseq, raw in delivered:
            try:
                env = decode(raw)
            except EnvelopeError as exc:
                self._drop(hseq, exc.reason)
                continue
            cursors[env.lane] = max(cursors.get(env.lane, 0), hseq)
            why = self.keys.check(env)
            if why is None and self.party not in env.label:
                why = "not_released_to_us"
            if why is not None:
                self._drop(hseq, why, env)
                continue
            good.append((hseq, env))
        new = self.store.receive(good, cursors, acked, rejected)
        self.stats.received += len(new)
        self.stats.duplicates += len(good) - len(new)
        confirm = self._confirm
        for lane, hseq in cursors.items():  # stored: the sender says RECEIVED on its next pass
            confirm[lane] = max(confirm.get(lane, 0), hseq)
        if new:
            recent = self._recent
            for row in new:
                if recent and row.row != recent[-1].row + 1:
                    recent.clear()
                recent.append(row)
            self._arrived.set()

    def _drop(self, hseq: int, reason: str, env: Envelope | None = None) -> None:
        self.stats.dropped[reason] += 1
        origin = env.origin if env else None
        event(log, "delivery_dropped", logging.WARNING, party=self.party, hseq=hseq,
              reason=reason, origin=origin)  # fmt: skip


class Query:
    """A short-lived query session: list and fetch intelligence reports released to us."""

    def __init__(
        self, writer: asyncio.StreamWriter, fr: FrameReader, keys: signing.KeyRing
    ) -> None:
        self._writer = writer
        self._frames = fr
        self._keys = keys
        self._request = 0

    async def _ask(self, data: bytes, want: FrameType) -> bytes:
        self._writer.write(data)
        await self._writer.drain()
        while True:
            batch = await self._frames.frames()
            if not batch:
                raise ConnectionError("the hub closed the query session")
            for ftype, body in batch:
                if ftype == FrameType.CERT:
                    _learn(self._keys, body)
                elif ftype == FrameType.ERROR:
                    raise HubRefused(body[1:].decode(errors="replace"))
                elif ftype == want:
                    return body

    async def list_reports(self, after: int = 0, limit: int = 100) -> list[Listing]:
        self._request += 1
        body = await self._ask(frames.list_request(self._request, after, limit), FrameType.LISTED)
        return [Listing(*row) for row in frames.parse_listed(body)[1]]

    async def fetch(self, msg_id: bytes) -> Envelope | None:
        """The report, its origin's signature checked; None if absent or not released to us."""
        self._request += 1
        body = await self._ask(frames.fetch(self._request, msg_id), FrameType.FETCHED)
        raw = frames.parse_fetched(body)[1]
        if raw is None:
            return None
        env = decode(raw)
        why = self._keys.check(env)
        if why is not None:
            raise pki.PkiError(f"fetched report {msg_id.hex()} fails its check: {why}")
        return env


@asynccontextmanager
async def query(pki_root: Path, party: str, hub: HubAddress) -> AsyncIterator[Query]:
    keys = _key_ring(pki_root)
    signer = signing.Signer.load(pki_root, party)
    writer, fr, early = await _connect(
        pki_root, party, hub, Mode.QUERY, (0, 0, 0), signer.certificate_der, keys
    )
    for ftype, body in early:
        if ftype == FrameType.CERT:
            _learn(keys, body)
    try:
        yield Query(writer, fr, keys)
    finally:
        writer.transport.abort()
