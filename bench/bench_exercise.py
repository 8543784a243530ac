"""What sharing buys: shipped scenarios exercised with sharing, and alone as the baseline.

Runs `warnlink exercise SCENARIO --compare` as a process (the hub and one node process per
party over real TLS, each party fed its own sensors on one clock) for the IRBM, the SRBM
salvo, the impact on land in Japan and the satellite launch over Okinawa, and reports per
flight and party: when its picture first held a track and an impact estimate, and how far
off that picture was at T+120/300/600 s, alone and with sharing; fused against each
party's own RMS impact error; the latency from a partner's measurement to the fused
picture; delivery; each party's public warnings against the truth (first alert, lead time
per region at risk, missed and over-warned regions); and the speed the machine sustained
(the clock waits for a party that falls behind). WARNLINK_EXERCISE_SPEED sets the
speed-up, WARNLINK_EXERCISE_SCENARIOS the scenario stems.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
# the IRBM (long flight, one RV) and the SRBM salvo (four low, short flights 40 s apart)
DEFAULT = "irbm-northern-japan srbm-salvo-east-sea impact-on-land-japan slv-okinawa"


def run() -> dict[str, Any]:
    speed = os.environ.get("WARNLINK_EXERCISE_SPEED", "10")
    figures: dict[str, Any] = {"speed": float(speed)}
    for stem in os.environ.get("WARNLINK_EXERCISE_SCENARIOS", DEFAULT).split():
        figures[stem] = _scenario(SCENARIOS / f"{stem}.toml", speed)
    return figures


def _scenario(path: Path, speed: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        done = subprocess.run(
            [sys.executable, "-m", "warnlink.cli", "exercise", str(path), "--compare",
             "--speed", speed, "--out", str(out)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        summary = json.loads((out / "metrics.json").read_text())
    figures: dict[str, Any] = {}
    for row in summary["comparison"]:
        key = f"{row['flight']} {row['party']}"
        for what in ("track", "impact"):
            figures[f"{key} first fused {what} s (alone / sharing)"] = (
                row.get(f"alone_first_{what}_s"), row.get(f"sharing_first_{what}_s"))  # fmt: skip
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
    for mode, run_ in summary["runs"].items():
        figures[f"{mode} public warnings"] = {p: _alerting(a) for p, a in run_["alerting"].items()}
    figures["published / lost / releasability violations"] = (
        sum(shared["delivery"]["published_before_end"].values()),
        sum(shared["delivery"]["lost"].values()),
        len(shared["releasability_violations"]),
    )
    return figures


def _alerting(a: dict[str, Any]) -> dict[str, Any]:
    """One party's public warnings in a line or two: first alert, the regions at risk with
    their lead times (any warning / the specific impact or overflight one), missed, and the
    regions warned though never at risk with the region-seconds they stayed warned."""
    over = a["over_warned"]
    return {
        "first_alert_s": a["first_alert_s"],
        "messages (Alert, Update, Cancel)": tuple(a["messages"].values()),
        "at risk: region reason lead_s specific_lead_s": [
            (r["region"], r["reason"], r["lead_s"], r["specific_lead_s"])
            for r in a["regions_at_risk"]
        ],
        "missed": a["missed"],
        "over-warned regions, region-s (launch stage)": (
            len(over.get("launch", {})), round(sum(over.get("launch", {}).values()))),
        "over-warned regions, region-s (impact/overflight)": (
            len(over.get("specific", {})), round(sum(over.get("specific", {}).values()))),
        "correction ms p50": a["correction_ms"]["p50"],
    }  # fmt: skip
