"""Frames on the TLS stream between a node and the hub (docs/protocol.md, "Frames").

Reading is deadline-bound: a peer that stalls mid-frame, or sends nothing at all, is cut
off instead of holding a connection (and the memory of its half frame) for ever.
"""

from __future__ import annotations

import asyncio
import struct
import time
from enum import IntEnum

from warnlink.exchange.envelope import MAX_PAYLOAD

PROTOCOL_VERSION = 1
MAX_FRAME = MAX_PAYLOAD + 64 * 1024
READ_CHUNK = 256 * 1024

_HEAD = struct.Struct(">IB")
_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
_ACK = struct.Struct(">QB")
_REJECT = struct.Struct(">QB")
_RECEIVED = struct.Struct(">BQ")
_HELLO = struct.Struct(">HBQQQ")
_LIST = struct.Struct(">IQH")
_LISTED_ROW = struct.Struct(">Q16sQqI")
_FETCH = struct.Struct(">I16s")
_FETCHED = struct.Struct(">IB")


class FrameType(IntEnum):
    HELLO = 0x01
    WELCOME = 0x02
    CERT = 0x03
    PUBLISH = 0x10
    ACK = 0x11
    REJECT = 0x12
    DELIVER = 0x20
    RECEIVED = 0x21
    LIST = 0x30
    LISTED = 0x31
    FETCH = 0x32
    FETCHED = 0x33
    PING = 0x40
    PONG = 0x41
    ERROR = 0x7F


class Reason(IntEnum):
    """Why the hub refused a message or a connection (logged by name, sent as a number)."""

    MALFORMED = 1
    WRONG_ORIGIN = 2
    UNKNOWN_KEY = 3
    BAD_SIGNATURE = 4
    BAD_LABEL = 5
    REPLAY = 6
    OVERSIZED = 7
    UNKNOWN_KIND = 8
    PROTOCOL = 9
    TIMEOUT = 10
    CERTIFICATE = 11
    REPLACED = 12


