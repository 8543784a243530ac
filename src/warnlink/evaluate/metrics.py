"""The evaluation: warning metrics per RV and overall, consistency, continuity and GOSPA.

Everything is computed from the confirmed updates of estimates.jsonl and the truth files;
the definitions are in docs/evaluation.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from warnlink.evaluate.assign import Association, associate, continuity, track_purity
from warnlink.evaluate.consistency import (
    coverage_summary,
    east_north_offset,
    ellipse_threshold,
    geodesic_m,
    mahalanobis2,
    nees_summary,
)
from warnlink.evaluate.gospa import gospa_series
from warnlink.evaluate.load import EstimateTable, GroundPoints, RunData
from warnlink.physics.truth import Event

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class EvalConfig:
    """Parameters of the metrics (docs/evaluation.md); all times in s, distances in m."""

    gospa_c_m: float = 10_000.0
    gospa_p: float = 2.0
    grid_dt_s: float = 1.0  # time step of GOSPA and of the lifetime-under-track share
    stale_s: float = 10.0  # an update older than this no longer stands for its track
    hold_min_updates: int = 3  # measurements of an object a track needs to have held it
    interval_level: float = 0.95  # of the binomial and chi2 consistency intervals
    checkpoints_s: tuple[float, ...] = (60.0, 120.0, 180.0, 300.0)  # after launch


@dataclass
class PointSeries:
    """Per-update launch or impact errors of one RV, for plots."""

    since_launch: F64
    error_m: F64
    inside: NDArray[np.bool_]


@dataclass
class Evaluation:
    summary: dict[str, Any]  # what metrics.json holds
    impact: dict[str, PointSeries] = field(default_factory=dict)
    launch: dict[str, PointSeries] = field(default_factory=dict)
    gospa_t: F64 = field(default_factory=lambda: np.zeros(0))
    gospa: dict[str, F64] = field(default_factory=dict)


def _point_errors(
    gp: GroundPoints, rows: I64, true: Event, t_launch: float, est_t: F64
) -> tuple[PointSeries, F64, F64, NDArray[np.bool_]]:
    """Errors of the ground points in `rows` against a true event (launch or impact)."""
    rows = rows[gp.has[rows]]
    lat, lon = gp.lat[rows], gp.lon[rows]
    tl, tn = np.full(len(rows), true.lat_deg), np.full(len(rows), true.lon_deg)
    dist = geodesic_m(lat, lon, tl, tn)
    m2 = mahalanobis2(east_north_offset(lat, lon, tl, tn), gp.cov_en[rows])
    conf = gp.confidence[rows]
    inside = m2 <= ellipse_threshold(conf)
    usable = np.isfinite(m2)
    series = PointSeries(est_t[rows] - t_launch, dist, inside)
    return series, gp.t[rows] - true.t, conf[usable], inside[usable]


def _point_summary(
    s: PointSeries, dt: F64, conf: F64, inside: NDArray[np.bool_], cfg: EvalConfig
) -> dict[str, Any]:
    if len(s.error_m) == 0:
        return {"n": 0, "coverage": coverage_summary(inside, conf, cfg.interval_level)}
    at = {}
    for c in cfg.checkpoints_s:
        i = np.searchsorted(s.since_launch, c, side="right") - 1
        at[f"{c:g}"] = float(s.error_m[i]) if i >= 0 else None
    return {
        "n": len(s.error_m),
        "first_s_since_launch": float(s.since_launch[0]),
        "error_m": {
            "first": float(s.error_m[0]),
            "final": float(s.error_m[-1]),
            "median": float(np.median(s.error_m)),
            "p90": float(np.quantile(s.error_m, 0.9)),
            "at_s_since_launch": at,
        },
        "time_error_s": {
            "final": float(dt[-1]),
            "median_abs": float(np.median(np.abs(dt))),
        },
        "coverage": coverage_summary(inside, conf, cfg.interval_level),
    }


def _pool(
    parts: list[tuple[PointSeries, F64, F64, NDArray[np.bool_]]],
) -> tuple[PointSeries, F64, F64, NDArray[np.bool_]]:
    """Several RVs' errors as one series, ordered by time since launch."""
    since = np.concatenate([p[0].since_launch for p in parts])
    order = np.argsort(since, kind="stable")
    err = np.concatenate([p[0].error_m for p in parts])[order]
    ins = np.concatenate([p[0].inside for p in parts])[order]
    dt = np.concatenate([p[1] for p in parts])[order]
    conf = np.concatenate([p[2] for p in parts])
    inside = np.concatenate([p[3] for p in parts])
    return PointSeries(since[order], err, ins), dt, conf, inside


def _worst_case(pooled: dict[str, Any], kind: str, rvs: dict[str, Any]) -> dict[str, Any]:
    """Pooled statistics, but first times and final errors as the worst RV's: a warning is
    only as early and as good as that of the last missile."""
    per = [r[kind] for r in rvs.values() if r.get(kind) and r[kind]["n"]]
    if not per:
        return pooled
    pooled["first_s_since_launch"] = max(r["first_s_since_launch"] for r in per)
    del pooled["error_m"]["first"]
    pooled["error_m"]["final"] = max(r["error_m"]["final"] for r in per)
    pooled["time_error_s"]["final"] = max((r["time_error_s"]["final"] for r in per), key=abs)
    return pooled


