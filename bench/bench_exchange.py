"""Exchange figures: delivered throughput and latency through the hub, beside a bare relay.

Every configuration runs the hub (`warnlink hub`, mutual TLS, Ed25519 verification of each
publish, SQLite group commit before the acknowledgement) and one process per party
(bench/exchange_party.py: a `Node` that signs, stores its outbox and inbox, and verifies
each delivery). The same load then goes through the baseline, a minimal asyncio TCP
fan-out relay with no security and no storage (bench/exchange_relay.py), measured by the
same client code. Figures per configuration: delivered messages/s (all receipts / first
to last receipt), published messages/s, latency p50/p99/p99.9 (receipt − send stamp, ms,
one clock), CPU seconds, and ours/baseline ratios.

1. Throughput: 3 and 10 parties, as fast as the hub acknowledges, each message to all.
2. Latency: 2,000 delivered messages/s in all, each message to one random other party,
   with 10 parties (200/s each) and 3 parties; the 10-party one again with --sync full;
   and 10 parties at 200/s in all, the latency of the path itself under light load.
3. The crypto ceiling, measured in the same run: Ed25519 verifications per second on one
   core (the exchange's own `signing.Verifier`, ed25519-zebra; pynacl and `cryptography`
   beside it), and what the exchange's verifier and pynacl's signing bound
   delivered throughput to on this machine's cores: each delivery is verified once at
   its receiver, each publish once at the hub, and signed once at its origin.

WARNLINK_BENCH_QUICK=1 shortens every run to ~3 s (a smoke run).
WARNLINK_BENCH_PROFILE=DIR records the hub of each configuration with py-spy into DIR.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from warnlink.exchange import pki

HERE = Path(__file__).resolve().parent
PARTIES = ["KR", "US", "JP", "AU", "CA", "GB", "FR", "DE", "NZ", "IN"]
QUICK = os.environ.get("WARNLINK_BENCH_QUICK") == "1"
THROUGHPUT_S = 3.0 if QUICK else 10.0
LATENCY_S = 3.0 if QUICK else 15.0
DRAIN_S = 10.0 if QUICK else 20.0
LATENCY_RATE = 2000.0  # delivered messages/s in all
LIGHT_RATE = 200.0  # the path's own latency, on a machine that is not saturated
PAYLOAD = 256
GOAL_DELIVERED = 20_000
GOAL_P99_MS = 5.0


def say(text: str) -> None:
    print(f"  [exchange] {text}", flush=True)


# -- processes ---------------------------------------------------------------------------


class Procs:
    """Processes in their own sessions, each stopped (its whole group) on the way out."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.all: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as err:
            proc = subprocess.Popen(
                [sys.executable, *argv], stdout=subprocess.DEVNULL, stderr=err,
                start_new_session=True, cwd=HERE,
            )  # fmt: skip
        self.all.append((name, proc))
        return proc

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.logs / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self, names: list[str]) -> None:
        for name, proc in self.all:
            if name in names and proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}):\n{self.log_tail(name)}")

    def wait_files(self, paths: list[Path], timeout: float, names: list[str]) -> None:
        deadline = time.monotonic() + timeout
        while not all(p.exists() for p in paths):
            self.check_alive(names)
            if time.monotonic() > deadline:
                missing = [p.name for p in paths if not p.exists()]
                raise RuntimeError(f"timed out waiting for {missing}")
            time.sleep(0.02)

    @staticmethod
    def stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def close(self) -> None:
        for _, proc in reversed(self.all):
            self.stop(proc)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # anything it left in its group


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- one configuration -------------------------------------------------------------------


def make_pki(root: Path) -> Path:
    path = root / "pki"
    pki.init_ca(path)
    pki.issue_hub(path)
    for party in PARTIES:
        pki.issue_party(path, party)
    return path


