"""Hostile clients against the real hub process: each is refused with a logged reason, the
hub stays up, and nothing they sent reaches anyone."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import ssl
import struct
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from conftest import Federation, Proc, RawClient, wait_for

from warnlink.exchange import frames, pki, signing, tls
from warnlink.exchange.envelope import SIGNATURE_SIZE, Kind, seal
from warnlink.exchange.frames import FrameType, Mode, Reason


def _peer(sock: socket.socket) -> str:
    """How the hub names this client in its logs: the client's address and port."""
    host, port = sock.getsockname()[:2]
    return f"{host}:{port}"


def _signer(fed: Federation, party: str) -> signing.Signer:
    return signing.Signer.load(fed.pki, party)


def _rejected(answer: tuple[FrameType, bytes]) -> Reason:
    ftype, body = answer
    assert ftype == FrameType.REJECT, f"expected REJECT, got {ftype.name}"
    return frames.parse_reject(body)[1]


async def _message_attacks(fed: Federation) -> None:
    mal, us = _signer(fed, "MAL"), _signer(fed, "US")
    async with RawClient(fed, "MAL") as c:
        await c.hello()
        ok = seal(mal, seq=1, kind=Kind.WARNING, label=["US"], payload=b"genuine")
        assert (await c.publish(ok.raw))[0] == FrameType.ACK
        # a resend of the same bytes is acknowledged as a duplicate, not stored again
        ftype, body = await c.publish(ok.raw)
        assert ftype == FrameType.ACK and frames.parse_ack(body) == (1, True)
        # wrong origin: US's message on KR's connection
        theirs = seal(us, seq=1, kind=Kind.WARNING, label=["KR"], payload=b"spoof")
        # (MAL is a party in good standing that turns hostile; no node of its own runs)
        assert _rejected(await c.publish(theirs.raw)) == Reason.WRONG_ORIGIN
        # forged signature
        env = seal(mal, seq=2, kind=Kind.WARNING, label=["US"], payload=b"forged")
        forged = env.raw[:-SIGNATURE_SIZE] + bytes(SIGNATURE_SIZE)
        assert _rejected(await c.publish(forged)) == Reason.BAD_SIGNATURE
        # tampered label: released to US, rewritten to JP after signing
        env = seal(mal, seq=3, kind=Kind.WARNING, label=["US"], payload=b"for US only")
        tampered = env.raw.replace(b"\x01\x02US", b"\x01\x02JP", 1)
        assert tampered != env.raw
        assert _rejected(await c.publish(tampered)) == Reason.BAD_SIGNATURE
        # a signed label naming a party the federation does not have
        env = seal(mal, seq=4, kind=Kind.WARNING, label=["XX"], payload=b"nobody")
        assert _rejected(await c.publish(env.raw)) == Reason.BAD_LABEL
        # replayed sequence with new content
        env = seal(mal, seq=1, kind=Kind.WARNING, label=["US"], payload=b"replay")
        assert _rejected(await c.publish(env.raw)) == Reason.REPLAY
        # truncated envelope
        assert _rejected(await c.publish(ok.raw[:40])) == Reason.MALFORMED


async def _oversized(fed: Federation) -> Reason:
    async with RawClient(fed, "MAL") as c:
        await c.hello()
        c.writer.write(struct.pack(">IB", frames.MAX_FRAME + 1, FrameType.PUBLISH))
        return await c.closed_with_error()


async def _garbage_after_hello(fed: Federation) -> Reason:
    async with RawClient(fed, "MAL") as c:
        await c.hello()
        c.writer.write(b"\x00\x00\x00\x09\x99" + os.urandom(200))
        return await c.closed_with_error()


async def _garbage_instead_of_tls(fed: Federation) -> tuple[bytes, str]:
    sock = socket.create_connection(("127.0.0.1", fed.port))
    peer = _peer(sock)
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(os.urandom(300))
    try:
        return await asyncio.wait_for(reader.read(), 10), peer
    except ConnectionError:
        return b"", peer
    finally:
        writer.transport.abort()


async def _slow(fed: Federation) -> tuple[Reason, float]:
    """A client that dribbles a frame one byte at a time is cut off at the deadline."""
    async with RawClient(fed, "MAL") as c:
        await c.hello()
        env = seal(_signer(fed, "MAL"), seq=9, kind=Kind.WARNING, label=["KR"], payload=b"s")
        data = frames.frame(FrameType.PUBLISH, env.raw)
        started = time.monotonic()

        async def dribble() -> None:
            for byte in data:
                c.writer.write(bytes([byte]))
                await asyncio.sleep(0.5)

        task = asyncio.create_task(dribble())
        reason = await c.closed_with_error()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return reason, time.monotonic() - started


