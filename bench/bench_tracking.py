"""Tracking figures: speed, accuracy beside Stone Soup, honest uncertainty, and the bound.

1. Speed: Tracker.process on bench/salvo20.toml (20 missiles, ~100k measurements), by
   process CPU time (steadier than wall time on a shared machine), alone and with the
   launch/impact estimates of `warnlink track`.
2. Baseline in the same run: Stone Soup on the same measurements of the SRBM salvo
   (radar only: it has no line-of-sight model for space-based infrared), scored exactly as
   ours (bench/scoring.py); its speed and accuracy beside ours.
3. Monte Carlo over the shipped scenarios (WARNLINK_MC_RUNS runs in all, default 100,
   spread over the scenarios; seeds vary the sensor noise): coverage of the 95% impact
   ellipses, NEES, and the impact error divided by the Cramér-Rao bound against time
   since the first radar detection. The error at t is that of the RV's latest update by
   t, and its bound counts the same detections (those up to that update, the boost's
   included: warnlink.evaluate.crlb). With
   WARNLINK_BENCH_MC_ONLY=1 only this part runs; WARNLINK_MC_SCENARIOS (comma-separated
   scenario names) and WARNLINK_MC_FIRST_SEED (default 1000) pick other runs.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from scoring import TrackPoints, score_tracks
from stonesoup_baseline import run_stonesoup

from warnlink.evaluate.crlb import impact_bound
from warnlink.evaluate.load import load_estimates, load_run
from warnlink.evaluate.metrics import evaluate
from warnlink.formats.jsonl import iter_jsonl
from warnlink.formats.measurement_files import measurement_records, sensor_catalogue
from warnlink.formats.records import Estimate, Label
from warnlink.formats.truth_files import read_truth
from warnlink.geo.frames import ecef_to_eci
from warnlink.scenario.load import load_scenario
from warnlink.sim.run import simulate, write_run
from warnlink.track.beta_prior import CLASSES, classify, undecided
from warnlink.track.run import run_tracker
from warnlink.track.tracker import Tracker

ROOT = Path(__file__).resolve().parents[1]
SALVO20 = ROOT / "bench" / "salvo20.toml"
SALVO = ROOT / "scenarios" / "srbm-salvo-east-sea.toml"
BOUND_NAMES = (
    "beta known",
    "beta with the tracker's RV prior of its class",
    "beta with the tracker's undecided RV-or-stage prior of its class",
    "beta with the RV prior, detections from the first radar fix after burnout only (no boost)",
)
OFFSETS_S = np.array([30.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0])  # after first radar fix


def speed() -> dict[str, Any]:
    scenario = load_scenario(SALVO20)
    sim = simulate(scenario)
    measurements, _ = measurement_records(sim.batches)
    tracker = Tracker(sensor_catalogue(scenario.sensors, scenario.epoch))
    c0 = time.process_time()
    tracker.process(measurements)
    tracker.finish()
    cpu = time.process_time() - c0
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_run(sim, Path(tmp))
        c1 = time.process_time()
        run_tracker(paths["sensors"], paths["measurements"], Path(tmp) / "estimates.jsonl")
        cpu_full = time.process_time() - c1
    n = len(measurements)
    return {
        "salvo20 measurements": n,
        "tracker alone: measurements/s (CPU)": round(n / cpu),
        "with launch/impact estimates (warnlink track): measurements/s (CPU)": round(n / cpu_full),
    }


def ours_scored(run_dir: Path) -> dict[str, Any]:
    labels = {lab.id: lab.object for lab in iter_jsonl(run_dir / "labels.jsonl", Label)}
    rows: dict[str, list[Estimate]] = defaultdict(list)
    for e in iter_jsonl(run_dir / "estimates.jsonl", Estimate):
        if e.status == "confirmed" and e.measurement is not None:
            rows[e.track].append(e)
    tracks = [
        TrackPoints(
            labels=[labels[e.measurement] for e in es if e.measurement is not None],
            t=np.array([e.t for e in es]),
            ecef_m=np.array([e.ecef_m for e in es]),
        )
        for es in rows.values()
    ]
    return score_tracks(tracks, read_truth(run_dir / "truth.jsonl", run_dir / "events.jsonl"))


def beside_stonesoup() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        paths = write_run(simulate(load_scenario(SALVO)), run_dir)
        c0 = time.process_time()
        run = run_tracker(paths["sensors"], paths["measurements"], run_dir / "estimates.jsonl")
        cpu = time.process_time() - c0
        ours = {"measurements_per_s (CPU, with estimates)": round(run.inputs.accepted / cpu)}
        ours |= ours_scored(run_dir)
        theirs = run_stonesoup(run_dir)
    return {"warnlink": ours, "stonesoup": theirs}


def _one_mc_run(job: tuple[str, int]) -> dict[str, Any]:
    path, seed = job
    scenario = dataclasses.replace(load_scenario(Path(path)), seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        sim = simulate(scenario)
        paths = write_run(sim, run_dir)
        run_tracker(paths["sensors"], paths["measurements"], run_dir / "estimates.jsonl")
        run = load_run(run_dir)
        ev = evaluate(run, load_estimates(run_dir / "estimates.jsonl", run))
    inside = [bool(b) for s in ev.impact.values() for b in s.inside]
    launches = {e.flight_id: e.t for e in sim.truth.events if e.kind == "launch"}
    ratios: dict[str, list[list[float]]] = {}
    for rv, series in ev.impact.items():
        if not len(series.since_launch):
            continue
        t_upd = series.since_launch + launches[rv.split("/")[0]]
        try:
            t_ref = impact_bound(sim, rv, t_upd[:1]).t_ref
        except (ValueError, KeyError):
            continue  # no radar detection after burnout: no bound
        t_off = t_ref + OFFSETS_S
        r, v, _, _ = sim.truth.object(rv).state_at(np.array([t_ref]))
        cls = CLASSES[int(classify(*(a[None] for a in ecef_to_eci(t_ref, r[0], v[0])))[0])]
        # beta known, and beta as uncertain as the tracker's priors for this class say
        sigmas = (None, cls.rv.log_sigma, undecided(cls.rv).log_sigma)
        bounds = [impact_bound(sim, rv, t_upd, beta_log_sigma=s).rms_m for s in sigmas]
        bounds.append(impact_bound(sim, rv, t_upd, beta_log_sigma=sigmas[1], boost=False).rms_m)
        # the error of the latest update by t against the bound from the same detections
        # (those up to that update's time)
        k = np.searchsorted(t_upd, t_off, side="right") - 1
        kk = np.maximum(k, 0)
        rows = [series.error_m[kk], *(b[kk] for b in bounds)]
        ok = (k >= 0) & (t_off <= t_upd[-1]) & np.all(np.isfinite(rows), axis=0)
        ratios[rv] = [np.where(ok, row, np.nan).tolist() for row in rows]
    nees = ev.summary["overall"]["nees"]["mean"]
    return {"scenario": Path(path).stem, "inside": inside, "nees": nees,
            "errors_vs_crlb": ratios}  # fmt: skip


def monte_carlo(runs: int) -> dict[str, Any]:
    names = os.environ.get("WARNLINK_MC_SCENARIOS")  # e.g. "icbm-lofted-hokkaido"; all if unset
    scenarios = sorted(
        str(p)
        for p in (ROOT / "scenarios").glob("*.toml")
        if names is None or p.stem in names.split(",")
    )
    first = int(os.environ.get("WARNLINK_MC_FIRST_SEED", "1000"))
    jobs = [(scenarios[k % len(scenarios)], first + k) for k in range(runs)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_one_mc_run, jobs))
    inside = np.array([b for r in results for b in r["inside"]])
    out: dict[str, Any] = {
        "runs": runs,
        "impact updates scored": int(inside.size),
        "95% impact ellipse coverage (goal 0.90-0.98)": round(float(inside.mean()), 4),
    }
    by_scn: dict[str, list[bool]] = defaultdict(list)
    err2: dict[str, list[np.ndarray]] = defaultdict(list)
    bound2: list[dict[str, list[np.ndarray]]] = [defaultdict(list) for _ in BOUND_NAMES]
    for r in results:
        by_scn[r["scenario"]].extend(r["inside"])
        for errs, *bounds in r["errors_vs_crlb"].values():
            err2[r["scenario"]].append(np.square(errs))
            for store, b in zip(bound2, bounds, strict=True):
                store[r["scenario"]].append(np.square(b))
    out["coverage by scenario"] = {k: round(float(np.mean(v)), 3) for k, v in by_scn.items() if v}
    out["mean NEES per run (6 dof: 6 when consistent)"] = [
        round(r["nees"], 1) if r["nees"] is not None else None for r in results
    ]
    for name, store in zip(BOUND_NAMES, bound2, strict=True):
        ratio = {}
        for scn in err2:
            e, c = np.array(err2[scn]), np.array(store[scn])
            with np.errstate(invalid="ignore"):
                ratio[scn] = {
                    f"+{int(o)} s": round(
                        float(np.sqrt(np.nanmean(e[:, i]) / np.nanmean(c[:, i]))), 2
                    )
                    for i, o in enumerate(OFFSETS_S)
                    if np.isfinite(e[:, i]).any()
                }
        out[f"impact RMS error / CRLB ({name}), after first radar fix (goal <= 1.5 from +60 s)"] = (
            ratio
        )
    return out


def run() -> dict[str, Any]:
    runs = int(os.environ.get("WARNLINK_MC_RUNS", "100"))
    if os.environ.get("WARNLINK_BENCH_MC_ONLY") == "1":
        return {"monte carlo": monte_carlo(runs)}
    return {"speed": speed(), "beside Stone Soup (SRBM salvo)": beside_stonesoup(),
            "monte carlo": monte_carlo(runs)}  # fmt: skip
