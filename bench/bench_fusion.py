"""Fusion figures: what sharing buys each party, on one simulation per scenario.

Each party tracks its own sensors (warnlink.fusion.replay); its picture alone is its own
tracks, its fused picture is every party's reports through its Fuser (all released to
all here, so the fused pictures of the parties agree). Per RV, against the truth: impact
error at fixed times after launch, RMS over the times both pictures have an estimate, the
first impact estimate after launch, and the fused ellipses' coverage.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from warnlink.evaluate.metrics import PointSeries
from warnlink.evaluate.pictures import point_errors
from warnlink.formats.measurement_files import measurement_records, sensor_catalogue
from warnlink.fusion.replay import picture_rows, replay
from warnlink.scenario.load import load_scenario
from warnlink.sim.run import simulate

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = {"irbm-northern-japan": 340.0, "srbm-salvo-east-sea": 400.0}  # replayed up to
CHECKPOINTS_S = (60.0, 120.0, 180.0, 300.0)  # after launch
FUSING = "JP"


def _at(s: PointSeries, since: float) -> float | None:
    """RMS error of the latest estimates at or before `since` s after launch."""
    i = np.searchsorted(s.since_launch, since, side="right") - 1
    if i < 0:
        return None
    return round(float(np.sqrt(np.mean(s.error_m[s.since_launch == s.since_launch[i]] ** 2))))


def _rms(s: PointSeries, times: np.ndarray) -> float:
    return round(float(np.sqrt(np.mean(s.error_m[np.isin(s.since_launch, times)] ** 2))))


def scenario(stem: str, t_stop: float) -> dict[str, Any]:
    sc = load_scenario(ROOT / "scenarios" / f"{stem}.toml")
    sim = simulate(sc)
    measurements, label_list = measurement_records(sim.batches)
    labels = {lb.id: lb.object for lb in label_list}
    start = time.process_time()
    run = replay(sensor_catalogue(sc.sensors, sc.epoch), measurements, t_stop=t_stop)
    tracked = time.process_time()
    fused_pics = run.pictures(FUSING, sharing=True)
    fusing_s = time.process_time() - tracked

    def errors(rows: Any) -> dict[str, PointSeries]:
        return point_errors(rows, run.fed_by, labels, sim.truth)

    fused = errors(picture_rows(fused_pics))
    alone = {p: errors(picture_rows(run.pictures(p, sharing=False))) for p in run.parties()}
    out: dict[str, Any] = {
        "replay_cpu_s": round(tracked - start, 1),
        "fused_picture_cpu_ms_per_s": round(1e3 * fusing_s / len(fused_pics), 1),
    }
    for obj, f in fused.items():
        row: dict[str, Any] = {
            "first_impact_s_since_launch": {
                "fused": float(f.since_launch[0]),
                **{p: float(a[obj].since_launch[0]) for p, a in alone.items() if obj in a},
            },
            "fused_coverage": round(float(f.inside.mean()), 3),
        }
        for c in CHECKPOINTS_S:
            row[f"impact_error_m_at_{c:g}s"] = {
                "fused": _at(f, c),
                **{p: _at(a[obj], c) for p, a in alone.items() if obj in a},
            }
        rms = {}
        for p, a in alone.items():
            if obj in a:
                common = np.intersect1d(a[obj].since_launch, f.since_launch)
                rms[p] = {"fused": _rms(f, common), "alone": _rms(a[obj], common)}
        row["rms_impact_error_m_same_times"] = rms
        out[obj] = row
    return out


def run() -> dict[str, Any]:
    return {stem: scenario(stem, t_stop) for stem, t_stop in SCENARIOS.items()}
