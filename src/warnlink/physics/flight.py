"""Flying a set of launches: targeting, then one batch of every stack and spent stage.

The result is the ground truth: ECEF tracks at the integrator's own steps and the flight
events (launch, stage burnouts and separations, burnout, apogee, impact, orbit).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from warnlink.geo.frames import A_WGS84, GM_EARTH, R_MEAN, ecef_to_geodetic, enu_basis, rot_z
from warnlink.physics.ascent import Controls, stack_segments
from warnlink.physics.batches import MAX_FLIGHT_S, build
from warnlink.physics.dynamics import F64, FULL_PHYSICS, PhysicsModel
from warnlink.physics.integrate import ENDED_SURFACE, Result, hermite, peak_height, run
from warnlink.physics.targeting import aim
from warnlink.physics.truth import Event, EventKind, ObjectKind, ObjectTrack, Truth
from warnlink.physics.vehicles import VEHICLES
from warnlink.scenario.model import Flight

ORBIT_COAST_S = 600.0  # how long an object in orbit is followed after insertion


def fly(
    flights: Sequence[Flight],
    model: PhysicsModel = FULL_PHYSICS,
    t_end: float | None = None,
    orbit_coast_s: float = ORBIT_COAST_S,
) -> Truth:
    """Target every flight, then simulate all of them and their stages in one batch.

    Objects end at impact, orbit_coast_s after reaching orbit (satellite and the last
    stage of an slv, which reaches orbit with it), or at t_end.
    """
    if not flights:
        return Truth([], [])
    controls = aim(flights, model)
    end = np.inf if t_end is None else t_end
    stop, stage_stop = [], []
    for fl, c in zip(flights, controls, strict=True):
        n = len(VEHICLES[fl.vehicle_class].stages)
        fall = min(fl.time_s + MAX_FLIGHT_S, end)
        if fl.vehicle_class == "slv":
            orbit = min(fl.time_s + c.cutoff_s + orbit_coast_s, end)
            stop.append(orbit)
            stage_stop.append([fall] * (n - 1) + [orbit])
        else:
            stop.append(fall)
            stage_stop.append([fall] * n)
    batch, rows = build(
        flights, controls, model, with_stages=True, stop_s=stop, stage_stop_s=stage_stop
    )
    res = run(batch, model)
    objects: list[ObjectTrack] = []
    events: list[Event] = []
    for fl, c, fr in zip(flights, controls, rows, strict=True):
        slv = fl.vehicle_class == "slv"
        main = f"{fl.id}/SAT" if slv else f"{fl.id}/RV"
        n = len(VEHICLES[fl.vehicle_class].stages)
        t_ins = fl.time_s + c.cutoff_s
        orbit_end = t_ins + orbit_coast_s
        members: list[tuple[str, ObjectKind, int, bool]] = [
            (main, "payload" if slv else "rv", fr.rv, slv)
        ]
        members += [(f"{fl.id}/S{k}", "stage", row, slv and k == n) for k, row in fr.stages.items()]
        for oid, kind, row, orbits in members:
            track = _track(res, row, fl, oid, kind, orbit_end if orbits else None, model)
            if track is None:
                continue
            objects.append(track)
            if track.ended_by == "impact":
                speed = {"speed_mps": float(np.linalg.norm(track.v[-1]))}
                events.append(_event(track, -1, "impact", speed))
            if orbits and track.t[0] <= t_ins <= track.t[-1]:
                events.append(_orbit_event(track, t_ins, model))
        events += _stack_events(res, fr.rv, fl, c, main, model, ballistic=not slv)
    events = [e for e in events if e.t <= end]
    events.sort(key=lambda e: (e.t, e.object_id))
    return Truth(objects, events)


def _ecef(t: F64, y: F64, model: PhysicsModel) -> tuple[F64, F64]:
    rot = rot_z(-model.omega * t)
    r = np.einsum("nij,nj->ni", rot, y[:, :3])
    v = np.einsum("nij,nj->ni", rot, y[:, 3:]) - model.omega * np.stack(
        [-r[:, 1], r[:, 0], np.zeros(len(r))], axis=1
    )
    return r, v


def _track(
    res: Result,
    row: int,
    fl: Flight,
    oid: str,
    kind: ObjectKind,
    orbit_end: float | None,
    model: PhysicsModel,
) -> ObjectTrack | None:
    """The row as an ECEF track; None if it has no extent (born at or after t_end)."""
    t, y, burning = res.row(row)
    if len(t) < 2:
        return None
    r, v = _ecef(t, y, model)
    track = ObjectTrack(oid, fl.id, fl.launch_id, kind, t, r, v, burning)
    if res.ended[row] == ENDED_SURFACE:
        track.ended_by = "impact"
    elif orbit_end is not None and t[-1] >= orbit_end:
        track.ended_by = "orbit"
    return track


def _event(track: ObjectTrack, i: int, kind: EventKind, details: dict[str, float]) -> Event:
    return _event_at(float(track.t[i]), track.r[i], kind, track.flight_id, track.object_id, details)


def _event_at(
    t: float, r: F64, kind: EventKind, flight_id: str, object_id: str, details: dict[str, float]
) -> Event:
    lat, lon, alt = ecef_to_geodetic(r)
    return Event(t, kind, flight_id, object_id, float(lat), float(lon), float(alt), details)


def _stack_events(
    res: Result, row: int, fl: Flight, c: Controls, oid: str, model: PhysicsModel, ballistic: bool
) -> list[Event]:
    """Launch, staging, burnout and apogee, all at exact samples of the stack's track."""
    t, y, _ = res.row(row)
    r, v = _ecef(t, y, model)

    def at(time: float) -> int:
        return int(np.searchsorted(t, time - 1e-6))

    out = [_event_at(float(t[0]), r[0], "launch", fl.id, oid, {})]
    burns = 0
    for seg in stack_segments(VEHICLES[fl.vehicle_class], c.cutoff_s)[:-1]:
        ts = fl.time_s + seg.end_s
        if ts > t[-1]:
            break
        if seg.thrust_n > 0:
            burns += 1
            out.append(
                _event_at(
                    ts, r[at(ts)], "stage_burnout", fl.id, f"{fl.id}/S{burns}", {"stage": burns}
                )
            )
        if seg.spawn is not None:
            k = seg.spawn
            out.append(
                _event_at(ts, r[at(ts)], "stage_separation", fl.id, f"{fl.id}/S{k}", {"stage": k})
            )
    t_bo = fl.time_s + c.cutoff_s
    if t_bo <= t[-1]:
        i = at(t_bo)
        up = enu_basis(*ecef_to_geodetic(r[i])[:2])[2]
        speed = float(np.linalg.norm(v[i]))
        details = {"speed_mps": speed, "flight_path_angle_rad": float(np.arcsin(v[i] @ up / speed))}
        out.append(_event_at(t_bo, r[i], "burnout", fl.id, oid, details))
    if ballistic and len(t) > 2:
        t_apo, h_apo = peak_height(t, y, model)
        if t_apo < t[-1]:
            j = int(np.clip(np.searchsorted(t, t_apo) - 1, 0, len(t) - 2))
            s = np.array([(t_apo - t[j]) / (t[j + 1] - t[j])])
            p = hermite(y[j : j + 1], y[j + 1 : j + 2], np.array([t[j + 1] - t[j]]), s)
            r_apo, _ = _ecef(np.array([t_apo]), np.c_[p, np.zeros((1, 3))], model)
            out.append(_event_at(t_apo, r_apo[0], "apogee", fl.id, oid, {"alt_m": h_apo}))
    return out


def _orbit_event(track: ObjectTrack, t_ins: float, model: PhysicsModel) -> Event:
    """Osculating perigee and apogee heights above the equatorial (or model) radius."""
    i = int(np.searchsorted(track.t, t_ins - 1e-6))
    rot = rot_z(model.omega * track.t[i])
    r = rot @ track.r[i]
    v = rot @ (track.v[i] + model.omega * np.array([-track.r[i][1], track.r[i][0], 0.0]))
    rn, vn = np.linalg.norm(r), np.linalg.norm(v)
    a = 1.0 / (2.0 / rn - vn * vn / GM_EARTH)
    e = np.linalg.norm(((vn * vn - GM_EARTH / rn) * r - (r @ v) * v) / GM_EARTH)
    ref = R_MEAN if model.earth == "sphere" else A_WGS84
    details = {"perigee_alt_m": float(a * (1 - e) - ref), "apogee_alt_m": float(a * (1 + e) - ref)}
    return _event(track, i, "orbit", details)
