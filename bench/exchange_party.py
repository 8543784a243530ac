"""One party of the exchange benchmark, as its own process: publish paced, receive, report.

    python bench/exchange_party.py --pki P --party KR --hub 127.0.0.1:PORT --data DIR \
        --rate R --duration S --payload-bytes 256 --fanout one|all --parties KR,US,... \
        --out result.json [--start-at UNIX_TIME | --start-file PATH]

A `Node` runs in this process (publishing wakes its sender at once). Once connected, the
party writes `<out>.ready`, waits for the common start, publishes Kind.TRACK_REPORT for
`--duration` seconds (rate R per second in batches every ~5 ms; rate 0: as fast as the hub
acknowledges, ~2000 unacknowledged), and meanwhile records, for every message received,
latency = received_ns - envelope.time_ns. After publishing it writes how many messages it
addressed to each party (`sent-<PARTY>.json` beside `--out`), and keeps receiving until it
has what the others say they addressed to it (or the drain timeout), with its own outbox
acknowledged. The result JSON: counts, latencies (ms), receipt window, CPU time, stats.

The pacing, the recording and the stop rule are shared with the baseline relay's client
(bench/exchange_relay.py), so the two are measured identically.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import random
import resource
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

BATCH_S = 0.005  # paced publishing: one batch every 5 ms
UNACKED = 2000  # rate 0: keep about this many unacknowledged
FAST_BATCH = 100  # rate 0: at most this many per publish call
DRAIN_S = 20.0  # after publishing, wait at most this long for the others' messages
IDLE_S = 3.0  # ... or stop once the others are done and nothing has come for this long
AHEAD = 1000  # rate 0: hold off while our deliveries exceed our receipts by this many


def common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--party", required=True)
    p.add_argument("--rate", type=float, default=0.0, help="messages/s to publish, 0 = max")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of publishing")
    p.add_argument("--payload-bytes", type=int, default=256)
    p.add_argument("--fanout", choices=("one", "all"), default="all")
    p.add_argument("--parties", required=True, help="every party, comma-separated")
    p.add_argument("--out", required=True, help="result JSON")
    p.add_argument("--start-at", type=float, help="UNIX time to start publishing at")
    p.add_argument("--start-file", help="wait for this file; it holds the UNIX start time")
    p.add_argument("--drain", type=float, default=DRAIN_S, help="drain timeout (s)")
    p.add_argument("--seed", type=int, default=0)


class Labels:
    """Destinations of each message: one random other party, or all others."""

    def __init__(self, party: str, parties: list[str], fanout: str, seed: int) -> None:
        self.others = [p for p in parties if p != party]
        self.fanout = fanout
        self.rng = random.Random(f"{seed}-{party}")
        self.counts = dict.fromkeys(self.others, 0)

    def next(self) -> list[str]:
        if self.fanout == "all":
            for p in self.others:
                self.counts[p] += 1
            return self.others
        p = self.rng.choice(self.others)
        self.counts[p] += 1
        return [p]


class Recorder:
    """Every receipt's latency (ms) and time; receipts inside the load window counted."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.first_ns = 0
        self.last_ns = 0
        self.in_window = 0
        self.window: tuple[int, int] = (0, 0)
        self.new = asyncio.Event()

    def add(self, sent_ns: int, received_ns: int) -> None:
        self.latencies.append((received_ns - sent_ns) / 1e6)
        if not self.first_ns:
            self.first_ns = received_ns
        self.last_ns = max(self.last_ns, received_ns)
        if self.window[0] <= received_ns < self.window[1]:
            self.in_window += 1
        self.new.set()

    @property
    def count(self) -> int:
        return len(self.latencies)


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def wait_start(args: argparse.Namespace) -> float:
    """The common start time (UNIX s), slept until; CPU time is counted from here."""
    start = args.start_at
    if start is None and args.start_file:
        path = Path(args.start_file)
        while not path.exists():
            await asyncio.sleep(0.01)
        start = float(path.read_text())
    if start is None:
        start = time.time()
    await asyncio.sleep(max(0.0, start - time.time()))
    args.cpu_at_start = cpu_s()
    return float(start)


async def produce(
    args: argparse.Namespace,
    labels: Labels,
    publish: Callable[[list[list[str]]], Awaitable[None]],
    room: Callable[[], int],
    rec: Recorder,
) -> tuple[int, float, float]:
    """Publish for `args.duration` s at `args.rate`/s; returns (published, start, end).

    Rate 0 is as fast as the whole path sustains: while `room()` allows (the node's
    unacknowledged messages) and while we are not more than AHEAD deliveries ahead of
    what we have received ourselves. Under a symmetric load what we have received tracks
    what the others have received from us, so this is an end-to-end window that keeps the
    run from filling the hub's or the kernel's queues; it cannot deadlock, since summed
    over the parties the lead is zero: someone is always free to publish.
    """
    per = len(labels.others) if args.fanout == "all" else 1  # deliveries per message
    t0 = time.time()
    m0 = time.monotonic()
    end = m0 + args.duration
    sent = 0
    if args.rate > 0:
        tick = m0
        while (now := time.monotonic()) < end:
            due = int(args.rate * (now - m0)) + 1 - sent
            if due > 0:
                await publish([labels.next() for _ in range(due)])
                sent += due
            tick += BATCH_S
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
    else:
        while time.monotonic() < end:
            n = min(FAST_BATCH, room())
            if n <= 0:
                await asyncio.sleep(0.001)
                continue
            if sent * per - rec.count > AHEAD:
                rec.new.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(rec.new.wait(), 0.005)
                continue
            await publish([labels.next() for _ in range(n)])
            sent += n
            await asyncio.sleep(0)
    return sent, t0, time.time()