class ProtocolError(Exception):
    """The peer broke the framing rules; the connection cannot continue."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.name.lower()}: {detail}")
        self.reason = reason


def frame(ftype: FrameType, body: bytes = b"") -> bytes:
    return _HEAD.pack(len(body) + 1, ftype) + body


class Mode(IntEnum):
    """A node session publishes and receives; a query session only lists and fetches."""

    NODE = 0
    QUERY = 1


def hello(mode: Mode, cursors: tuple[int, int, int], signing_cert: bytes) -> bytes:
    body = _HELLO.pack(PROTOCOL_VERSION, mode, *cursors) + signing_cert
    return frame(FrameType.HELLO, body)


def parse_hello(body: bytes) -> tuple[Mode, tuple[int, int, int], bytes]:
    if len(body) < _HELLO.size:
        raise ProtocolError(Reason.PROTOCOL, "short HELLO")
    version, mode, *cursors = _HELLO.unpack_from(body)
    if version != PROTOCOL_VERSION or mode > 1:
        raise ProtocolError(Reason.PROTOCOL, f"protocol version {version} mode {mode}")
    return Mode(mode), (cursors[0], cursors[1], cursors[2]), body[_HELLO.size :]


def ack(seq: int, duplicate: bool) -> bytes:
    return frame(FrameType.ACK, _ACK.pack(seq, int(duplicate)))


def parse_ack(body: bytes) -> tuple[int, bool]:
    seq, dup = _ACK.unpack(body)
    return seq, bool(dup)


def reject(seq: int, reason: Reason, text: str) -> bytes:
    return frame(FrameType.REJECT, _REJECT.pack(seq, reason) + text.encode()[:1000])


def parse_reject(body: bytes) -> tuple[int, Reason, str]:
    seq, reason = _REJECT.unpack_from(body)
    return seq, Reason(reason), body[_REJECT.size :].decode(errors="replace")


def deliver(hseq: int, raw: bytes) -> bytes:
    return _HEAD.pack(len(raw) + 9, FrameType.DELIVER) + _U64.pack(hseq) + raw


def parse_deliver(body: bytes) -> tuple[int, bytes]:
    return _U64.unpack_from(body)[0], body[8:]


def received(lane: int, hseq: int) -> bytes:
    return frame(FrameType.RECEIVED, _RECEIVED.pack(lane, hseq))


def parse_received(body: bytes) -> tuple[int, int]:
    if len(body) != _RECEIVED.size or body[0] > 2:
        raise ProtocolError(Reason.PROTOCOL, "bad RECEIVED")
    lane, hseq = _RECEIVED.unpack(body)
    return lane, hseq


def error(reason: Reason, text: str) -> bytes:
    return frame(FrameType.ERROR, bytes([reason]) + text.encode()[:1000])


def list_request(request: int, after_hseq: int, limit: int) -> bytes:
    return frame(FrameType.LIST, _LIST.pack(request, after_hseq, limit))


def parse_list(body: bytes) -> tuple[int, int, int]:
    if len(body) != _LIST.size:
        raise ProtocolError(Reason.PROTOCOL, "bad LIST")
    request, after, limit = _LIST.unpack(body)
    return request, after, limit


def listed(request: int, rows: list[tuple[int, bytes, str, int, int, int, str]]) -> bytes:
    """Rows: (hseq, id, origin, seq, time_ns, size, title)."""
    out = bytearray(_U32.pack(request))
    out += struct.pack(">H", len(rows))
    for hseq, msg_id, origin, seq, time_ns, size, title in rows:
        out += _LISTED_ROW.pack(hseq, msg_id, seq, time_ns, size)
        out.append(len(origin))
        out += origin.encode("ascii")
        t = title.encode()[:65535]
        out += struct.pack(">H", len(t)) + t
    return frame(FrameType.LISTED, bytes(out))


def parse_listed(body: bytes) -> tuple[int, list[tuple[int, bytes, str, int, int, int, str]]]:
    (request,) = _U32.unpack_from(body)
    (count,) = struct.unpack_from(">H", body, 4)
    pos = 6
    rows = []
    for _ in range(count):
        hseq, msg_id, seq, time_ns, size = _LISTED_ROW.unpack_from(body, pos)
        pos += _LISTED_ROW.size
        n = body[pos]
        origin = body[pos + 1 : pos + 1 + n].decode("ascii")
        pos += 1 + n
        (m,) = struct.unpack_from(">H", body, pos)
        title = body[pos + 2 : pos + 2 + m].decode()
        pos += 2 + m
        rows.append((hseq, msg_id, origin, seq, time_ns, size, title))
    return request, rows


def fetch(request: int, msg_id: bytes) -> bytes:
    return frame(FrameType.FETCH, _FETCH.pack(request, msg_id))


def parse_fetch(body: bytes) -> tuple[int, bytes]:
    if len(body) != _FETCH.size:
        raise ProtocolError(Reason.PROTOCOL, "bad FETCH")
    request, msg_id = _FETCH.unpack(body)
    return request, msg_id


def fetched(request: int, raw: bytes | None) -> bytes:
    return frame(FrameType.FETCHED, _FETCHED.pack(request, raw is None) + (raw or b""))


def parse_fetched(body: bytes) -> tuple[int, bytes | None]:
    request, missing = _FETCHED.unpack_from(body)
    return request, None if missing else body[_FETCHED.size :]


class FrameReader:
    """Splits a stream into frames, enforcing the size limit and the read deadlines.

    `idle_s`: longest silence between frames; `frame_s`: longest time one frame may take
    to arrive once begun (plus one second per MiB, so big reports on slow links pass).
    """

    def __init__(self, reader: asyncio.StreamReader, *, idle_s: float, frame_s: float) -> None:
        self._reader = reader
        self._buf = bytearray()
        self._idle_s = idle_s
        self._frame_s = frame_s

    async def frames(self) -> list[tuple[FrameType, bytes]]:
        """The next batch of complete frames (at least one); [] at a clean end of stream."""
        started: float | None = None
        while True:
            out = self._split()
            if out:
                return out
            need = self._needed()
            now = time.monotonic()
            if not self._buf:
                timeout = self._idle_s
            else:
                started = started if started is not None else now
                timeout = self._frame_s + need / 2**20 - (now - started)
                if timeout <= 0:
                    raise ProtocolError(Reason.TIMEOUT, "a frame took too long to arrive")
            try:
                async with asyncio.timeout(timeout):  # no task per read, as wait_for makes
                    chunk = await self._reader.read(READ_CHUNK)
            except TimeoutError:
                what = "no frame" if not self._buf else "a frame stalled"
                raise ProtocolError(Reason.TIMEOUT, f"{what} for {timeout:.0f} s") from None
            if not chunk:
                if self._buf:
                    raise ProtocolError(Reason.PROTOCOL, "connection closed mid-frame")
                return []
            self._buf += chunk

    def _needed(self) -> int:
        if len(self._buf) < 4:
            return 4
        return int(_U32.unpack_from(self._buf)[0]) + 4

    def _split(self) -> list[tuple[FrameType, bytes]]:
        out: list[tuple[FrameType, bytes]] = []
        buf = self._buf
        pos = 0
        while len(buf) - pos >= 5:
            size, ftype = _HEAD.unpack_from(buf, pos)
            if size > MAX_FRAME or size == 0:
                raise ProtocolError(
                    Reason.OVERSIZED, f"frame of {size} bytes (at most {MAX_FRAME})"
                )
            if len(buf) - pos < 4 + size:
                break
            try:
                kind = FrameType(ftype)
            except ValueError:
                raise ProtocolError(Reason.PROTOCOL, f"unknown frame type {ftype:#x}") from None
            out.append((kind, bytes(buf[pos + 5 : pos + 4 + size])))
            pos += 4 + size
        if pos:
            del buf[:pos]
        elif len(buf) >= 4 and _U32.unpack_from(buf)[0] > MAX_FRAME:
            raise ProtocolError(Reason.OVERSIZED, "frame larger than the limit")
        return out