def run_config(
    pki_root: Path, system: str, n: int, *, rate_total: float, fanout: str, duration: float,
    sync: str = "normal", tag: str = "",
) -> dict[str, Any]:  # fmt: skip
    """One load through the hub (system "warnlink") or the relay ("relay"); the figures."""
    parties = PARTIES[:n]
    per_party = rate_total / n if rate_total else 0.0
    with tempfile.TemporaryDirectory(prefix="wl-bench-") as tmp:
        root = Path(tmp)
        procs = Procs(root)
        profilers: list[subprocess.Popen[bytes]] = []
        try:
            ready = root / "server.ready"
            if system == "warnlink":
                server = procs.start("server", [
                    "-m", "warnlink.cli", "hub", "--pki", str(pki_root), "--data",
                    str(root / "hub"), "--port", "0", "--ready-file", str(ready), "--sync", sync,
                ])  # fmt: skip
            else:
                server = procs.start("server", [
                    "exchange_relay.py", "serve", "--port", "0", "--ready-file", str(ready),
                ])  # fmt: skip
            procs.wait_files([ready], 30, ["server"])
            port = json.loads(ready.read_text())["port"]
            start_file = root / "start"
            outs = {p: root / f"result-{p}.json" for p in parties}
            for p in parties:
                common = [
                    "--party", p, "--rate", f"{per_party:.3f}", "--duration", str(duration),
                    "--payload-bytes", str(PAYLOAD), "--fanout", fanout, "--parties",
                    ",".join(parties), "--out", str(outs[p]), "--start-file", str(start_file),
                    "--drain", str(DRAIN_S),
                ]  # fmt: skip
                if system == "warnlink":
                    hub = f"127.0.0.1:{port}"
                    argv = ["exchange_party.py", "--pki", str(pki_root), "--hub", hub,
                            "--data", str(root / f"node-{p}"), *common]  # fmt: skip
                else:
                    argv = ["exchange_relay.py", "client", "--relay", f"127.0.0.1:{port}", *common]
                procs.start(p, argv)
            names = ["server", *parties]
            procs.wait_files([Path(f"{o}.ready") for o in outs.values()], 90, names)
            profile_dir = os.environ.get("WARNLINK_BENCH_PROFILE")
            spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            if profile_dir and system == "warnlink" and Path(spy).exists():
                targets = {"hub": server.pid, parties[0]: procs.all[1][1].pid}
                for who, pid in targets.items():
                    out = Path(profile_dir) / f"{tag or 'run'}-{who}.txt"
                    profilers.append(subprocess.Popen(
                        [spy, "record", "--pid", str(pid), "--format", "raw", "--nonblocking",
                         "--duration", str(int(duration) + 1), "--rate", "100", "-o", str(out)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    ))  # fmt: skip
            start = time.time() + 0.5
            tmp_start = root / "start.tmp"
            tmp_start.write_text(repr(start))
            tmp_start.replace(start_file)
            server_cpu0 = cpu_seconds(server.pid)
            deadline = time.monotonic() + 0.5 + duration + DRAIN_S + 30
            for name, proc in procs.all:
                if name in parties:
                    try:
                        proc.wait(max(1.0, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        say(f"{name} did not finish in time: stopped")
                        procs.stop(proc)
            procs.check_alive(["server"])
            server_cpu = cpu_seconds(server.pid) - server_cpu0
            results = []
            for p in parties:
                if outs[p].exists():
                    results.append(json.loads(outs[p].read_text()))
                else:
                    say(f"{p} wrote no result:\n{procs.log_tail(p)}")
        finally:
            for profiler in profilers:
                Procs.stop(profiler, grace=30)
            procs.close()
    return summarise(results, n, duration, server_cpu)


def summarise(results: list[dict[str, Any]], n: int, duration: float, server_cpu: float) -> dict:
    if not results:
        raise RuntimeError("no party wrote a result")
    received = sum(r["received"] for r in results)
    sent = sum(r["sent"] for r in results)
    addressed = sum(sum(r["sent_to"].values()) for r in results)
    got = [r for r in results if r["received"]]
    span = max(r["last_receipt"] for r in got) - min(r["first_receipt"] for r in got) if got else 0
    pub_span = max(r["publish_end"] for r in results) - min(r["publish_start"] for r in results)
    in_window = sum(r["received_in_window"] for r in results)
    lat = np.concatenate([np.asarray(r["latencies_ms"], dtype=float) for r in results])
    out: dict[str, Any] = {
        "parties": n,
        "published": sent,
        "published_per_s": round(sent / pub_span) if pub_span > 0 else None,
        "deliveries_due": addressed,
        "delivered": received,
        "not_delivered_by_drain_timeout": addressed - received,
        "delivered_per_s": round(received / span) if span > 0 else None,
        "delivered_per_s_during_load": round(in_window / duration),
    }
    if lat.size:
        p50, p99, p999 = np.percentile(lat, [50, 99, 99.9])
        out |= {"latency_ms_p50": round(float(p50), 3), "latency_ms_p99": round(float(p99), 3),
                "latency_ms_p999": round(float(p999), 3),
                "latency_ms_max": round(float(lat.max()), 3)}  # fmt: skip
    party_cpu = sum(r["cpu_s"] for r in results)
    per = 1e6 / received if received else 0.0
    out |= {
        "cpu_s_server": round(server_cpu, 2),
        "cpu_s_parties": round(party_cpu, 2),
        "cpu_us_per_delivered_server": round(server_cpu * per) if received else None,
        "cpu_us_per_delivered_parties": round(party_cpu * per) if received else None,
    }
    incomplete = [r["party"] for r in results if not r["drain"].get("complete")]
    if incomplete:
        out["incomplete_parties"] = incomplete
    dropped: dict[str, int] = {}
    for r in results:
        for k, v in r.get("node_stats", {}).get("dropped", {}).items():
            dropped[k] = dropped.get(k, 0) + v
    rejected = sum(r.get("node_stats", {}).get("rejected", 0) for r in results)
    if dropped or rejected:
        out["dropped"] = dropped
        out["rejected"] = rejected
    return out


def ratios(ours: dict[str, Any], base: dict[str, Any]) -> dict[str, float | None]:
    def ratio(key: str) -> float | None:
        a, b = ours.get(key), base.get(key)
        return round(a / b, 3) if a and b else None

    return {
        f"{k} (ours/baseline)": ratio(k)
        for k in ("delivered_per_s", "latency_ms_p50", "latency_ms_p99", "latency_ms_p999")
    }


def line(name: str, r: dict[str, Any]) -> str:
    return (
        f"{name}: delivered {r['delivered']}/{r['deliveries_due']} at "
        f"{r['delivered_per_s']}/s, published {r['published_per_s']}/s, latency p50/p99/p99.9 "
        f"{r.get('latency_ms_p50')}/{r.get('latency_ms_p99')}/{r.get('latency_ms_p999')} ms"
    )


# -- crypto ceiling ----------------------------------------------------------------------


def _rate(fn: Any, seconds: float) -> float:
    n = 0
    c0 = time.process_time()
    while (elapsed := time.process_time() - c0) < seconds:
        for _ in range(200):
            fn()
        n += 200
    return n / elapsed


def crypto_ceiling() -> dict[str, Any]:
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from nacl.signing import SigningKey

    from warnlink.exchange.signing import Verifier

    seconds = 0.5 if QUICK else 2.0
    msg = os.urandom(PAYLOAD + 120)  # an envelope's signed bytes with a 256-byte payload
    nsk = SigningKey.generate()
    nsig = nsk.sign(msg).signature
    nvk = nsk.verify_key
    ours = Verifier("KR", bytes(nvk), 0, datetime.max.replace(tzinfo=UTC))
    csk = Ed25519PrivateKey.generate()
    csig = csk.sign(msg)
    cvk = csk.public_key()
    verify_ours = _rate(lambda: ours.verify(nsig, msg), seconds)
    verify_nacl = _rate(lambda: nvk.verify(msg, nsig), seconds)
    verify_crypt = _rate(lambda: cvk.verify(csig, msg), seconds)
    sign_nacl = _rate(lambda: nsk.sign(msg), seconds)
    cores = os.cpu_count() or 1
    v, s = verify_ours, sign_nacl

    def bound(n: int, fanout: str) -> int:
        per = n - 1 if fanout == "all" else 1  # deliveries per publish
        cost = 1 / v + (1 / v + 1 / s) / per  # CPU s per delivery: receiver, hub, origin
        return round(cores / cost)

    return {
        "ed25519_verify_per_s_one_core_exchange": round(verify_ours),
        "ed25519_verify_per_s_one_core_pynacl": round(verify_nacl),
        "ed25519_verify_per_s_one_core_cryptography": round(verify_crypt),
        "ed25519_sign_per_s_one_core_pynacl": round(sign_nacl),
        "cores": cores,
        "delivered_per_s_bound_by_crypto_alone": {
            "3 parties, fanout all": bound(3, "all"),
            "10 parties, fanout all": bound(10, "all"),
            "fanout one": bound(2, "one"),
        },
    }


# -- the benchmark -----------------------------------------------------------------------


def pair(pki_root: Path, label: str, n: int, **load: Any) -> dict[str, Any]:
    say(f"{label}: warnlink hub + {n} parties ...")
    t0 = time.monotonic()
    ours = run_config(pki_root, "warnlink", n, tag=label.replace(" ", "_"), **load)
    say(f"  {line('ours', ours)} ({time.monotonic() - t0:.0f} s)")
    t0 = time.monotonic()
    base = run_config(pki_root, "relay", n, **load)
    say(f"  {line('baseline', base)} ({time.monotonic() - t0:.0f} s)")
    return {"warnlink": ours, "baseline relay": base, **ratios(ours, base)}


def run() -> dict[str, Any]:
    started = time.monotonic()
    say(f"crypto ceiling ({'quick' if QUICK else 'full'} run)")
    out: dict[str, Any] = {"crypto ceiling": crypto_ceiling()}
    say(str(out["crypto ceiling"]))
    with tempfile.TemporaryDirectory(prefix="wl-bench-pki-") as tmp:
        pki_root = make_pki(Path(tmp))
        tput = {"rate_total": 0.0, "fanout": "all", "duration": THROUGHPUT_S}
        lat = {"rate_total": LATENCY_RATE, "fanout": "one", "duration": LATENCY_S}
        out["throughput, 3 parties, fanout all, max rate"] = pair(pki_root, "throughput 3", 3,
                                                                  **tput)  # fmt: skip
        out["throughput, 10 parties, fanout all, max rate"] = pair(pki_root, "throughput 10", 10,
                                                                   **tput)  # fmt: skip
        out["latency, 10 parties, 2000/s (200/s each), fanout one"] = pair(
            pki_root, "latency 10", 10, **lat
        )
        out["latency, 3 parties, 2000/s, fanout one"] = pair(pki_root, "latency 3", 3, **lat)
        light = {**lat, "rate_total": LIGHT_RATE}
        out[f"latency, 10 parties, {LIGHT_RATE:.0f}/s, fanout one (light load)"] = pair(
            pki_root, "latency 10 light", 10, **light
        )
        say("latency 10, --sync full: warnlink hub + 10 parties ...")
        full = run_config(pki_root, "warnlink", 10, sync="full", tag="latency_10_full", **lat)
        say(f"  {line('ours, sync full', full)}")
        out["latency, 10 parties, 2000/s, fanout one, --sync full"] = full

    best = max(
        (out[k]["warnlink"]["delivered_per_s"] or 0, k) for k in out if k.startswith("throughput")
    )
    lat10 = out["latency, 10 parties, 2000/s (200/s each), fanout one"]["warnlink"]
    p99 = lat10.get("latency_ms_p99")
    out["goals"] = {
        f"delivered >= {GOAL_DELIVERED}/s": {
            "value": best[0], "config": best[1], "met": best[0] >= GOAL_DELIVERED,
        },
        f"p99 <= {GOAL_P99_MS} ms at 2000/s, 10 parties": {
            "value_ms": p99, "delivered_per_s": lat10["delivered_per_s"],
            "met": p99 is not None and p99 <= GOAL_P99_MS,
        },
    }  # fmt: skip
    out["settings"] = {
        "quick": QUICK, "payload_bytes": PAYLOAD, "throughput_s": THROUGHPUT_S,
        "latency_s": LATENCY_S, "hub_sync": "normal unless stated",
        "wall_s": round(time.monotonic() - started),
        "load_average_at_end": os.getloadavg()[0],
    }  # fmt: skip
    return out
