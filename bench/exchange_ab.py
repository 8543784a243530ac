"""A/B of two source trees of the exchange on the same loads, alternating, with the relay.

    python bench/exchange_ab.py --a /tmp/base/src --b src [--rounds 3] [--duration 8]
        [--configs lat10,tput10]

Timings on a shared machine drift by tens of percent within minutes, so a before/after
pair measured an hour apart says little: this runs A, B and the bare relay in turn, round
after round, and reports each one's median and the B/A and B/relay ratios. A tree is put
first on PYTHONPATH for the hub and party processes (the bench scripts are this tree's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_exchange as bx  # noqa: E402

CONFIGS: dict[str, tuple[int, dict[str, Any]]] = {
    "lat10": (10, {"rate_total": 2000.0, "fanout": "one"}),
    "lat3": (3, {"rate_total": 2000.0, "fanout": "one"}),
    "tput10": (10, {"rate_total": 0.0, "fanout": "all"}),
    "tput3": (3, {"rate_total": 0.0, "fanout": "all"}),
    "light10": (10, {"rate_total": 200.0, "fanout": "one"}),
}
KEYS = ("delivered_per_s", "latency_ms_p50", "latency_ms_p99", "latency_ms_p999",
        "cpu_us_per_delivered_server", "cpu_us_per_delivered_parties")  # fmt: skip


def run_one(pki_root: Path, tree: str | None, name: str, duration: float) -> dict[str, Any]:
    n, load = CONFIGS[name]
    old = os.environ.get("PYTHONPATH")
    try:
        if tree is not None:
            os.environ["PYTHONPATH"] = str(Path(tree).resolve())
        system = "warnlink" if tree is not None else "relay"
        return bx.run_config(pki_root, system, n, duration=duration, **load)
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--a", required=True, help="source tree A (the old code): a src directory")
    p.add_argument("--b", required=True, help="source tree B (the new code)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--configs", default="lat10,tput10")
    p.add_argument("--no-relay", action="store_true")
    p.add_argument("--out", help="all runs as JSON")
    args = p.parse_args()
    names = args.configs.split(",")
    systems = {"A": args.a, "B": args.b} | ({} if args.no_relay else {"relay": None})
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {c: {s: [] for s in systems} for c in names}
    with tempfile.TemporaryDirectory(prefix="wl-ab-pki-") as tmp:
        pki_root = bx.make_pki(Path(tmp))
        for r in range(args.rounds):
            for name in names:
                order = list(systems) if r % 2 == 0 else list(reversed(systems))
                for s in order:
                    t0 = time.monotonic()
                    res = run_one(pki_root, systems[s], name, args.duration)
                    runs[name][s].append(res)
                    print(f"round {r + 1} {name} {s}: " + " ".join(
                        f"{k}={res.get(k)}" for k in KEYS
                    ) + f" missing={res['not_delivered_by_drain_timeout']}"
                      f" ({time.monotonic() - t0:.0f} s, load {os.getloadavg()[0]:.1f})",
                      flush=True)  # fmt: skip
    summary: dict[str, Any] = {}
    for name in names:
        med = {
            s: {k: statistics.median(v for x in rs if (v := x.get(k)) is not None) for k in KEYS
                if any(x.get(k) is not None for x in rs)}
            for s, rs in runs[name].items()
        }  # fmt: skip
        summary[name] = {"median": med}
        for k in KEYS:
            a, b = med["A"].get(k), med["B"].get(k)
            if a and b:
                summary[name][f"{k} B/A"] = round(b / a, 3)
            rel = med.get("relay", {}).get(k)
            if b and rel and k.startswith(("delivered", "latency")):
                summary[name][f"{k} B/relay"] = round(b / rel, 3)
        print(f"== {name}: {json.dumps(summary[name], indent=1)}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