def _nees(run: RunData, est: EstimateTable, assoc: Association) -> F64:
    """State NEES (6 dof) of every attributed update against the interpolated truth."""
    err = np.full((len(est), 6), np.nan)
    for j, oid in enumerate(assoc.objects):
        rows = np.flatnonzero(assoc.attributed == j)
        if len(rows):
            r, v, _, _ = run.truth.object(oid).state_at(est.t[rows])
            err[rows] = np.hstack([est.r[rows] - r, est.v[rows] - v])
    nees = np.full(len(est), np.nan)
    ok = np.all(np.isfinite(err), axis=1)
    nees[ok] = mahalanobis2(err[ok], est.cov[ok])
    return nees


def _gospa(
    run: RunData, est: EstimateTable, assoc: Association, cfg: EvalConfig
) -> tuple[F64, dict[str, F64]]:
    """GOSPA on a time grid; each track stands at its latest update moved on linearly."""
    objs = run.truth.objects
    t0 = min(o.t_start for o in objs)
    t1 = max([o.t_end for o in objs] + [float(est.t[-1]) if len(est) else t0])
    grid = np.arange(t0, t1 + 1e-9, cfg.grid_dt_s)
    states = [o.state_at(grid) for o in objs]
    truth = np.stack([st[0] for st in states])
    alive = np.stack([st[3] for st in states])
    trk = np.zeros((len(assoc.tracks), len(grid), 3))
    trk_ok = np.zeros((len(assoc.tracks), len(grid)), dtype=bool)
    for k, tid in enumerate(assoc.tracks):
        rows = np.flatnonzero(assoc.track_code == k)
        i = np.searchsorted(est.t[rows], grid, side="right") - 1
        row = rows[np.maximum(i, 0)]
        age = grid - est.t[row]
        trk[k] = est.r[row] + est.v[row] * age[:, None]
        trk_ok[k] = (i >= 0) & (age <= cfg.stale_s) & (grid < est.deleted_at.get(tid, np.inf))
    return grid, gospa_series(truth, alive, trk, trk_ok, cfg.gospa_c_m, cfg.gospa_p)


def evaluate(run: RunData, est: EstimateTable, cfg: EvalConfig | None = None) -> Evaluation:
    """All metrics of an estimates file against its run."""
    cfg = cfg or EvalConfig()
    assoc = associate(run, est)
    nees = _nees(run, est, assoc)
    ev = Evaluation(summary={})
    events: dict[tuple[str, str], Event] = {(e.kind, e.object_id): e for e in run.truth.events}
    rvs: dict[str, Any] = {}
    pooled: dict[str, list[Any]] = {"impact": [], "launch": []}
    for j, oid in enumerate(assoc.objects):
        if run.truth.object(oid).kind != "rv" or ("launch", oid) not in events:
            continue
        launch = events[("launch", oid)]
        rows = np.flatnonzero(assoc.attributed == j)
        entry: dict[str, Any] = {
            "launch_t": launch.t,
            "n_updates": len(rows),
            "first_estimate_s_since_launch": float(est.t[rows[0]] - launch.t)
            if len(rows)
            else None,
            "nees": nees_summary(nees[rows], 6, cfg.interval_level),
        }
        for kind, gp, store in (
            ("impact", est.impact, ev.impact),
            ("launch", est.launch, ev.launch),
        ):
            true = events.get((kind, oid))
            if true is None:
                entry[kind] = None
                continue
            s, dt, conf, inside = _point_errors(gp, rows, true, launch.t, est.t)
            store[oid] = s
            pooled[kind].append((s, dt, conf, inside))
            entry[kind] = {"true_t": true.t, **_point_summary(s, dt, conf, inside, cfg)}
        rvs[oid] = entry
    overall: dict[str, Any] = {
        "nees": nees_summary(nees[assoc.attributed >= 0], 6, cfg.interval_level)
    }
    for kind, parts in pooled.items():
        overall[kind] = (
            _worst_case(_point_summary(*_pool(parts), cfg), kind, rvs) if parts else None
        )
    firsts = [r["first_estimate_s_since_launch"] for r in rvs.values()]
    overall["first_estimate_s_since_launch"] = max(
        (f for f in firsts if f is not None), default=None
    )
    ev.gospa_t, ev.gospa = _gospa(run, est, assoc, cfg)
    g = ev.gospa
    ev.summary = {
        "parameters": asdict(cfg),
        "counts": {
            "estimate_lines": est.n_lines,
            "confirmed_updates": len(est),
            "tracks": len(assoc.tracks),
            "truth_objects": len(assoc.objects),
            "updates_from_false_alarms": int(assoc.counts[:, -1].sum()),
        },
        "rvs": rvs,
        "overall": overall,
        "tracks": track_purity(assoc),
        "objects": continuity(run, est, assoc, cfg.hold_min_updates, cfg.stale_s, cfg.grid_dt_s),
        "gospa": {
            "mean": float(g["gospa"].mean()),
            "mean_localisation_m": float(g["localisation"].mean()),
            "mean_missed": float(g["missed"].mean()),
            "mean_false": float(g["false"].mean()),
            "mean_ospa": float(g["ospa"].mean()),
            "track_position": "latest confirmed update within stale_s, propagated linearly",
            "t0": float(ev.gospa_t[0]),
            "dt": cfg.grid_dt_s,
            "series": {k: [round(float(x), 3) for x in v] for k, v in g.items()},
        },
    }
    return ev
