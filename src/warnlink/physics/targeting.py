"""Targeting: the open-loop controls that put each flight on its target with its profile.

Three unknowns per flight, three conditions:
- ballistic: launch azimuth, final pitch angle theta_f and final cut-off time; impact
  east and north miss, and the profile (minimum-energy: burnout flight-path angle equal
  to the Keplerian optimum from the burnout point to the target; lofted / depressed:
  apogee height equal to the requested one);
- slv: pitch shape q, theta_f and cut-off (the azimuth is given); insertion radius,
  zero flight-path angle and circular speed at the requested orbit height.
Solved by Newton's method with forward differences, where the nominal and perturbed
trajectories of all flights are integrated as one batch. A grid scan and a first Newton
phase use only the boost (coarse steps) and a Keplerian coast, which is cheap; the final
phase integrates the full trajectories with full physics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from warnlink.geo.frames import (
    A_WGS84,
    GM_EARTH,
    R_MEAN,
    ecef_to_geodetic,
    geodetic_to_ecef,
    rot_z,
)
from warnlink.physics import kepler
from warnlink.physics.ascent import Controls, full_burn_s, last_ignition_s
from warnlink.physics.batches import MAX_FLIGHT_S, build
from warnlink.physics.dynamics import F64, FULL_PHYSICS, PhysicsModel, height
from warnlink.physics.integrate import DT_FINE, ENDED_SURFACE, peak_height, run
from warnlink.physics.vehicles import VEHICLES, Vehicle, profile_apogee, reach_problem
from warnlink.scenario.model import Flight

DT_COARSE = 2.0
MIN_BURN_S = 1.0  # shortest final-stage burn the solver may choose
# Finite-difference steps: ballistic (azimuth, theta_f, cut-off), slv (shape, theta_f, cut-off).
DELTA_BALLISTIC = np.array([1e-4, 1e-4, 1e-2])
DELTA_SLV = np.array([1e-3, 1e-4, 1e-2])
# Residual tolerances in the residuals' units (m or m-equivalents, see _measure): 200 m of
# a minimum-energy condition is 3e-5 rad of flight-path angle, 1000 m of an slv's 1 m/s.
TOL_BALLISTIC = np.array([20.0, 20.0, 200.0])
TOL_SLV = np.array([500.0, 1000.0, 1000.0])
COARSE_TOL_FACTOR = 50.0
MAX_STEP = np.array([0.2, 0.3, 20.0])


class TargetingError(RuntimeError):
    """A flight could not be shaped to its target or orbit."""

    def __init__(self, flight_id: str, reason: str) -> None:
        super().__init__(f"flight {flight_id}: {reason}")
        self.flight_id = flight_id
        self.reason = reason


@dataclass(frozen=True)
class _Goal:
    flight: Flight
    vehicle: Vehicle
    ballistic: bool
    target: F64  # ECEF on the surface (ballistic) or unused
    target_radius: float
    apogee_m: float  # lofted / depressed; NaN for minimum-energy and slv
    orbit_radius: float  # slv; NaN otherwise

    @property
    def delta(self) -> F64:
        return DELTA_BALLISTIC if self.ballistic else DELTA_SLV

    @property
    def tol(self) -> F64:
        return TOL_BALLISTIC if self.ballistic else TOL_SLV

    def bounds(self) -> tuple[F64, F64]:
        veh = self.vehicle
        t_lo = max(last_ignition_s(veh), veh.vertical_rise_s) + MIN_BURN_S
        first = (-np.inf, np.inf) if self.ballistic else (0.1, 3.0)
        return np.array([first[0], 0.0, t_lo]), np.array([first[1], 2.8, full_burn_s(veh)])

    def controls(self, x: F64) -> Controls:
        if self.ballistic:
            return Controls(float(x[0]), float(x[1]), self.vehicle.pitch_shape, float(x[2]))
        az = np.radians(self.flight.azimuth_deg or 0.0)
        return Controls(float(az), float(x[1]), float(x[0]), float(x[2]))


def _target(flight: Flight) -> tuple[float, float]:
    return flight.target_lat_deg or 0.0, flight.target_lon_deg or 0.0


def _goal(flight: Flight, model: PhysicsModel) -> _Goal:
    problem = reach_problem(flight)
    if problem is not None:
        raise TargetingError(flight.id, f"{problem[0]}: {problem[1]}")
    veh = VEHICLES[flight.vehicle_class]
    if flight.vehicle_class == "slv":
        ref = R_MEAN if model.earth == "sphere" else A_WGS84
        orbit = ref + (flight.orbit_altitude_m or 0.0)
        return _Goal(flight, veh, False, np.zeros(3), np.nan, np.nan, orbit)
    target = geodetic_to_ecef(*_target(flight), 0.0)
    if model.earth == "sphere":
        target = target / np.linalg.norm(target) * R_MEAN
    return _Goal(
        flight, veh, True, target, float(np.linalg.norm(target)), profile_apogee(flight), np.nan
    )


def _measure(goals: Sequence[_Goal], xs: F64, model: PhysicsModel, full: bool) -> F64:
    """Residuals (M, 3) of controls xs (M, 3); NaN rows where a condition is undefined.

    Ballistic: impact east and north miss (m) and the profile residual, which is the
    apogee error (m) or, for minimum energy, the flight-path angle error (rad) x R_MEAN.
    Slv: radius error (m), flight-path angle (rad) x orbit radius, speed error x 1000 s.
    With full False the boost is integrated with coarse steps and the coast is Keplerian.
    """
    ctl = [g.controls(x) for g, x in zip(goals, xs, strict=True)]
    t_bo = np.array([g.flight.time_s + c.cutoff_s for g, c in zip(goals, ctl, strict=True)])
    long = np.array([g.ballistic and full for g in goals])
    stop = np.where(long, [g.flight.time_s + MAX_FLIGHT_S for g in goals], t_bo).tolist()
    batch, rows = build([g.flight for g in goals], ctl, model, with_stages=False, stop_s=stop)
    res = run(batch, model, DT_FINE if full else DT_COARSE)
    out = np.full((len(goals), 3), np.nan)
    for m, (g, fr) in enumerate(zip(goals, rows, strict=True)):
        t, y, _ = res.row(fr.rv)
        if t[-1] < t_bo[m] - 1e-6:  # crashed during boost
            continue
        r, v = y[np.searchsorted(t, t_bo[m] - 1e-6)].reshape(2, 3)
        rn, vn = np.linalg.norm(r), np.linalg.norm(v)
        gamma = np.arcsin(r @ v / (rn * vn))
        if not g.ballistic:
            v_circ = np.sqrt(GM_EARTH / rn)
            out[m] = rn - g.orbit_radius, gamma * g.orbit_radius, (vn - v_circ) * 1000.0
            continue
        if full:
            if res.ended[fr.rv] != ENDED_SURFACE:
                continue
            t_imp, r_imp = t[-1], y[-1, :3]
            apogee = peak_height(t, y, model)[1]
        else:
            psi, tof, r_imp, r_apo = kepler.state_arc(r, v, g.target_radius)
            if not np.isfinite(psi):
                continue
            t_imp = t_bo[m] + float(tof)
            e_vec = ((vn * vn - GM_EARTH / rn) * r - (r @ v) * v) / GM_EARTH
            apo_point = -e_vec / np.linalg.norm(e_vec) * r_apo
            apogee = float(height(r if r @ v < 0 else apo_point, model))
        lat, lon, _ = ecef_to_geodetic(rot_z(-model.omega * t_imp) @ r_imp)
        lat_t, lon_t = _target(g.flight)
        north = np.radians(lat - lat_t) * R_MEAN
        east = (
            np.radians((lon - lon_t + 180.0) % 360.0 - 180.0) * R_MEAN * np.cos(np.radians(lat_t))
        )
        if np.isnan(g.apogee_m):
            target_eci = rot_z(model.omega * t_imp) @ g.target
            psi_t = np.arccos(np.clip(r @ target_eci / (rn * g.target_radius), -1.0, 1.0))
            profile = (gamma - kepler.min_energy_gamma(rn, g.target_radius, psi_t)) * R_MEAN
        else:
            profile = apogee - g.apogee_m
        out[m] = east, north, profile
    return out


def _first_guess(goals: Sequence[_Goal], model: PhysicsModel) -> F64:
    """Best point of a grid of the unknowns, judged with the Keplerian coast.

    Judged on relative errors (miss / range, apogee error / apogee, angles in rad), so
    that the pick lands in the right region whatever the scale of the flight.
    """
    grids, scales = [], []
    for g in goals:
        lo, hi = g.bounds()
        cut = lo[2] + (hi[2] - lo[2]) * np.array([0.2, 0.4, 0.6, 0.8, 1.0])
        if g.ballistic:
            fl = g.flight
            site, target = (fl.site_lat_deg, fl.site_lon_deg), _target(g.flight)
            psi, az = kepler.great_circle(*site, *target)
            first = np.array([float(az)])
            theta = np.radians([2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100, 110])
            rng = max(float(psi) * R_MEAN, 1e3)
            scale = np.array([rng, rng, R_MEAN if np.isnan(g.apogee_m) else g.apogee_m])
        else:
            first = np.array([0.4, 0.7, 1.0, 1.5])
            theta = np.radians([70.0, 90.0, 110.0, 130.0, 150.0])
            scale = np.array([1e5, 1e5, 1e5])
        mesh = np.meshgrid(first, theta.astype(float), cut, indexing="ij")
        grids.append(np.stack([a.ravel() for a in mesh], axis=1))
        scales.append(np.broadcast_to(scale, (len(grids[-1]), 3)))
    sizes = [len(x) for x in grids]
    all_goals = [g for g, n in zip(goals, sizes, strict=True) for _ in range(n)]
    res = _measure(all_goals, np.concatenate(grids), model, full=False)
    score = np.linalg.norm(res / np.concatenate(scales), axis=1)
    score = np.where(np.isfinite(score), score, np.inf)
    guesses, k = [], 0
    for grid, n in zip(grids, sizes, strict=True):
        guesses.append(grid[int(np.argmin(score[k : k + n]))])
        k += n
    return np.array(guesses)


def _newton(
    goals: Sequence[_Goal], x0: F64, model: PhysicsModel, full: bool, max_iter: int
) -> tuple[F64, F64, F64]:
    """Damped Newton per flight, all flights and finite differences in one batch per step.

    A step that does not lower the residual norm is halved (from the last accepted
    point) until it does. Returns the last accepted controls of each flight, their
    largest residual in tolerances (<= 1: converged) and their residuals.
    """
    n = len(goals)
    tol = np.array([g.tol for g in goals]) * (1.0 if full else COARSE_TOL_FACTOR)
    delta = np.array([g.delta for g in goals])
    bounds = [g.bounds() for g in goals]
    x, x_ok, step = x0.copy(), x0.copy(), np.zeros_like(x0)
    lam, merit, worst = np.ones(n), np.full(n, np.inf), np.full(n, np.inf)
    resid = np.full((n, 3), np.nan)
    active = np.ones(n, bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if len(idx) == 0:
            break
        xs = x[idx, None, :] + np.concatenate(
            [np.zeros((len(idx), 1, 3)), delta[idx, :, None] * np.eye(3)], axis=1
        )
        rows = [goals[i] for i in idx.tolist() for _ in range(4)]
        f = _measure(rows, xs.reshape(-1, 3), model, full)
        f = f.reshape(len(idx), 4, 3) / tol[idx, None, :]
        for j, i in enumerate(idx):
            f0 = f[j, 0]
            jac = ((f[j, 1:] - f0) / delta[i][:, None]).T
            norm = float(np.linalg.norm(f0))
            if not (norm < merit[i] and np.all(np.isfinite(jac))):
                lam[i] *= 0.5
                active[i] = lam[i] >= 1.0 / 64.0
                x[i] = np.clip(x_ok[i] + lam[i] * step[i], *bounds[i])
                continue
            x_ok[i], merit[i], worst[i], lam[i] = x[i], norm, np.max(np.abs(f0)), 1.0
            resid[i] = f0 * tol[i]
            if worst[i] <= 1.0:
                active[i] = False
                continue
            dx = np.linalg.lstsq(jac, -f0, rcond=None)[0]
            step[i] = dx * min(1.0, float(np.min(MAX_STEP / np.maximum(np.abs(dx), 1e-300))))
            x[i] = np.clip(x[i] + step[i], *bounds[i])
    return x_ok, worst, resid


def aim(flights: Sequence[Flight], model: PhysicsModel = FULL_PHYSICS) -> list[Controls]:
    """Controls that fly each flight to its target (within metres) or orbit.

    Raises TargetingError naming the first flight that cannot be flown, and why.
    """
    if not flights:
        return []
    goals = [_goal(f, model) for f in flights]
    x = _first_guess(goals, model)
    x, _, _ = _newton(goals, x, model, full=False, max_iter=25)
    x, worst, resid = _newton(goals, x, model, full=True, max_iter=8)
    for g, xi, w, r in zip(goals, x, worst, resid, strict=True):
        if not w <= 1.0:
            raise TargetingError(g.flight.id, _failure(g, xi, r))
    return [g.controls(xi) for g, xi in zip(goals, x, strict=True)]


def _failure(goal: _Goal, x: F64, resid: F64) -> str:
    if not np.all(np.isfinite(resid)):
        found = "no trajectory reaching the ground" if goal.ballistic else "no orbit"
    elif goal.ballistic:
        found = f"the best trajectory found misses by {np.hypot(resid[0], resid[1]) / 1e3:,.1f} km"
    else:
        found = f"the best ascent found ends {resid[0] / 1e3:,.1f} km off the orbit radius"
    if x[2] >= goal.bounds()[1][2] - 1e-6:
        return f"out of reach of class {goal.vehicle.name} even with a full burn ({found})"
    return f"targeting did not converge ({found})"
