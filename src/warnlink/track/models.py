"""Process and measurement models of the tracker, in the ECI state of warnlink.track.state.

Two flight models share one 10-state vector so that an IMM can mix them:
- boost: gravity (J2) + drag + a thrust acceleration that is a random walk (white jerk),
  because thrust grows as propellant burns and turns as the missile pitches over;
- ballistic: gravity (J2) + drag, thrust forced to zero, k = Cd·A/m a slow random walk.
The equations of motion are those of the truth (warnlink.physics), so the only model error
is the unknown thrust profile and ballistic coefficient. Measurement functions rotate the
ECI state into the Earth-fixed frame at the measurement time (warnlink.geo.frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from warnlink.geo.frames import A_WGS84, E2_WGS84, OMEGA_EARTH, rot_z
from warnlink.physics.dynamics import FULL_PHYSICS, drag_acceleration
from warnlink.physics.gravity import gravity
from warnlink.track.state import ACC, N_STATE, POS, VEL, K

F64 = NDArray[np.float64]

BOOST, BALLISTIC = 0, 1
N_MODELS = 2
K_MAX = 0.02  # m^2/kg: sigma points beyond this (or below 0) would be unphysical drag
DRAG_MAX = 300.0  # m/s^2: bounds far-out sigma points (wide initial priors) in dense air
MAX_STEP_S = 2.0  # RK4 step: far below the time scales of gravity and of re-entry drag
SHORT_STEP_S = 0.5
DRAG_TOP_M = 150e3


@dataclass(frozen=True)
class ProcessNoise:
    """Spectral densities of the random walks (white noise intensities).

    thrust_jerk: m^2/s^5, thrust acceleration change, boost model (pitch-over, mass loss);
    ballistic_accel: m^2/s^3, unmodelled acceleration of a coasting object (atmosphere);
    k_walk: (m^2/kg)^2/s, drift of the inverse ballistic coefficient (tumbling, Mach).
    """

    thrust_jerk: float = 4.0
    ballistic_accel: float = 0.002  # measured: 0.05 doubled impact error at +300 s (SRBM salvo)
    boost_accel: float = 1.0
    k_walk: float = 1e-9


def derivative(x: F64, thrust: F64) -> F64:
    """dx/dt of states (m, 10); thrust (m,) is 1 where the thrust term acts, else 0.

    Drag is evaluated only below DRAG_TOP_M (geocentric test, cheap), where it matters:
    above, it is under 1e-3 m/s^2 and far inside the process noise.
    """
    r, v = x[:, POS], x[:, VEL]
    acc = gravity(r) + thrust[:, None] * x[:, ACC]
    low = np.flatnonzero(np.einsum("ij,ij->i", r, r) < (A_WGS84 + DRAG_TOP_M) ** 2)
    if low.size:
        rl, vl = r[low], v[low]
        k = np.clip(x[low, K], 0.0, K_MAX)
        drag = drag_acceleration(rl, vl, _height(rl), k, FULL_PHYSICS)
        size = np.sqrt(np.einsum("ij,ij->i", drag, drag))[:, None]
        acc[low] += drag * np.minimum(1.0, DRAG_MAX / np.maximum(size, 1e-12))
    out = np.empty_like(x)
    out[:, POS] = v
    out[:, VEL] = acc
    out[:, 6:] = 0.0
    return out


def _height(r: F64) -> F64:
    """Height above WGS84 as |r| minus the ellipsoid radius at the geocentric latitude.

    Within a metre of the geodetic height below 150 km (the error is second order in the
    small angle between the geocentric and geodetic verticals), at a tenth of the cost of
    warnlink.geo.frames.ecef_to_geodetic; used only for the air density in drag.
    """
    r2 = np.einsum("ij,ij->i", r, r)
    cos2 = (r[:, 0] ** 2 + r[:, 1] ** 2) / r2
    out: F64 = np.sqrt(r2) - A_WGS84 * np.sqrt((1.0 - E2_WGS84) / (1.0 - E2_WGS84 * cos2))
    return out


def propagate(x: F64, dt: F64, thrust: F64) -> F64:
    """Integrate states (m, 10) over their own dt (m,) in equal sub-steps: RK4 of at most
    MAX_STEP_S, or the midpoint rule for the short gaps between scans (<= SHORT_STEP_S),
    whose error there is far below the process noise."""
    span = float(np.max(np.abs(dt), initial=0.0))
    if span <= SHORT_STEP_S:
        h = dt[:, None]
        return x + h * derivative(x + 0.5 * h * derivative(x, thrust), thrust)
    n_sub = max(1, int(np.ceil(span / MAX_STEP_S)))
    h = (dt / n_sub)[:, None]
    for _ in range(n_sub):
        k1 = derivative(x, thrust)
        k2 = derivative(x + 0.5 * h * k1, thrust)
        k3 = derivative(x + 0.5 * h * k2, thrust)
        k4 = derivative(x + h * k3, thrust)
        x = x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return x


def process_noise(dt: F64, model: int, q: ProcessNoise) -> F64:
    """Discrete process noise (n, 10, 10) over dt (n,) for one model."""
    n = dt.shape[0]
    out = np.zeros((n, N_STATE, N_STATE))
    d1, d2, d3 = dt, dt**2, dt**3
    eye = np.eye(3)
    if model == BOOST:
        qj, d4, d5 = q.thrust_jerk, dt**4, dt**5
        blocks = {
            (0, 0): qj * d5 / 20 + q.boost_accel * d3 / 3,
            (0, 1): qj * d4 / 8 + q.boost_accel * d2 / 2,
            (0, 2): qj * d3 / 6,
            (1, 1): qj * d3 / 3 + q.boost_accel * d1,
            (1, 2): qj * d2 / 2,
            (2, 2): qj * d1,
        }
    else:
        qa = q.ballistic_accel
        blocks = {(0, 0): qa * d3 / 3, (0, 1): qa * d2 / 2, (1, 1): qa * d1}
    for (i, j), val in blocks.items():
        block = val[:, None, None] * eye
        out[:, 3 * i : 3 * i + 3, 3 * j : 3 * j + 3] = block
        out[:, 3 * j : 3 * j + 3, 3 * i : 3 * i + 3] = block
    out[:, K, K] = q.k_walk * d1
    return out


def to_ecef(x: F64, t: float) -> tuple[F64, F64]:
    """Earth-fixed position and Earth-relative velocity of ECI states (m, 10) at time t."""
    rot = rot_z(-OMEGA_EARTH * t)
    r = x[:, POS] @ rot.T
    v = x[:, VEL] @ rot.T
    v = v - OMEGA_EARTH * np.stack([-r[:, 1], r[:, 0], np.zeros(len(r))], axis=-1)
    return r, v


def radar_h(x: F64, t: float, site: F64, basis: F64, range_rate: bool) -> F64:
    """Radar measurement [range, az, el(, range rate)] (m, 3|4) of ECI states at time t.

    basis: rows east, north, up of the site (enu_basis); az in (-pi, pi] (callers wrap).
    """
    r, v = to_ecef(x, t)
    enu = (r - site) @ basis.T
    e, n, u = enu[:, 0], enu[:, 1], enu[:, 2]
    horiz = np.hypot(e, n)
    rng = np.hypot(horiz, u)
    cols = [rng, np.arctan2(e, n), np.arctan2(u, horiz)]
    if range_rate:
        cols.append(np.einsum("ij,ij->i", enu, v @ basis.T) / rng)
    return np.stack(cols, axis=-1)


def infrared_los(x: F64, t: float, sat: F64) -> F64:
    """ECEF unit lines of sight (m, 3) from a satellite at sat to ECI states at time t."""
    r, _ = to_ecef(x, t)
    d = r - sat
    out: F64 = d / np.linalg.norm(d, axis=-1, keepdims=True)
    return out


def tangent_basis(u: F64) -> F64:
    """Two unit vectors (n, 2, 3) perpendicular to unit vectors u (n, 3)."""
    helper = np.where(np.abs(u[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(u, helper)
    e1 /= np.linalg.norm(e1, axis=-1, keepdims=True)
    e2 = np.cross(u, e1)
    return np.stack([e1, e2], axis=1)


def tangent_coords(los: F64, centre: F64, basis: F64) -> F64:
    """Gnomonic coordinates (..., 2) of lines of sight (..., 3) about centre (3,) with basis (2, 3).

    The simulator's noise is exactly N(0, sigma^2) in these coordinates about the true line.
    """
    out: F64 = (los @ basis.T) / (los @ centre)[..., None]
    return out
