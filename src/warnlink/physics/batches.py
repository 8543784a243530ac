"""Batch rows for flights: each stack (RV / satellite) and, optionally, its spent stages.

Shared by the targeting solver (stacks only, many perturbed copies per flight) and by
the final simulation (stacks and stages, once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from warnlink.geo.frames import enu_basis, geodetic_to_ecef, rot_z
from warnlink.physics.ascent import (
    Controls,
    Guidance,
    Segment,
    spent_stage_mass,
    stack_segments,
)
from warnlink.physics.dynamics import F64, PhysicsModel
from warnlink.physics.integrate import Batch
from warnlink.physics.vehicles import VEHICLES
from warnlink.scenario.model import Flight

MAX_FLIGHT_S = 4.0 * 3600.0  # guard: no ballistic flight lasts this long


@dataclass(frozen=True)
class Pad:
    """A flight's launch point and local frame in ECI at its launch time."""

    r: F64
    v: F64
    east: F64
    north: F64
    up: F64


def pad(flight: Flight, model: PhysicsModel) -> Pad:
    rot = rot_z(model.omega * flight.time_s)
    r = rot @ geodetic_to_ecef(flight.site_lat_deg, flight.site_lon_deg, flight.site_alt_m)
    east, north, up = enu_basis(flight.site_lat_deg, flight.site_lon_deg) @ rot.T
    v = model.omega * np.array([-r[1], r[0], 0.0])
    return Pad(r, v, east.copy(), north.copy(), up.copy())


@dataclass(frozen=True)
class RowSpec:
    """One row before batching: schedule relative to its start, stop time, spawn links."""

    t0: float
    y0: F64
    live: bool
    t_stop: float
    segments: list[Segment]
    children: dict[int, int]  # stage number -> row index of that spent stage
    # up, downrange (ECI), pitch start, cut-off (absolute s), theta_f, shape: see Guidance
    guidance: tuple[F64, F64, float, float, float, float]


@dataclass(frozen=True)
class FlightRows:
    rv: int
    stages: dict[int, int]  # stage number -> row


def build(
    flights: Sequence[Flight],
    controls: Sequence[Controls],
    model: PhysicsModel,
    *,
    with_stages: bool,
    stop_s: Sequence[float],
    stage_stop_s: Sequence[Sequence[float]] = (),
) -> tuple[Batch, list[FlightRows]]:
    """Rows for each (flight, controls) pair: the stack, then its stages if asked.

    stop_s is each stack's absolute stop time, stage_stop_s[i][k - 1] that of stage k of
    flight i (needed with stages).
    """
    specs: list[RowSpec] = []
    rows: list[FlightRows] = []
    for i, (fl, c) in enumerate(zip(flights, controls, strict=True)):
        veh = VEHICLES[fl.vehicle_class]
        p = pad(fl, model)
        segs = stack_segments(veh, c.cutoff_s)
        downrange = np.cos(c.azimuth) * p.north + np.sin(c.azimuth) * p.east
        rv = len(specs)
        stage_rows = {k: rv + k for k in range(1, len(veh.stages) + 1)} if with_stages else {}
        guide = (p.up, downrange, fl.time_s + veh.vertical_rise_s, fl.time_s + c.cutoff_s,
                 c.theta_f, c.shape)  # fmt: skip
        specs.append(RowSpec(fl.time_s, np.r_[p.r, p.v], True, stop_s[i], segs, stage_rows, guide))
        for k in stage_rows:
            st = veh.stages[k - 1]
            coast = Segment(np.inf, 0.0, spent_stage_mass(veh, k, c.cutoff_s), 0.0,
                            st.dry_kg / st.spent_beta)  # fmt: skip
            stop = stage_stop_s[i][k - 1]
            specs.append(RowSpec(np.nan, np.zeros(6), False, stop, [coast], {}, guide))
        rows.append(FlightRows(rv, stage_rows))
    return _assemble(specs), rows


def _assemble(specs: list[RowSpec]) -> Batch:
    n, width = len(specs), max(len(s.segments) for s in specs)
    seg = {k: np.zeros((n, width)) for k in ("start", "end", "thrust", "mass0", "mdot", "cda")}
    seg["end"][:] = np.inf
    seg["mass0"][:] = 1.0
    child = -np.ones((n, width), np.intp)
    for i, s in enumerate(specs):
        base = s.t0 if s.live else 0.0  # a spawned row's only segment never ends
        for j, g in enumerate(s.segments):
            seg["start"][i, j] = base if j == 0 else seg["end"][i, j - 1]
            seg["end"][i, j] = base + g.end_s
            seg["thrust"][i, j], seg["mass0"][i, j] = g.thrust_n, g.mass0_kg
            seg["mdot"][i, j], seg["cda"][i, j] = g.mdot, g.cda_m2
            if g.spawn is not None and g.spawn in s.children:
                child[i, j] = s.children[g.spawn]
    up, dr, t_pitch, t_cut, theta_f, shape = (
        np.array(x) for x in zip(*(s.guidance for s in specs), strict=True)
    )
    return Batch(
        t0=np.array([s.t0 for s in specs]), y0=np.array([s.y0 for s in specs]),
        live=np.array([s.live for s in specs]), t_stop=np.array([s.t_stop for s in specs]),
        stop_at_surface=np.ones(n, bool), seg_start=seg["start"], seg_end=seg["end"],
        thrust=seg["thrust"], mass0=seg["mass0"], mdot=seg["mdot"], cda=seg["cda"],
        child=child, guidance=Guidance(up, dr, t_pitch, t_cut, theta_f, shape),
    )  # fmt: skip
