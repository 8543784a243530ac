"""One party's connection to the hub: its published messages in, its deliveries out.

Deliveries come from the messages just stored for the party while it keeps up, from the
store otherwise: a slow or stalled party holds one batch of memory and delays nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from typing import TYPE_CHECKING

from warnlink.exchange import frames, pki
from warnlink.exchange.envelope import Lane
from warnlink.exchange.frames import FrameType, ProtocolError, Reason
from warnlink.exchange.logs import event
from warnlink.exchange.store import Accepted, Stored

if TYPE_CHECKING:
    from warnlink.exchange.hub import Hub

log = logging.getLogger("warnlink.hub")
LANES = tuple(Lane)
DISK_BATCH = 512
MEMORY_BATCH = 4 * DISK_BATCH  # messages held for a session between two sends, at most
MEMORY_BYTES = 8 * 2**20  # ... and bytes


class Rejected(Exception):
    """A published message the hub refuses, with the reason its REJECT frame carries."""

    def __init__(self, reason: Reason, text: str, seq: int = 0) -> None:
        super().__init__(text)
        self.reason = reason
        self.seq = seq


class Session:
    """One party's connection: its published messages in, its deliveries out."""

    def __init__(
        self, hub: Hub, party: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
        peer: str,
    ) -> None:  # fmt: skip
        self.hub = hub
        self.party = party
        self.peer = peer
        self.writer = writer
        cfg = hub.config
        self.frames = frames.FrameReader(reader, idle_s=cfg.idle_s, frame_s=cfg.frame_s)
        self.sent = [0, 0, 0]
        self.wake = asyncio.Event()
        self.done = asyncio.Event()
        self.mode = frames.Mode.NODE
        self._early: list[tuple[FrameType, bytes]] = []
        # Messages stored for this party since its last read from the store began; None
        # when that read was incomplete or this list overflowed (then the store decides).
        self._fresh: list[Stored] | None = None
        self._fresh_bytes = 0
        self._parked = False  # `_deliver` waits, having sent all it had

    def offer(self, stored: Stored) -> None:
        """A message for this party was just stored: keep it for the next send, and wake."""
        fresh = self._fresh
        if fresh is not None:
            self._fresh_bytes += len(stored.raw)
            if len(fresh) < MEMORY_BATCH and self._fresh_bytes <= MEMORY_BYTES:
                fresh.append(stored)
            else:
                self._fresh = None  # a slow reader: back to the store, memory stays bounded
        self.wake.set()

    def flush(self) -> None:
        """Send what was just offered now, if `_deliver` is parked with nothing left to
        send (so nothing older is in flight) and the connection is not backed up; else
        leave it to `_deliver`, which drains the connection between sends."""
        fresh = self._fresh
        if not (self._parked and fresh) or self.writer.transport.get_write_buffer_size():
            return
        self._fresh, self._fresh_bytes = [], 0
        fresh.sort(key=lambda r: (r.lane, r.hseq))
        self._send_rows(fresh)
        self.wake.clear()  # nothing left for `_deliver`

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def abort(self) -> None:
        self.writer.transport.abort()

    async def shutdown(self) -> None:
        """Flush what is queued (an ERROR saying why) for up to a second, then drop."""
        self.writer.close()
        with contextlib.suppress(TimeoutError, OSError, ssl.SSLError):
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        self.abort()

    async def run(self, *, deliver: bool = False) -> None:
        deliverer: asyncio.Task[None] | None = None
        try:
            if deliver:
                deliverer = asyncio.create_task(self._deliver())
            if self._early:
                await self._handle(self._early)
            while batch := await self.frames.frames():
                await self._handle(batch)
            event(log, "disconnected", party=self.party)
        except ProtocolError as exc:
            self.refuse(exc.reason, str(exc))
        except (ConnectionError, OSError) as exc:
            event(log, "connection_lost", party=self.party, error=str(exc))
        finally:
            if deliverer is not None:
                deliverer.cancel()
                await asyncio.gather(deliverer, return_exceptions=True)
            await self.shutdown()

    def refuse(self, reason: Reason, text: str) -> None:
        self.hub.metrics.rejected.labels(self.party, reason.name.lower()).inc()
        event(
            log,
            "session_refused",
            logging.WARNING,
            party=self.party,
            reason=reason.name,
            detail=text,
        )
        self.send(frames.error(reason, text))

    async def hello(self) -> frames.Mode:
        """Read HELLO: the session's mode, resume cursors and signing certificate."""
        batch = await self.frames.frames()
        if not batch or batch[0][0] != FrameType.HELLO:
            raise ProtocolError(Reason.PROTOCOL, "the first frame must be HELLO")
        self.mode, cursors, cert = frames.parse_hello(batch[0][1])
        try:
            await self.hub.learn_cert(self.party, cert)
        except pki.PkiError as exc:
            raise ProtocolError(Reason.CERTIFICATE, f"signing certificate: {exc}") from None
        self.sent = list(cursors)
        for lane, hseq in zip(LANES, cursors, strict=True):
            self.hub.acknowledge(self.party, lane, hseq)
        welcome = frames.frame(FrameType.WELCOME, self.party.encode())
        certs = b"".join(frames.frame(FrameType.CERT, d) for d in self.hub.keys.der.values())
        self.send(welcome + certs)
        event(log, "connected", party=self.party, peer=self.peer, mode=self.mode.name,
              cursors=cursors)  # fmt: skip
        self._early = batch[1:]
        return self.mode

    async def _handle(self, batch: list[tuple[FrameType, bytes]]) -> None:
        accepted: list[Accepted] = []
        replies: list[bytes] = []
        for ftype, body in batch:
            if ftype == FrameType.PUBLISH and self.mode == frames.Mode.NODE:
                await self._publish(body, accepted, replies)
            elif ftype == FrameType.RECEIVED:
                lane, hseq = frames.parse_received(body)
                self.hub.acknowledge(self.party, lane, min(hseq, self.sent[lane]))
            elif ftype == FrameType.PING:
                replies.append(frames.frame(FrameType.PONG))
            elif ftype == FrameType.LIST:
                request, after, limit = frames.parse_list(body)
                rows = await self.hub.reports(self.party, after, min(limit, 1000))
                replies.append(frames.listed(request, [
                    (r.hseq, r.id, r.origin, r.seq, r.time_ns, r.size, r.title) for r in rows
                ]))  # fmt: skip
            elif ftype == FrameType.FETCH:
                request, msg_id = frames.parse_fetch(body)
                raw = await self.hub.read(self.hub.reads.fetch, self.party, msg_id)
                replies.append(frames.fetched(request, raw))
            else:
                raise ProtocolError(Reason.PROTOCOL, f"unexpected {ftype.name} frame")
        if accepted:
            hseqs = await self.hub.commit(accepted)
            assert len(hseqs) == len(accepted)
            replies += [frames.ack(item.envelope.seq, False) for item in accepted]
        if replies:
            self.send(b"".join(replies))
            await self.writer.drain()

    async def _publish(self, raw: bytes, accepted: list[Accepted], replies: list[bytes]) -> None:
        try:
            item = self.hub.check(self.party, raw)
        except Rejected as exc:
            self._reject(exc.seq, exc.reason, str(exc), replies)
            return
        env = item.envelope
        fresh = await self.hub.sequence(env)
        if fresh is None:
            self._reject(env.seq, Reason.REPLAY, f"sequence {env.seq} already used", replies)
        elif fresh:
            accepted.append(item)
        else:
            replies.append(frames.ack(env.seq, True))

    def _reject(self, seq: int, reason: Reason, text: str, replies: list[bytes]) -> None:
        self.hub.metrics.rejected.labels(self.party, reason.name.lower()).inc()
        event(log, "rejected", logging.WARNING, party=self.party, seq=seq, reason=reason.name,
              detail=text)  # fmt: skip
        replies.append(frames.reject(seq, reason, text))

    async def _deliver(self) -> None:
        """Most urgent lane first; from the store, or from memory while keeping up.

        A snapshot of the store holds every hub sequence up to its newest, so reading from
        a cursor can be late but never skip; memory is one batch. Every message stored
        after a read begins is also offered to `_fresh`, so once a read comes back short
        (nothing more at its snapshot), the store's rows and then `_fresh` together miss
        nothing; rows already sent are skipped by hub sequence. The wake is cleared before
        reading, so a message stored meanwhile is never waited past. While it is parked
        with nothing left to send, `flush` sends new messages for it.
        """
        while True:
            self.wake.clear()
            fresh = self._fresh
            if fresh:
                self._fresh, self._fresh_bytes = [], 0
                fresh.sort(key=lambda r: (r.lane, r.hseq))
                await self._write(fresh)
                continue
            if fresh is None:
                self._fresh, self._fresh_bytes = [], 0  # before the read: keep what comes
                rows = await self.hub.pending(self.party, self.sent)
                if rows:
                    await self._write(rows)
                if len(rows) >= DISK_BATCH:
                    self._fresh = None  # more on disk than one read: read again
                    continue
            self._parked = True
            try:
                await self.wake.wait()
            finally:
                self._parked = False

    async def _write(self, rows: list[Stored]) -> None:
        if self._send_rows(rows):
            await self.writer.drain()

    def _send_rows(self, rows: list[Stored]) -> bool:
        """Send the rows not sent yet, in the order given; whether there were any."""
        sent = self.sent
        rows = [r for r in rows if r.hseq > sent[r.lane]]
        if not rows:
            return False
        self.send(b"".join(frames.deliver(r.hseq, r.raw) for r in rows))
        for r in rows:
            sent[r.lane] = max(sent[r.lane], r.hseq)
        now = time.time_ns()
        hist = self.hub.metrics.delivery_seconds.labels(self.party)
        for r in rows:
            hist.observe((now - r.received_ns) / 1e9)
        self.hub.metrics.delivered.labels(self.party).inc(len(rows))
        return True
