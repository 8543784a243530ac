"""After-action metrics of one exercise run, scored against the simulation's truth.

Own estimates, fused records and partners' reports are attributed to the truth object
behind most of the measurements of the tracks they are made of (every party's own.jsonl
says which measurements fed which of its tracks; evaluate.pictures), so a fused system
track, which names no measurement, is scored exactly like a party's own tracks. Impact
errors are compared on a common grid of times since launch (the latest estimate known at
each instant), so that a picture that knows earlier is not charged for its early,
naturally wider estimates.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

from warnlink.consult.log import LogError
from warnlink.consult.verify import verify_log
from warnlink.evaluate.consistency import (
    east_north_offset,
    ellipse_threshold,
    geodesic_m,
    mahalanobis2,
)
from warnlink.evaluate.pictures import Key, attribute
from warnlink.exchange.node_store import ACKED, NodeStore
from warnlink.exercise.plan import (
    CONSULT,
    CONSULT_DIR,
    DONE,
    EVENTS,
    FUSED,
    OWN,
    PLAN,
    RECEIVED,
    ConsultRecord,
    FusedRecord,
    PartyPlan,
    PartySummary,
    ReceivedRecord,
    TimelineEvent,
)
from warnlink.exercise.warned import score_alerts
from warnlink.formats.jsonl import iter_jsonl, read_json
from warnlink.formats.records import Estimate, GroundPoint, SensorCatalogue
from warnlink.physics.truth import Truth

F64 = NDArray[np.float64]
GRID_S = 2.0  # spacing of the common time grid
MAX_AGE_S = 15.0  # an estimate older than this at a grid time does not count there
ERROR_AT_S = (60.0, 120.0, 300.0, 600.0)  # times since launch the headline reports
SETTLE_WALL_S = 3.0  # messages published this close to the end may still be in flight


@dataclass
class PartyOutputs:
    plan: PartyPlan
    own: list[Estimate]
    fused: list[FusedRecord]
    received: list[ReceivedRecord]
    events: list[TimelineEvent]
    summary: PartySummary | None


def load_outputs(mode_dir: Path, parties: list[str]) -> dict[str, PartyOutputs]:
    out = {}
    for p in parties:
        d = mode_dir / p
        done = d / DONE
        out[p] = PartyOutputs(
            plan=read_json(d / PLAN, PartyPlan),
            own=list(iter_jsonl(d / OWN, Estimate)),
            fused=list(iter_jsonl(d / FUSED, FusedRecord)),
            received=list(iter_jsonl(d / RECEIVED, ReceivedRecord)),
            events=list(iter_jsonl(d / EVENTS, TimelineEvent)),
            summary=read_json(done, PartySummary) if done.exists() else None,
        )
    return out


@dataclass
class Flight:
    id: str
    rv: str
    objects: set[str]
    launch_t: float
    impact: tuple[float, float, float] | None  # t, lat, lon of the RV


def flights(truth: Truth) -> list[Flight]:
    out = []
    launches = {e.flight_id: e.t for e in truth.events_of("launch")}
    impacts = {e.object_id: (e.t, e.lat_deg, e.lon_deg) for e in truth.events_of("impact")}
    for fid, t0 in sorted(launches.items(), key=lambda kv: kv[1]):
        objs = {o.object_id for o in truth.objects if o.flight_id == fid}
        rv = next((o.object_id for o in truth.objects if o.flight_id == fid and o.kind == "rv"),
                  next(iter(sorted(objs))))  # fmt: skip
        out.append(Flight(fid, rv, objs, t0, impacts.get(rv)))
    return out


@dataclass
class Series:
    """Impact estimates of one RV as known over time: when known, where, and how sure."""

    known_t: F64
    lat: F64
    lon: F64
    cov: F64  # (n, 2, 2)
    confidence: F64

    @classmethod
    def of(cls, rows: list[tuple[float, GroundPoint]]) -> Series:
        rows = sorted(rows, key=lambda r: r[0])
        cov = np.array([[[p.cov_en_m2[0], p.cov_en_m2[2]], [p.cov_en_m2[2], p.cov_en_m2[1]]]
                        for _, p in rows]).reshape(-1, 2, 2)  # fmt: skip
        return cls(
            np.array([t for t, _ in rows], float),
            np.array([p.lat_deg for _, p in rows], float),
            np.array([p.lon_deg for _, p in rows], float),
            cov,
            np.array([p.ellipse.confidence for _, p in rows], float),
        )

    def errors(self, lat: float, lon: float) -> F64:
        n = len(self.known_t)
        return geodesic_m(self.lat, self.lon, np.full(n, lat), np.full(n, lon))

    def inside(self, lat: float, lon: float) -> NDArray[np.bool_]:
        n = len(self.known_t)
        off = east_north_offset(self.lat, self.lon, np.full(n, lat), np.full(n, lon))
        return np.asarray(mahalanobis2(off, self.cov) <= ellipse_threshold(self.confidence))


# (track of the picture, time, impact estimate, RV measurements behind it, parties in it)
Row = tuple[str, float, GroundPoint, int, frozenset[str]]


def best_on_grid(
    rows: list[Row], grid: F64, lat: float, lon: float
) -> tuple[F64, list[frozenset[str]]]:
    """Impact error, at each grid time, of the picture's estimate of the RV: of the tracks
    with an estimate no older than MAX_AGE_S, the one most RV measurements stand behind
    (a radar that cannot resolve the RV from its stage holds two tracks fed by both; an
    operator follows the one with the evidence). NaN where the picture has none; with the
    parties whose tracks made the estimate chosen at each time."""
    by_track: dict[str, list[tuple[float, GroundPoint, int, frozenset[str]]]] = defaultdict(list)
    for track, t, g, n, parties in rows:
        by_track[track].append((t, g, n, parties))
    err = np.full((len(by_track), len(grid)), np.nan)
    evidence = np.full((len(by_track), len(grid)), -1)
    index = np.zeros((len(by_track), len(grid)), np.intp)
    tracks = list(by_track.values())
    for k, items in enumerate(tracks):
        items.sort(key=lambda r: r[0])
        s = Series.of([(t, g) for t, g, _, _ in items])
        i = np.searchsorted(s.known_t, grid, side="right") - 1
        index[k] = np.maximum(i, 0)
        fresh = (i >= 0) & (grid - s.known_t[index[k]] <= MAX_AGE_S)
        err[k] = np.where(fresh, s.errors(lat, lon)[index[k]], np.nan)
        evidence[k] = np.where(fresh, np.array([n for _, _, n, _ in items])[index[k]], -1)
    if not tracks:
        return np.full(len(grid), np.nan), [frozenset()] * len(grid)
    best = np.argmax(evidence, axis=0)
    cols = np.arange(len(grid))
    out: F64 = err[best, cols]
    who = [tracks[b][index[b, j]][3] if evidence[b, j] >= 0 else frozenset()
           for j, b in enumerate(best.tolist())]  # fmt: skip
    return out, who


def _data_t(e: Estimate) -> float:
    """Time of the newest state an estimate's impact was predicted from."""
    return e.predicted_from_t if e.predicted_from_t is not None else e.t


