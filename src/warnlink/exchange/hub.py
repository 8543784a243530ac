"""The hub: authenticates parties by certificate, checks, stores and routes their messages.

Every accepted message is committed (group commit across connections) before its ACK;
each recipient is then fed from the store, from its own cursor, one batch at a time: a
slow or stalled party holds one batch of memory and delays nobody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sqlite3
import ssl
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import msgspec

from warnlink.exchange import frames, intel, metrics, pki, signing, tls
from warnlink.exchange.envelope import Envelope, EnvelopeError, Kind, Lane, decode
from warnlink.exchange.frames import FrameType, ProtocolError, Reason
from warnlink.exchange.logs import event
from warnlink.exchange.session import Rejected, Session
from warnlink.exchange.store import (
    Accepted,
    Checkpointer,
    HubStore,
    Listing,
    SqliteStore,
    Stored,
    Sync,
)

log = logging.getLogger("warnlink.hub")
T = TypeVar("T")
LANES = tuple(Lane)
DISK_BATCH = 512
_REASON_OF = {
    "malformed": Reason.MALFORMED,
    "bad_label": Reason.BAD_LABEL,
    "oversized": Reason.OVERSIZED,
    "unknown_kind": Reason.UNKNOWN_KIND,
}


@dataclass
class HubConfig:
    pki: Path
    data: Path
    host: str = "127.0.0.1"
    port: int = 7400
    metrics_port: int | None = None
    sync: Sync = "normal"
    idle_s: float = 30.0
    frame_s: float = 10.0
    handshake_s: float = 10.0


class Hub:
    def __init__(self, config: HubConfig) -> None:
        self.config = config
        config.data.mkdir(parents=True, exist_ok=True)
        store = SqliteStore(config.data / "hub.db", sync=config.sync)
        self.store: HubStore = store
        self.reads: HubStore = store.reader()
        self._checkpointer = Checkpointer(store.path)
        # One thread per connection, so that no two statements ever share a connection's
        # transaction: a read that joined another's would see a stale snapshot. (With
        # --sync normal the writer's thread is the loop's, see `write`.)
        self._write_pool = ThreadPoolExecutor(1, "hub-write")
        self._read_pool = ThreadPoolExecutor(1, "hub-read")
        self.metrics = metrics.HubMetrics()
        self.keys = signing.KeyRing(signing.SigningCertificates.for_root(config.pki))
        self.last_seq = self.store.last_seqs()
        self.acked = self.store.cursors()
        self._dirty: set[tuple[str, int]] = set()
        self.sessions: dict[str, Session] = {}
        self._commits: asyncio.Queue[tuple[list[Accepted], asyncio.Future[list[int]]]]
        self._ssl: tuple[float, ssl.SSLContext] | None = None
        self._roster: tuple[float, frozenset[str]] | None = None
        self._servers: list[asyncio.Server] = []
        self._listener: socket.socket
        self._connections: set[asyncio.Task[None]] = set()
        self.tasks: list[asyncio.Task[None]] = []  # they run for ever unless the store fails
        for origin, _, der in self.store.certs():
            try:
                self.keys.add(der, origin)
            except pki.PkiError as exc:
                event(log, "stored_cert_dropped", logging.WARNING, party=origin, reason=str(exc))

    async def start(self) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        self._commits = asyncio.Queue()
        self.tasks.append(asyncio.create_task(self._committer()))
        self.tasks.append(asyncio.create_task(self._save_cursors()))
        self.tasks.append(asyncio.create_task(self._checkpointer.run()))
        self._listener = await self._listen()
        self.tasks.append(asyncio.create_task(self._accept(self._listener)))
        port: int = self._listener.getsockname()[1]
        if self.config.metrics_port is not None:
            mserver = await metrics.serve(
                self.config.host, self.config.metrics_port, self._render_metrics
            )
            self._servers.append(mserver)
            self.metrics_port = mserver.sockets[0].getsockname()[1]
        event(log, "listening", host=self.config.host, port=port, sync=self.config.sync)
        return port

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for session in list(self.sessions.values()):
            session.abort()
        tasks = [*self.tasks, *self._connections]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._listener.close()
        with contextlib.suppress(sqlite3.Error):
            await self._flush_cursors()
        self._write_pool.shutdown()
        self._read_pool.shutdown()
        self._checkpointer.close()
        self.store.close()
        self.reads.close()

    # -- connections -------------------------------------------------------------------

    def _server_context(self) -> ssl.SSLContext:
        """The TLS context, rebuilt when the CRL changes so revocations bite at once."""
        mtime = (self.config.pki / "crl.pem").stat().st_mtime
        if self._ssl is None or self._ssl[0] != mtime:
            self._ssl = (mtime, tls.server_context(self.config.pki))
            self.keys.certs.reload_crl()
        return self._ssl[1]

    async def _listen(self) -> socket.socket:
        host, port = self.config.host, self.config.port
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        listener = socket.create_server(infos[0][4][:2], family=infos[0][0], backlog=128)
        listener.setblocking(False)
        return listener

    async def _accept(self, listener: socket.socket) -> None:
        """Accept connections; each one's TLS handshake runs in a task of its own.

        The hub accepts the sockets itself, so that it knows who is at the other end of a
        handshake that fails or stalls (a listening socket with TLS would hide both), and
        hands each one to the loop's TLS layer (uvloop's, in C) with the context whose CRL
        is the current one.
        """
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, address = await loop.sock_accept(listener)
            except OSError as exc:  # out of file descriptors, say: try again shortly
                event(log, "accept_failed", logging.ERROR, error=str(exc))
                await asyncio.sleep(0.1)
                continue
            with contextlib.suppress(OSError):  # small frames, sent at once (no Nagle)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = asyncio.create_task(self._handshake(sock, f"{address[0]}:{address[1]}"))
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)

    async def _handshake(self, sock: socket.socket, peer: str) -> None:
        """TLS with a just accepted socket; a failed or stalled handshake is logged as
        refused, with the peer's address and why, and the socket closed."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            context = self._server_context()
        except (pki.PkiError, OSError) as exc:
            sock.close()
            self._refused(peer, "certificate", str(exc))
            return
        try:
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol, sock, ssl=context,
                ssl_handshake_timeout=self.config.handshake_s,
            )  # fmt: skip
        except ConnectionAbortedError:  # the loop's TLS layer gave up waiting
            text = f"TLS handshake not done within {self.config.handshake_s:g} s"
            self._refused(peer, "timeout", text)
            return
        except OSError as exc:  # ssl.SSLError: a bad certificate, not TLS at all; or a reset
            self._refused(peer, "handshake", str(exc) or "closed during the TLS handshake")
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        await self._connected(reader, writer, peer)

    def _refused(self, peer: str, why: str, text: str) -> None:
        """Log and count a connection refused before it had a party (`why` is the label)."""
        self.metrics.rejected.labels("?", why).inc()
        event(log, "connection_refused", logging.WARNING, peer=peer, reason=text)

    def roster(self) -> frozenset[str]:
        """Parties a label may name: those the federation PKI has issued certificates to
        (the index is looked at again at most once a second)."""
        now = time.monotonic()
        if self._roster is None or now - self._roster[0] > 1.0:
            parties = {r.party for r in pki.listing(self.config.pki) if r.party is not None}
            self._roster = (now, frozenset(parties))
        return self._roster[1]

    async def _connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        try:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
            party = tls.peer_party(der)
        except pki.PkiError as exc:
            self._refused(peer, "certificate", str(exc))
            writer.transport.abort()
            return
        session = Session(self, party, reader, writer, peer)
        try:
            mode = await session.hello()
        except (ProtocolError, ConnectionError, OSError) as exc:
            reason = exc.reason if isinstance(exc, ProtocolError) else Reason.PROTOCOL
            session.refuse(reason, str(exc))
            await session.shutdown()
            return
        if mode == frames.Mode.QUERY:
            await session.run()
            return
        old = self.sessions.get(party)
        if old is not None:
            event(log, "session_replaced", party=party)
            old.send(frames.error(Reason.REPLACED, "a newer connection of this party took over"))
            old.abort()
            await old.done.wait()
        self.sessions[party] = session
        self.metrics.connected.labels(party).set(1)
        try:
            await session.run(deliver=True)
        finally:
            if self.sessions.get(party) is session:
                del self.sessions[party]
                self.metrics.connected.labels(party).set(0)
            session.done.set()

    # -- signing keys ------------------------------------------------------------------

    async def write(self, fn: Callable[..., T], *args: object) -> T:
        """Run on the writer connection's thread: the loop's own with --sync normal.

        Without an fsync a commit is a few page writes, cheaper than the hand-off to a
        thread and back (which also waits for the GIL while the loop is busy); with
        --sync full it waits for the disk, which the loop must not.
        """
        if self.config.sync == "normal":
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self._write_pool, fn, *args)

    async def read(self, fn: Callable[..., T], *args: object) -> T:
        """Run on the reader connection's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._read_pool, fn, *args)

    async def learn_cert(self, party: str, der: bytes) -> None:
        """Check a party's signing certificate, keep it, and pass it on to every session."""
        new = self.keys.add(der, party)
        if new is not None:
            await self.write(self.store.put_cert, party, new.key_id, der)
            for session in self.sessions.values():
                session.send(frames.frame(FrameType.CERT, der))

    # -- accepting ---------------------------------------------------------------------

    def check(self, party: str, raw: bytes) -> Accepted:
        """Accept or refuse one published envelope; Rejected says why."""
        try:
            env = decode(raw)
        except EnvelopeError as exc:
            raise Rejected(_REASON_OF.get(exc.reason, Reason.MALFORMED), str(exc)) from None
        seq = env.seq
        if env.origin != party:
            raise Rejected(Reason.WRONG_ORIGIN, f"origin {env.origin}, connected as {party}", seq)
        why = self.keys.check(env)
        if why == "unknown_key":
            raise Rejected(Reason.UNKNOWN_KEY, f"no signing key {env.key_id.hex()}", seq)
        if why is not None:
            raise Rejected(Reason.BAD_SIGNATURE, "signature does not verify", seq)
        recipients = env.recipients()
        unknown = set(env.label) - self.roster()
        if unknown or not recipients:
            why = f"unknown parties {sorted(unknown)}" if unknown else "no recipient"
            raise Rejected(Reason.BAD_LABEL, why, seq)
        title = None
        if env.kind == Kind.INTEL_REPORT:
            try:
                title = intel.decode(env.payload).title
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise Rejected(Reason.MALFORMED, f"intel report payload: {exc}", seq) from None
        return Accepted(env, recipients, time.time_ns(), title)

    async def sequence(self, env: Envelope) -> bool | None:
        """True for a new sequence, False for a resend of a stored one, None for a replay."""
        key = (env.origin, int(env.lane))
        if env.seq > self.last_seq.get(key, 0):
            self.last_seq[key] = env.seq
            return True
        stored = await self.read(self.reads.find, env.origin, env.seq)
        return False if stored == env.raw else None

    async def commit(self, batch: list[Accepted]) -> list[int]:
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        await self._commits.put((batch, future))
        return await future

    async def _committer(self) -> None:
        """Group commit: everything queued since the last commit goes in one (what arrived
        while it ran on the writer thread, or in the same turn of the loop with --sync
        normal, where it runs on the loop's thread)."""
        while True:
            jobs = [await self._commits.get()]
            while not self._commits.empty():
                jobs.append(self._commits.get_nowait())
            batch = [item for items, _ in jobs for item in items]
            started = time.perf_counter()
            try:
                hseqs = await self.write(self.store.append, batch)
            except Exception as exc:
                event(log, "store_failed", logging.CRITICAL, error=str(exc))
                for _, future in jobs:
                    future.set_exception(exc)
                raise
            self.metrics.commit_seconds.observe(time.perf_counter() - started)
            self._route(batch, hseqs)  # deliveries go out before the ACKs below
            pos = 0
            for items, future in jobs:
                future.set_result(hseqs[pos : pos + len(items)])
                pos += len(items)

    def _route(self, batch: list[Accepted], hseqs: list[int]) -> None:
        """Hand each stored message to its recipients' sessions, which send it at once if
        they are keeping up (`Session.flush`), else wake to (see Session._deliver).

        Sending here, in the commit's own turn of the loop, rather than a turn or more
        later from each session's task, saved milliseconds at light load on a busy
        machine: every turn the hub waits for is one more chance to lose the CPU.
        """
        sessions = self.sessions
        counts: Counter[tuple[str, Kind]] = Counter()
        offered: dict[str, Session] = {}
        for item, hseq in zip(batch, hseqs, strict=True):
            env = item.envelope
            counts[env.origin, env.kind] += 1
            stored: Stored | None = None
            for party in item.recipients:
                session = sessions.get(party)
                if session is not None:
                    if stored is None:
                        stored = Stored(hseq, int(env.lane), item.received_ns, env.raw)
                    session.offer(stored)
                    offered[party] = session
        for session in offered.values():
            session.flush()
        for (origin, kind), n in counts.items():
            self.metrics.accepted.labels(origin, kind.name.lower()).inc(n)

    async def reports(self, party: str, after: int, limit: int) -> list[Listing]:
        """Intelligence reports `party` may see, after hub sequence `after`."""
        return await self.read(self.reads.listing, party, Kind.INTEL_REPORT, after, limit)

    async def pending(self, party: str, cursors: list[int]) -> list[Stored]:
        return await self.read(self.reads.pending, party, list(cursors), DISK_BATCH)

    # -- cursors and metrics -----------------------------------------------------------

    def acknowledge(self, party: str, lane: int, hseq: int) -> None:
        """A party has stored everything in `lane` up to `hseq` (its RECEIVED or HELLO)."""
        key = (party, int(lane))
        if hseq > self.acked.get(key, 0):
            self.acked[key] = hseq
            self._dirty.add(key)

    async def _save_cursors(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            await self._flush_cursors()

    async def _flush_cursors(self) -> None:
        """Persist the cursors that moved, so lag is right for parties offline after a restart."""
        if self._dirty:
            moved = {key: self.acked[key] for key in self._dirty}
            self._dirty.clear()
            await self.write(self.store.set_cursors, moved)

    async def _render_metrics(self) -> bytes:
        for party in sorted(self.roster()):
            cursors = [self.acked.get((party, lane), 0) for lane in LANES]
            backlog = await self.read(self.reads.backlog, party, cursors)
            self.metrics.lag.labels(party).set(backlog)
        return self.metrics.render()
