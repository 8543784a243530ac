"""Nothing lost, nothing duplicated, nothing misrouted: 10,000 messages from 3 parties with
mixed labels through a hub killed with SIGKILL, nodes killed with SIGKILL, or links cut
by a fault-injecting proxy. Hub, nodes and proxies are real processes over real TLS."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import PARTIES, Federation, wait_for

from warnlink.exchange.envelope import Envelope, Kind

TOTAL = 10_000
CHUNK = 250


def _traffic(seed: int) -> list[tuple[str, Kind, tuple[str, ...], bytes]]:
    """TOTAL messages, origins interleaved, each with a label drawn from every shape:
    one partner, both partners, or including the origin itself."""
    rng = random.Random(seed)
    out = []
    for i in range(TOTAL):
        origin = PARTIES[i % 3]
        others = [p for p in PARTIES if p != origin]
        label = rng.choice([(others[0],), (others[1],), tuple(others), (origin, others[1])])
        kind = rng.choice([Kind.TRACK_REPORT, Kind.TRACK_REPORT, Kind.ESTIMATE, Kind.WARNING])
        out.append((origin, kind, label, f"{origin}:{i}:".encode() + rng.randbytes(64)))
    return out


def _publish(fed: Federation, batch: list[tuple[str, Kind, tuple[str, ...], bytes]],
             published: dict[str, list[Envelope]]) -> None:  # fmt: skip
    by_origin: dict[str, list[tuple[Kind, tuple[str, ...], bytes]]] = defaultdict(list)
    for origin, kind, label, payload in batch:
        by_origin[origin].append((kind, label, payload))
    for origin, items in by_origin.items():
        published[origin] += fed.publish(origin, items)


def _inbox(fed: Federation, party: str) -> list[Envelope]:
    store = fed.store(party)
    out: list[Envelope] = []
    after = 0
    while rows := store.inbox(after, 5000):
        out += [r.envelope for r in rows]
        after = rows[-1].row
    store.close()
    return out


def _expected(published: dict[str, list[Envelope]]) -> dict[str, set[tuple[str, int]]]:
    want: dict[str, set[tuple[str, int]]] = {p: set() for p in PARTIES}
    for envs in published.values():
        for env in envs:
            for party in env.recipients():
                want[party].add((env.origin, env.seq))
    return want


def _all_delivered(fed: Federation, want: dict[str, set[tuple[str, int]]]) -> bool:
    return all(len(_inbox(fed, p)) >= len(want[p]) for p in PARTIES)


def _check_exact(fed: Federation, published: dict[str, list[Envelope]]) -> None:
    want = _expected(published)
    for party in PARTIES:
        got = [(e.origin, e.seq) for e in _inbox(fed, party)]
        assert len(got) == len(set(got)), f"{party} has duplicates"
        assert set(got) == want[party], (
            f"{party}: {len(want[party] - set(got))} missing, "
            f"{len(set(got) - want[party])} not released to it"
        )
        by_stream: dict[tuple[str, int], list[int]] = defaultdict(list)
        for env in _inbox(fed, party):
            by_stream[(env.origin, env.lane)].append(env.seq)
        for stream, seqs in by_stream.items():
            assert seqs == sorted(seqs), f"{party} got {stream} out of order"
    for origin in PARTIES:
        store = fed.store(origin)
        assert store.outbox_counts() == {"pending": 0, "acked": len(published[origin]),
                                         "rejected": 0}  # fmt: skip
        store.close()


def _proxy(port: int, tmp: Path, seed: int) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "warnlink.net.linkproxy", "--upstream", f"127.0.0.1:{port}",
         "--cut-every", "20000-200000", "--seed", str(seed)],
        stdout=subprocess.PIPE, stderr=(tmp / f"proxy{seed}.log").open("wb"),
    )  # fmt: skip
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())["port"]


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["hub_sigkill", "nodes_sigkill", "links_cut"])
def test_ten_thousand_messages_survive(federation: Federation, fault: str) -> None:
    fed = federation
    hub = fed.start_hub()
    proxies: list[subprocess.Popen[bytes]] = []
    for i, party in enumerate(PARTIES):
        port = None
        if fault == "links_cut":
            proc, port = _proxy(fed.port, fed.root, i)
            proxies.append(proc)
        fed.start_node(party, port)
    traffic = _traffic(seed=len(fault))
    published: dict[str, list[Envelope]] = {p: [] for p in PARTIES}
    try:
        for start in range(0, TOTAL, CHUNK):
            _publish(fed, traffic[start : start + CHUNK], published)
            time.sleep(0.02)
            if start == 4000:
                wait_for(lambda: len(_inbox(fed, "US")) > 500, 30, "traffic to flow")
                if fault == "hub_sigkill":
                    hub.kill9()
                elif fault == "nodes_sigkill":
                    for node in fed.nodes.values():
                        node.kill9()
            if start == 6000 and fault == "hub_sigkill":
                hub.start()
            if start == 6000 and fault == "nodes_sigkill":
                for node in fed.nodes.values():
                    node.start()
        want = _expected(published)
        wait_for(lambda: _all_delivered(fed, want), 180, "every message to be delivered")
        time.sleep(1.0)  # let any late duplicate arrive, so the exactness check can see it
        _check_exact(fed, published)
        if fault == "links_cut":
            cuts = [e for p in PARTIES for e in fed.nodes[p].events()
                    if e["event"] == "hub_connection_failed"]  # fmt: skip
            assert len(cuts) >= 3, "the proxies should have cut the links several times"
        assert all(p.alive for p in fed.procs), "a process died"
    finally:
        for proc in proxies:
            proc.terminate()
            proc.wait(10)