def _first(times: list[float], launch_t: float) -> float | None:
    return round(min(times) - launch_t, 2) if times else None


def _rms(a: F64) -> float:
    return float(np.sqrt(np.mean(a**2)))


def _first_detections(
    run_dir: Path, labels: dict[str, str | None], flight_of: dict[str, str]
) -> dict[tuple[str, str], float]:
    """(party, flight) -> scenario time of the first measurement of its sensors of it."""
    catalogue = read_json(run_dir / "sensors.json", SensorCatalogue)
    owner = {s.id: s.party for s in catalogue.sensors}
    first: dict[tuple[str, str], float] = {}
    for m in iter_jsonl(run_dir / "measurements.jsonl", _Measured):
        obj = labels.get(m.id)
        if obj is None:
            continue
        key = (owner[m.sensor], flight_of[obj])
        if key not in first:
            first[key] = m.t
    return first


class _Label(msgspec.Struct):
    id: str
    object: str | None


class _Measured(msgspec.Struct):
    id: str
    t: float
    sensor: str


def _delivery(mode_dir: Path, outputs: dict[str, PartyOutputs], end_wall: float) -> dict[str, Any]:
    """Published against received, per origin and recipient, from the nodes' own stores."""
    sent: dict[tuple[str, str], set[int]] = defaultdict(set)
    got: dict[tuple[str, str], set[int]] = defaultdict(set)
    unacked = 0
    for p in outputs:
        db = mode_dir / p / "node.db"
        if not db.exists():
            continue
        store = NodeStore(db)
        try:
            for env, state in store.sent():
                if env.time_ns / 1e9 <= end_wall - SETTLE_WALL_S:
                    unacked += state != ACKED
                    for to in env.recipients():
                        sent[(p, to)].add(env.seq)
            after = 0
            while rows := store.inbox(after):
                for row in rows:
                    got[(row.envelope.origin, p)].add(row.envelope.seq)
                after = rows[-1].row
        finally:
            store.close()
    lost = {f"{a}->{b}": len(seqs - got[(a, b)]) for (a, b), seqs in sent.items()}
    return {
        "published_before_end": {f"{a}->{b}": len(s) for (a, b), s in sent.items()},
        "lost": lost,
        "unacknowledged": unacked,
    }