async def _handshake(fed: Federation, party: str) -> tuple[bytes, str]:
    """What a party gets back for HELLO, and its address (TLS 1.3 finishes the client's side
    of the handshake before the hub has checked the client's certificate, so refusal shows
    as a close)."""
    ctx = tls.client_context(fed.pki, party)
    sock = socket.create_connection(("127.0.0.1", fed.port))
    peer = _peer(sock)
    try:
        reader, writer = await asyncio.open_connection(
            sock=sock, ssl=ctx, server_hostname="localhost"
        )
        cert = signing.Signer.load(fed.pki, party).certificate_der
        writer.write(frames.hello(Mode.NODE, (0, 0, 0), cert))
        try:
            return await asyncio.wait_for(reader.read(100), 10), peer
        finally:
            writer.transport.abort()
    except (ssl.SSLError, ConnectionError):
        return b"", peer
    finally:
        sock.close()


async def _stalled_handshake(fed: Federation, first: bytes) -> tuple[bytes, str, float]:
    """A client that sends `first` (nothing, or the start of a ClientHello) one byte every
    half second and never finishes the handshake: what it reads, its address, how long."""
    sock = socket.create_connection(("127.0.0.1", fed.port))
    peer = _peer(sock)
    reader, writer = await asyncio.open_connection(sock=sock)
    started = time.monotonic()

    async def dribble() -> None:
        for byte in first:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.5)

    task = asyncio.create_task(dribble())
    try:
        got = await asyncio.wait_for(reader.read(), 10)
    except ConnectionError:
        got = b""
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        writer.transport.abort()
    return got, peer, time.monotonic() - started


def _refusals(hub: Proc) -> dict[str, str]:
    """The hub's connection_refused log lines: peer -> reason."""
    return {str(e["peer"]): str(e["reason"])
            for e in hub.events() if e["event"] == "connection_refused"}  # fmt: skip


@pytest.mark.slow
def test_hostile_clients_are_refused_and_nothing_leaks(federation: Federation) -> None:
    fed = federation
    past = datetime.now(UTC) - timedelta(days=30)
    pki.issue_party(fed.pki, "OLD", not_before=past - timedelta(days=30), not_after=past)
    pki.issue_party(fed.pki, "GONE")
    pki.issue_party(fed.pki, "MAL")
    pki.revoke(fed.pki, party="GONE", reason="keyCompromise")
    hub = fed.start_hub("--idle-timeout", "6", "--frame-timeout", "2")
    for party in ("KR", "US", "JP"):
        fed.start_node(party)

    asyncio.run(_message_attacks(fed))
    assert asyncio.run(_oversized(fed)) == Reason.OVERSIZED
    assert asyncio.run(_garbage_after_hello(fed)) == Reason.PROTOCOL
    garbage, garbage_peer = asyncio.run(_garbage_instead_of_tls(fed))
    assert garbage == b""
    reason, took = asyncio.run(_slow(fed))
    assert reason == Reason.TIMEOUT and took < 6
    expired, old_peer = asyncio.run(_handshake(fed, "OLD"))
    revoked, gone_peer = asyncio.run(_handshake(fed, "GONE"))
    assert expired == revoked == b""
    # a handshake that never starts, or dribbles in a byte at a time, is cut at the
    # handshake deadline (--frame-timeout, 2 s here)
    silent, silent_peer, silent_took = asyncio.run(_stalled_handshake(fed, b""))
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(20)
    dribbled, dribble_peer, dribble_took = asyncio.run(_stalled_handshake(fed, hello))
    assert silent == dribbled == b""
    assert 1.5 < silent_took < 6 and 1.5 < dribble_took < 6

    # the hub is up and still serves the honest parties
    assert hub.alive
    us = fed.store("US")
    fed.publish("KR", [(Kind.WARNING, ["US"], b"after the attacks")])
    wait_for(lambda: any(r.envelope.payload == b"after the attacks" for r in us.inbox()), 20,
             "an honest message after the attacks")  # fmt: skip

    # nothing hostile was stored or delivered
    payloads = {r.envelope.payload for p in ("KR", "US", "JP")
                for r in fed.store(p).inbox()}  # fmt: skip
    assert payloads == {b"genuine", b"after the attacks"}
    db = sqlite3.connect(fed.root / "hub" / "hub.db")
    stored = [row[0] for row in db.execute("SELECT envelope FROM messages")]
    assert len(stored) == 2

    # every refusal was logged with its reason and counted per party
    events = hub.events()
    reasons = {
        str(e.get("reason")) for e in events if e["event"] in ("rejected", "session_refused")
    }
    assert {"WRONG_ORIGIN", "BAD_SIGNATURE", "BAD_LABEL", "REPLAY", "MALFORMED", "OVERSIZED",
            "PROTOCOL", "TIMEOUT"} <= reasons  # fmt: skip
    # ... and each refused handshake with the client's address and why
    refused = _refusals(hub)
    assert "expired" in refused[old_peer] and "revoked" in refused[gone_peer]
    assert "within 2 s" in refused[silent_peer] and "within 2 s" in refused[dribble_peer]
    assert "SSL" in refused[garbage_peer]
    text = urllib.request.urlopen(f"http://127.0.0.1:{fed.metrics_port}/metrics").read().decode()
    assert 'warnlink_hub_rejected_total{party="MAL",reason="bad_signature"} 2.0' in text
    assert 'warnlink_hub_accepted_total{kind="warning",party="MAL"} 1.0' in text
    assert 'warnlink_hub_rejected_total{party="?",reason="timeout"} 2.0' in text


