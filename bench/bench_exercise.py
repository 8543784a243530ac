"""What sharing buys: the IRBM exercise with sharing, and alone as the same-run baseline.

Runs `warnlink exercise scenarios/irbm-northern-japan.toml --compare` as a process (the hub
and one node process per party over real TLS, each party fed its own sensors on one clock)
and reports per party: when its picture first held an impact estimate of the RV and how
far off that picture was at T+120/300/600 s, with sharing and alone; the latency from a
partner's measurement to the fused picture; and the speed the machine sustained (the
clock waits for a party that falls behind). WARNLINK_EXERCISE_SPEED sets the speed-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "irbm-northern-japan.toml"


def run() -> dict[str, Any]:
    speed = os.environ.get("WARNLINK_EXERCISE_SPEED", "10")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        done = subprocess.run(
            [sys.executable, "-m", "warnlink.cli", "exercise", str(SCENARIO), "--compare",
             "--speed", speed, "--out", str(out)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        summary = json.loads((out / "metrics.json").read_text())
    figures: dict[str, Any] = {"speed": float(speed)}
    for row in summary["comparison"]:
        key = f"{row['flight']} {row['party']}"
        figures[f"{key} first impact estimate s (alone / sharing)"] = (
            row.get("alone_first_impact_s"), row.get("sharing_first_impact_s"))  # fmt: skip
        for at in ("120", "300", "600"):
            figures[f"{key} error at T+{at} s m (alone / sharing)"] = (
                row.get(f"alone_error_at_{at}_m"), row.get(f"sharing_error_at_{at}_m"))  # fmt: skip
    shared = summary["runs"]["sharing"]
    for fid, fl in shared["flights"].items():
        for p, pr in fl["parties"].items():
            for q, v in pr["fused_vs_own"].items():
                figures[f"{fid} {p} fused RMS / {q} own RMS (m)"] = (
                    round(v["fused_rms_m"]), round(v["own_rms_m"]), v["n"])  # fmt: skip
    for mode, run_ in summary["runs"].items():
        figures[f"{mode} wall s / effective speed / clock held s"] = (
            run_["wall_s"], run_["effective_speed"], run_["clock_held_s"])  # fmt: skip
    figures["latency measurement to partner's fused picture ms (p50, p95)"] = {
        p: (round(v["p50"]), round(v["p95"])) if v.get("n") else None
        for p, v in shared["latency_ms"].items()
    }
    return figures