def write_sent(out: Path, party: str, counts: dict[str, int]) -> None:
    tmp = out.parent / f"sent-{party}.json.tmp"
    tmp.write_text(json.dumps(counts))
    tmp.replace(out.parent / f"sent-{party}.json")


def expected(out: Path, party: str, others: list[str]) -> int | None:
    """What the others addressed to us, once every one of them has said."""
    total = 0
    for p in others:
        path = out.parent / f"sent-{p}.json"
        if not path.exists():
            return None
        total += json.loads(path.read_text()).get(party, 0)
    return total


async def drain(
    args: argparse.Namespace,
    rec: Recorder,
    others: list[str],
    flushed: Callable[[], bool],
) -> dict[str, Any]:
    """Receive until we have all the others addressed to us and our own sends are out."""
    out = Path(args.out)
    deadline = time.monotonic() + args.drain
    last_count, last_change = rec.count, time.monotonic()
    want: int | None = None
    while time.monotonic() < deadline:
        want = expected(out, args.party, others)
        done = flushed()
        if done and want is not None and rec.count >= want:
            return {"expected": want, "complete": True}
        if rec.count != last_count:
            last_count, last_change = rec.count, time.monotonic()
        elif done and want is not None and time.monotonic() - last_change > IDLE_S:
            break
        rec.new.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rec.new.wait(), 0.05)
    return {"expected": want, "complete": False, "flushed": flushed()}


def write_result(
    args: argparse.Namespace,
    rec: Recorder,
    sent: tuple[int, float, float],
    labels: Labels,
    extra: dict[str, Any],
) -> None:
    result = {
        "party": args.party,
        "sent": sent[0],
        "sent_to": labels.counts,
        "publish_start": sent[1],
        "publish_end": sent[2],
        "received": rec.count,
        "received_in_window": rec.in_window,
        "first_receipt": rec.first_ns / 1e9,
        "last_receipt": rec.last_ns / 1e9,
        "cpu_s": cpu_s() - args.cpu_at_start,  # since the start: no imports, no handshake
        "latencies_ms": [round(x, 3) for x in rec.latencies],
        **extra,
    }
    tmp = Path(args.out + ".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(args.out)


def mark_ready(args: argparse.Namespace) -> None:
    Path(args.out + ".ready").write_text(str(os.getpid()))


async def main(args: argparse.Namespace) -> None:
    from warnlink.exchange.envelope import Kind
    from warnlink.exchange.node import HubAddress, Node

    parties = args.parties.split(",")
    labels = Labels(args.party, parties, args.fanout, args.seed)
    node = Node(Path(args.pki), args.party, HubAddress.parse(args.hub), Path(args.data))
    runner = asyncio.create_task(node.run())
    rec = Recorder()
    payload = os.urandom(args.payload_bytes)
    published = 0

    async def consume() -> None:
        async for r in node.messages():
            rec.add(r.envelope.time_ns, r.received_ns)

    async def publish(batch: list[list[str]]) -> None:
        nonlocal published
        node.publish_many([(Kind.TRACK_REPORT, label, payload) for label in batch])
        published += len(batch)

    def room() -> int:
        return UNACKED - (published - node.stats.acked - node.stats.rejected)

    def flushed() -> bool:
        return node.stats.acked + node.stats.rejected >= published

    consumer = asyncio.create_task(consume())
    try:
        await asyncio.wait_for(node.connected.wait(), 60)
        mark_ready(args)
        start = await wait_start(args)
        rec.window = (int(start * 1e9), int((start + args.duration) * 1e9))
        sent = await produce(args, labels, publish, room, rec)
        write_sent(Path(args.out), args.party, labels.counts)
        status = await drain(args, rec, labels.others, flushed)
        stats = dataclasses.asdict(node.stats)
        stats["dropped"] = dict(node.stats.dropped)
        write_result(args, rec, sent, labels, {"drain": status, "node_stats": stats})
    finally:
        consumer.cancel()
        runner.cancel()
        await asyncio.gather(consumer, runner, return_exceptions=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pki", required=True)
    parser.add_argument("--hub", required=True, help="HOST:PORT")
    parser.add_argument("--data", required=True)
    common_args(parser)
    try:  # the loop the exchange runs on (uvloop if installed); older trees: asyncio's
        from warnlink.exchange.aio import run
    except ImportError:
        run = asyncio.run
    run(main(parser.parse_args()))
