"""Powered flight: staging schedules, the pitch program and thrust, per batch row.

Every row of a batch (a stack, a spent stage, a satellite) is a sequence of segments of
constant thrust and mass flow, the last one an endless coast. Segment ends are where
the integrator must land a step (burnout, separation, cut-off), and where a spent stage
is spawned as a row of its own. Guidance is open loop, as in real ballistic missiles:
a vertical rise, then the thrust turns in an inertially fixed launch plane from the
local vertical by theta(t) = theta_f * s^q, s going 0 -> 1 from the end of the vertical
rise to the final cut-off. theta_f, q and the cut-off time are what the targeting
solver adjusts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from warnlink.physics.vehicles import Vehicle

F64 = NDArray[np.float64]
G0 = 9.80665  # m/s^2, defines Isp
CD_BOOST = 0.3  # drag coefficient of a stack in boost (slender body, average over Mach)
STAGING_COAST_S = 2.0  # between a burnout and the separation / next ignition
SEPARATION_DV = 2.0  # m/s, retro push of a spent stage away from the stack


@dataclass(frozen=True)
class Controls:
    """Open-loop steering of one stack (angles in rad, times in s after launch)."""

    azimuth: float
    theta_f: float
    shape: float
    cutoff_s: float  # final-stage cut-off, at most the final stage's full burnout


def full_burn_s(vehicle: Vehicle) -> float:
    """Time after launch of the final stage's burnout with no cut-off."""
    return sum(s.burn_s for s in vehicle.stages) + STAGING_COAST_S * (len(vehicle.stages) - 1)


def last_ignition_s(vehicle: Vehicle) -> float:
    return full_burn_s(vehicle) - vehicle.stages[-1].burn_s


@dataclass(frozen=True)
class Segment:
    """A piece of one row's schedule; `spawn` is the spent stage separating at its end."""

    end_s: float  # after launch (inf for the final coast)
    thrust_n: float
    mass0_kg: float
    mdot: float
    cda_m2: float
    spawn: int | None = None  # stage number (1-based) separating at end_s


def stack_segments(vehicle: Vehicle, cutoff_s: float) -> list[Segment]:
    """Burns, staging coasts and the payload's final coast of a stack cut off at cutoff_s."""
    segs: list[Segment] = []
    t, mass = 0.0, vehicle.launch_mass_kg
    n = len(vehicle.stages)
    for k, st in enumerate(vehicle.stages):
        cda = CD_BOOST * np.pi * 0.25 * st.diameter_m**2
        mdot = st.propellant_kg / st.burn_s
        last = k == n - 1
        end = cutoff_s if last else t + st.burn_s
        segs.append(
            Segment(end, mdot * st.isp_s * G0, mass, mdot, cda, spawn=k + 1 if last else None)
        )
        mass -= mdot * (end - t)
        if not last:
            t = end + STAGING_COAST_S
            segs.append(Segment(t, 0.0, mass, 0.0, cda, spawn=k + 1))
            mass -= st.dry_kg
    payload_cda = vehicle.payload_kg / vehicle.payload_beta
    segs.append(Segment(np.inf, 0.0, vehicle.payload_kg, 0.0, payload_cda))
    return segs


def spent_stage_mass(vehicle: Vehicle, stage: int, cutoff_s: float) -> float:
    """Mass of spent stage `stage` (1-based): dry, plus unburnt propellant after a cut-off."""
    st = vehicle.stages[stage - 1]
    if stage < len(vehicle.stages):
        return st.dry_kg
    return st.dry_kg + st.propellant_kg * max(
        0.0, 1.0 - (cutoff_s - last_ignition_s(vehicle)) / st.burn_s
    )


@dataclass
class Guidance:
    """Launch-plane steering per row: ECI unit vectors and absolute times (R,)."""

    up: F64  # (R, 3) local vertical at the pad at launch
    downrange: F64  # (R, 3) horizontal along the launch azimuth
    t_pitch: F64  # start of the pitch program
    t_cut: F64  # end of the pitch program (the final cut-off)
    theta_f: F64
    shape: F64

    def take(self, idx: NDArray[np.intp]) -> Guidance:
        return Guidance(
            self.up[idx], self.downrange[idx], self.t_pitch[idx], self.t_cut[idx],
            self.theta_f[idx], self.shape[idx],
        )  # fmt: skip

    def direction(self, t: F64) -> F64:
        """Thrust unit vectors (n, 3) at absolute times t (n,)."""
        s = np.clip((t - self.t_pitch) / (self.t_cut - self.t_pitch), 0.0, 1.0)
        theta = self.theta_f * s**self.shape
        return np.cos(theta)[:, None] * self.up + np.sin(theta)[:, None] * self.downrange