def test_a_revocation_while_the_hub_runs_refuses_the_next_connection(
    federation: Federation,
) -> None:
    """The listening socket's handshake checks each client against the CRL as it is now,
    not as it was when the hub started, and the refusal is logged with its reason."""
    fed = federation
    hub = fed.start_hub()
    welcome, _ = asyncio.run(_handshake(fed, "JP"))
    assert welcome[4] == FrameType.WELCOME
    pki.revoke(fed.pki, party="JP", reason="keyCompromise")
    answer, peer = asyncio.run(_handshake(fed, "JP"))
    assert answer == b""
    assert asyncio.run(_handshake(fed, "KR"))[0][4] == FrameType.WELCOME  # the others still can
    refused = _refusals(hub)
    assert list(refused) == [peer] and "revoked" in refused[peer]
    assert hub.alive


async def _mixed_write(fed: Federation) -> dict[int, tuple[FrameType, Reason | None]]:
    """Good, forged, good, tampered, good: five PUBLISH frames in one write (one read at
    the hub); the hub's answer to each sequence."""
    jp = _signer(fed, "JP")
    raws = []
    for seq in range(1, 6):
        env = seal(jp, seq=seq, kind=Kind.WARNING, label=["US"], payload=b"m%d" % seq)
        raw = env.raw
        if seq == 2:
            raw = raw[:-SIGNATURE_SIZE] + bytes(SIGNATURE_SIZE)
        elif seq == 4:
            raw = raw.replace(b"\x01\x02US", b"\x01\x02KR", 1)
        raws.append(raw)
    async with RawClient(fed, "JP") as c:
        await c.hello()
        c.writer.write(b"".join(frames.frame(FrameType.PUBLISH, r) for r in raws))
        answers: dict[int, tuple[FrameType, Reason | None]] = {}
        while len(answers) < 5:
            for ftype, body in await c.frames.frames():
                if ftype == FrameType.ACK:
                    answers[frames.parse_ack(body)[0]] = (ftype, None)
                elif ftype == FrameType.REJECT:
                    seq, reason, _ = frames.parse_reject(body)
                    answers[seq] = (ftype, reason)
        return answers


def test_forged_among_good_in_one_read_only_the_bad_are_refused(federation: Federation) -> None:
    """Each message of a read is judged alone: the forged and the tampered one are refused
    with a logged reason, the others stored and delivered in their order."""
    fed = federation
    hub = fed.start_hub()
    fed.start_node("US")
    answers = asyncio.run(_mixed_write(fed))
    assert answers == {
        1: (FrameType.ACK, None),
        2: (FrameType.REJECT, Reason.BAD_SIGNATURE),
        3: (FrameType.ACK, None),
        4: (FrameType.REJECT, Reason.BAD_SIGNATURE),
        5: (FrameType.ACK, None),
    }
    us = fed.store("US")
    wait_for(lambda: len(us.inbox()) == 3, 20, "the three good messages at US")
    assert [(r.envelope.seq, r.envelope.payload) for r in us.inbox()] == [
        (1, b"m1"), (3, b"m3"), (5, b"m5"),
    ]  # fmt: skip
    logged = {
        (e.get("seq"), e.get("reason")) for e in hub.events() if e["event"] == "rejected"
    }  # fmt: skip
    assert logged == {(2, "BAD_SIGNATURE"), (4, "BAD_SIGNATURE")}