def _releasability(outputs: dict[str, PartyOutputs]) -> list[str]:
    """Every report a party received must have been released to it by its origin."""
    bad = []
    for p, out in outputs.items():
        for r in out.received:
            origin = outputs[r.origin].plan
            if p not in origin.release_tracks or p not in r.label:
                bad.append(f"{p} received a {r.kind} of {r.origin} not released to it")
            elif r.has_estimates and p not in origin.release_estimates:
                bad.append(f"{p} received estimates of {r.origin} not released to it")
    return bad


def _latency_ms(out: PartyOutputs) -> dict[str, float | int]:
    """Wall time from a partner's measurement to this party's first fused picture with it."""
    fused_walls: dict[tuple[str, str], list[float]] = defaultdict(list)
    for f in out.fused:
        for party, track in f.contributors:
            fused_walls[(party, track)].append(f.wall)
    lat = []
    for r in out.received:
        walls = fused_walls.get((r.origin, r.track), [])
        i = bisect.bisect_left(walls, r.wall)
        if i < len(walls) and r.measured_wall > 0:
            lat.append(1000.0 * (walls[i] - r.measured_wall))
    if not lat:
        return {"n": 0}
    a = np.array(lat)
    return {"n": len(a), "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "max": float(a.max())}  # fmt: skip


def _consultation(mode_dir: Path, party: str, t_launch: float) -> dict[str, Any] | None:
    """What a party's channel did (its consult.jsonl) and whether its copy of the decision
    log verifies (`warnlink consult verify`, with the federation's certificates)."""
    d = mode_dir / party
    if not (d / CONSULT_DIR / "decisions.db").exists():
        return None
    rows = list(iter_jsonl(d / CONSULT, ConsultRecord)) if (d / CONSULT).exists() else []

    def of(what: str) -> list[ConsultRecord]:
        return [r for r in rows if r.what == what]

    try:
        report = verify_log(d / CONSULT_DIR / "decisions.db", None, mode_dir / "pki")
        problems = report.problems
    except LogError as exc:
        problems = [str(exc)]
    return {
        "convened": [{"at_s": round(r.t - t_launch, 1), "by": r.who, "reason": r.detail}
                     for r in of("convened")],
        "acks": [{"by": r.who, "after_s": None if r.after_s is None else round(r.after_s, 1)}
                 for r in of("acknowledged")],
        "escalations": [r.who for r in of("escalated")],
        "alarms": [f"{r.who}: {r.detail}" for r in of("alarm")],
        "decisions_signed": len(of("signed")),
        "decisions_logged": len(of("logged")),
        "verify_ok": not problems,
        "verify_problems": problems,
    }  # fmt: skip


def score(
    mode_dir: Path, run_dir: Path, truth: Truth, parties: list[str], t_end: float
) -> dict[str, Any]:
    """Every metric of one run, as plain JSON-able data (metrics.json)."""
    outputs = load_outputs(mode_dir, parties)
    labels = {row.id: row.object for row in iter_jsonl(run_dir / "labels.jsonl", _Label)}
    flight_of = {o.object_id: o.flight_id for o in truth.objects}
    detections = _first_detections(run_dir, labels, flight_of)
    fed_by: dict[Key, list[str]] = defaultdict(list)
    for p, out in outputs.items():
        for e in out.own:
            if e.measurement is not None:
                fed_by[(p, e.track)].append(e.measurement)
    owners: dict[frozenset[Key], str | None] = {}
    behind: dict[tuple[frozenset[Key], str], int] = {}

    def owner(keys: list[Key]) -> str | None:
        key = frozenset(keys)
        if key not in owners:
            owners[key] = attribute(keys, fed_by, labels)
        return owners[key]

    def evidence(keys: list[Key], obj: str) -> int:
        key = (frozenset(keys), obj)
        if key not in behind:
            behind[key] = sum(labels.get(m) == obj for k in keys for m in fed_by.get(k, ()))
        return behind[key]

    result: dict[str, Any] = {"flights": {}, "parties": {}}
    for fl in flights(truth):
        fr: dict[str, Any] = {"launch_t": fl.launch_t, "rv": fl.rv, "parties": {}}
        if fl.impact is not None:
            fr["impact"] = {"t": fl.impact[0], "lat": fl.impact[1], "lon": fl.impact[2]}
        grid = np.arange(fl.launch_t, (fl.impact[0] if fl.impact else t_end), GRID_S)
        on_grid: dict[str, dict[str, F64]] = {}
        holds: dict[str, list[frozenset[str]]] = {}
        for p, out in outputs.items():
            own = [(e, [(p, e.track)]) for e in out.own]
            fused = [(f, [(a, b) for a, b in f.contributors]) for f in out.fused]
            # each estimate by when it was known, and by the time of the newest state its
            # impact was predicted from (like for like: accuracy apart from latency)
            own_rows: list[Row] = []
            own_data: list[Row] = []
            for e, k in own:
                if e.impact is not None and owner(k) == fl.rv:
                    n, who = evidence(k, fl.rv), frozenset([p])
                    own_rows.append((e.track, e.t, e.impact, n, who))
                    own_data.append((e.track, _data_t(e), e.impact, n, who))
            fused_rows: list[Row] = []
            fused_data: list[Row] = []
            for f, k in fused:
                if f.estimate.impact is not None and owner(k) == fl.rv:
                    n, who = evidence(k, fl.rv), frozenset(f.parties)
                    fused_rows.append((f.system_id, f.known_t, f.estimate.impact, n, who))
                    fused_data.append((f.system_id, _data_t(f.estimate), f.estimate.impact, n, who))
            pr: dict[str, Any] = {
                "first_detection_s": _first([detections[(p, fl.id)]], fl.launch_t)
                if (p, fl.id) in detections else None,
                "first_report_s": _first([r.known_t for r in out.received
                                          if owner([(r.origin, r.track)]) in fl.objects],
                                         fl.launch_t),
                "first_own_track_s": _first([e.t for e, k in own if e.status == "confirmed"
                                             and owner(k) in fl.objects], fl.launch_t),
                "first_own_impact_s": _first([r[1] for r in own_rows], fl.launch_t),
                "first_fused_track_s": _first([f.known_t for f, k in fused
                                               if owner(k) in fl.objects], fl.launch_t),
                "first_fused_impact_s": _first([r[1] for r in fused_rows], fl.launch_t),
            }  # fmt: skip
            on_grid[p] = {}
            if fl.impact is not None:
                _, lat, lon = fl.impact
                for name, rows in (("own", own_rows), ("fused", fused_rows)):
                    on_grid[p][name] = err = best_on_grid(rows, grid, lat, lon)[0]
                    has = ~np.isnan(err)
                    pr[f"{name}_impact_error"] = {
                        "t": (grid[has] - fl.launch_t).round(1).tolist(),
                        "error_m": err[has].round(1).tolist(),
                    }
                    inside = Series.of([(t, g) for _, t, g, _, _ in rows]).inside(lat, lon)
                    pr[f"{name}_coverage"] = {"n": len(inside), "inside": int(inside.sum())}
                # accuracy alone, like for like: by the time of the data behind each estimate
                on_grid[p]["fused_data"], holds[p] = best_on_grid(fused_data, grid, lat, lon)
                on_grid[p]["own_data"] = best_on_grid(own_data, grid, lat, lon)[0]
                pr["error_at_m"] = {
                    f"{int(dt)}": {
                        name: (None if np.isnan(v := float(on_grid[p][name][at])) else round(v, 1))
                        for name in ("own", "fused")
                    }
                    for dt in ERROR_AT_S
                    if (at := round(dt / GRID_S)) < len(grid)
                }  # fmt: skip
            fr["parties"][p] = pr
        for p in outputs:
            if fl.impact is None:
                continue
            fused_err = on_grid[p]["fused_data"]
            versus = {}
            for q in outputs:
                own_err = on_grid[q]["own_data"]
                # a partner's own estimate is what p could have had only while p held it
                held = np.array([q == p or q in who for who in holds[p]], bool)
                both = ~np.isnan(fused_err) & ~np.isnan(own_err) & held
                if both.any():
                    versus[q] = {"n": int(both.sum()), "fused_rms_m": _rms(fused_err[both]),
                                 "own_rms_m": _rms(own_err[both])}  # fmt: skip
            fr["parties"][p]["fused_vs_own"] = versus
        result["flights"][fl.id] = fr
    end_wall = max((e.wall for out in outputs.values() for e in out.events), default=0.0)
    result["latency_ms"] = {p: _latency_ms(out) for p, out in outputs.items()}
    result["releasability_violations"] = _releasability(outputs)
    result["alerting"] = score_alerts(mode_dir, {p: o.plan for p, o in outputs.items()}, truth,
                                      t_end)  # fmt: skip
    result["delivery"] = _delivery(mode_dir, outputs, end_wall)
    t_launch = min((fl.launch_t for fl in flights(truth)), default=0.0)
    consult = {p: _consultation(mode_dir, p, t_launch) for p in outputs}
    result["consultation"] = {p: c for p, c in consult.items() if c is not None}
    result["parties"] = {
        p: msgspec.to_builtins(out.summary) if out.summary else None for p, out in outputs.items()
    }
    return result
