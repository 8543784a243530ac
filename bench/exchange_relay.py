"""The exchange benchmark's baseline: a minimal asyncio TCP fan-out relay, and its client.

No TLS, no signatures, no storage, no acknowledgements. A frame is a u32 length and a body:
u8 count of destinations, each a u8 length and the party name, a u64 send time (ns since
the epoch, stamped when the frame is built, as an envelope's time is at sealing), then the
payload. A client's first frame names it. The relay forwards each frame, as is, to the
clients it names; what one read brings is split, grouped by destination and written once
per destination (as the hub writes its deliveries), with asyncio's own flow control.

    python bench/exchange_relay.py serve --port 0 --ready-file F
    python bench/exchange_relay.py client --relay 127.0.0.1:PORT --party KR --rate R \
        --duration S --payload-bytes 256 --fanout one|all --parties KR,US,... --out r.json

The client paces, records and stops exactly as bench/exchange_party.py does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
import time
from collections import defaultdict
from pathlib import Path

from exchange_party import (
    Labels,
    Recorder,
    common_args,
    drain,
    mark_ready,
    produce,
    wait_start,
    write_result,
    write_sent,
)

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
READ_CHUNK = 256 * 1024


def split(buf: bytearray) -> list[bytes]:
    """Complete frames (length prefix included) off the front of `buf`."""
    out: list[bytes] = []
    pos = 0
    while len(buf) - pos >= 4:
        (size,) = _U32.unpack_from(buf, pos)
        if len(buf) - pos < 4 + size:
            break
        out.append(bytes(buf[pos : pos + 4 + size]))
        pos += 4 + size
    del buf[:pos]
    return out


def destinations(frame: bytes) -> tuple[list[str], int]:
    """The destination names and the offset just past them."""
    n = frame[4]
    pos = 5
    names = []
    for _ in range(n):
        m = frame[pos]
        names.append(frame[pos + 1 : pos + 1 + m].decode("ascii"))
        pos += 1 + m
    return names, pos


def build(dests: list[str], payload: bytes) -> bytes:
    head = bytearray([len(dests)])
    for d in dests:
        head.append(len(d))
        head += d.encode("ascii")
    body = bytes(head) + _U64.pack(time.time_ns()) + payload
    return _U32.pack(len(body)) + body


# -- the relay ---------------------------------------------------------------------------


class Relay:
    def __init__(self) -> None:
        self.clients: dict[str, asyncio.StreamWriter] = {}

    async def connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buf = bytearray()
        name = None
        try:
            while chunk := await reader.read(READ_CHUNK):
                buf += chunk
                frames = split(buf)
                if name is None and frames:
                    name = frames.pop(0)[4:].decode("ascii")
                    self.clients[name] = writer
                out: dict[str, list[bytes]] = defaultdict(list)
                for f in frames:
                    for d in destinations(f)[0]:
                        out[d].append(f)
                targets = [self.clients[d] for d in out if d in self.clients]
                for d, fs in out.items():
                    w = self.clients.get(d)
                    if w is not None and not w.is_closing():
                        w.write(b"".join(fs))
                for w in targets:
                    if not w.is_closing():
                        await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if name is not None and self.clients.get(name) is writer:
                del self.clients[name]
            writer.transport.abort()


async def serve(args: argparse.Namespace) -> None:
    relay = Relay()
    server = await asyncio.start_server(relay.connected, "127.0.0.1", args.port)
    port = server.sockets[0].getsockname()[1]
    if args.ready_file:
        tmp = Path(args.ready_file + ".tmp")
        tmp.write_text(json.dumps({"port": port}))
        tmp.replace(args.ready_file)
    async with server:
        await server.serve_forever()


# -- the client --------------------------------------------------------------------------


async def client(args: argparse.Namespace) -> None:
    host, _, port = args.relay.rpartition(":")
    parties = args.parties.split(",")
    labels = Labels(args.party, parties, args.fanout, args.seed)
    rec = Recorder()
    payload = os.urandom(args.payload_bytes)
    reader, writer = await asyncio.open_connection(host, int(port))
    name = args.party.encode("ascii")
    writer.write(_U32.pack(len(name)) + name)
    await writer.drain()

    async def consume() -> None:
        buf = bytearray()
        while chunk := await reader.read(READ_CHUNK):
            now = time.time_ns()  # one stamp per read, as the node stamps a stored batch
            buf += chunk
            for f in split(buf):
                pos = destinations(f)[1]
                rec.add(_U64.unpack_from(f, pos)[0], now)

    async def publish(batch: list[list[str]]) -> None:
        writer.write(b"".join(build(dests, payload) for dests in batch))
        if args.rate <= 0:
            await writer.drain()  # as fast as possible: TCP's flow control holds us back

    def flushed() -> bool:
        return writer.transport.get_write_buffer_size() == 0

    consumer = asyncio.create_task(consume())
    try:
        mark_ready(args)
        start = await wait_start(args)
        rec.window = (int(start * 1e9), int((start + args.duration) * 1e9))
        sent = await produce(args, labels, publish, lambda: 1 << 30, rec)
        await writer.drain()
        write_sent(Path(args.out), args.party, labels.counts)
        status = await drain(args, rec, labels.others, flushed)
        write_result(args, rec, sent, labels, {"drain": status})
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        writer.transport.abort()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--ready-file")
    c = sub.add_parser("client")
    c.add_argument("--relay", required=True, help="HOST:PORT")
    common_args(c)
    args = parser.parse_args()
    asyncio.run(serve(args) if args.mode == "serve" else client(args))
