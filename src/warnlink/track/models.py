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

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from warnlink.geo.frames import A_WGS84, E2_WGS84, OMEGA_EARTH
from warnlink.physics.dynamics import FULL_PHYSICS, drag_acceleration
from warnlink.physics.gravity import gravity
from warnlink.track.state import ACC, LOG_K, N_STATE, POS, VEL

F64 = NDArray[np.float64]

BOOST, BALLISTIC = 0, 1
N_MODELS = 2
K_MAX = 0.02  # m^2/kg: sigma points beyond this would be unphysical drag
DRAG_MAX = 300.0  # m/s^2: bounds far-out sigma points (wide initial priors) in dense air
MAX_STEP_S = 2.0  # RK4 step: far below the time scales of gravity and of re-entry drag
SHORT_STEP_S = 0.5
DRAG_TOP_M = 150e3


@dataclass(frozen=True)
class ProcessNoise:
    """Spectral densities of the random walks (white noise intensities).

    thrust_jerk: m^2/s^5, thrust acceleration change, boost model (pitch-over, mass loss);
    ballistic_accel: m^2/s^3, unmodelled acceleration of a coasting object (atmosphere);
    k_walk: 1/s, relative drift of the inverse ballistic coefficient k in the air
    (tumbling, Mach); ln k walks with this intensity (warnlink.track.imm stops it above).
    """

    thrust_jerk: float = 4.0
    ballistic_accel: float = 1e-4  # the coast is the truth's physics; 10 MC runs: see BENCHMARKS
    boost_accel: float = 1.0
    k_walk: float = 1e-3  # ln k drifts ~0.3 in 100 s


_R_TOP2 = (A_WGS84 + DRAG_TOP_M) ** 2
_LN_K_MAX = float(np.log(K_MAX))
_FLATTENING_C = E2_WGS84 / (1.0 - E2_WGS84)
_ROW_OFFSETS = np.arange(3)[:, None]


def derivative(x: F64, thrust: F64) -> F64:
    """dx/dt of states (m, 10); thrust (m,) is 1 where the thrust term acts, else 0.

    Drag is evaluated only below DRAG_TOP_M (geocentric test, cheap), where it matters:
    above, it is under 1e-3 m/s^2 and far inside the process noise.
    """
    out = np.zeros_like(x)
    out[:, POS] = x[:, VEL]
    out[:, VEL] = _acceleration(x[:, :6].T, (thrust[:, None] * x[:, ACC]).T, _inverse_beta(x)).T
    return out


def _inverse_beta(x: F64) -> F64:
    """k = Cd·A/m (m,) of states (m, 10), capped at K_MAX (the cap applied before exp too,
    so that far-out sigma points well above the air cannot overflow)."""
    out: F64 = np.minimum(np.exp(np.minimum(x[:, LOG_K], _LN_K_MAX)), K_MAX)
    return out


def _acceleration(y: F64, thrust_acc: F64, k: F64) -> F64:
    """Acceleration (3, m) of position and velocity rows y (6, m), with the thrust
    acceleration (3, m) and k (m,) held fixed over a step.

    One row per component keeps every numpy call a contiguous pass over the batch, and
    the fixed terms are prepared once per propagation, not once per stage: the tracker's
    batches are small, so the number of numpy calls is what costs.
    """
    r, m = y[:3], y.shape[1]
    acc = np.add(gravity(r.T).T, thrust_acc, out=np.empty((3, m)))
    r2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2]
    low = (r2 < _R_TOP2).nonzero()[0]
    if low.size:
        part = low.size < m
        yl, r2l, kl = (np.take(y, low, axis=1), r2[low], k[low]) if part else (y, r2, k)
        drag = drag_acceleration(yl[:3].T, yl[3:].T, _height(yl[2], r2l), kl, FULL_PHYSICS).T
        size = np.sqrt(drag[0] * drag[0] + drag[1] * drag[1] + drag[2] * drag[2])
        drag = drag * np.minimum(1.0, DRAG_MAX / np.maximum(size, 1e-12))
        if part:  # flat indices: much cheaper than fancy indexing along the second axis
            flat, idx = acc.reshape(-1), low + _ROW_OFFSETS * m
            flat[idx] += drag
        else:
            acc += drag
    return acc


def _height(z: F64, r2: F64) -> F64:
    """Height above WGS84 as |r| minus the ellipsoid radius at the geocentric latitude,
    from z and r2 = |r|^2 of positions (m,).

    Within a metre of the geodetic height below 150 km (the error is second order in the
    small angle between the geocentric and geodetic verticals), at a tenth of the cost of
    warnlink.geo.frames.ecef_to_geodetic; used only for the air density in drag. The
    radius a sqrt((1 - e2) / (1 - e2 cos^2)) is written as a / sqrt(1 + e2 sin^2 / (1 - e2)).
    """
    out: F64 = np.sqrt(r2) - A_WGS84 / np.sqrt(1.0 + _FLATTENING_C * (z * z / r2))
    return out


def propagate(x: F64, dt: F64, thrust: F64) -> F64:
    """Integrate states (m, 10) over their own dt (m,) in equal sub-steps: RK4 of at most
    MAX_STEP_S, or the midpoint rule for the short gaps between scans (<= SHORT_STEP_S),
    whose error there is far below the process noise.

    Only r and v move (thrust and k are constant within a prediction), so the stages work
    on those six rows, transposed to (6, m), with the same arithmetic as on full states.
    """
    span = float(np.abs(dt).max()) if dt.size else 0.0
    y = x[:, :6].T.copy()
    thrust_acc = (thrust[:, None] * x[:, ACC]).T
    k = _inverse_beta(x)

    def rates(y: F64) -> F64:
        return np.concatenate((y[3:], _acceleration(y, thrust_acc, k)))

    if span <= SHORT_STEP_S:
        y = y + dt * rates(y + 0.5 * dt * rates(y))
    else:
        n_sub = max(1, int(np.ceil(span / MAX_STEP_S)))
        h = dt / n_sub
        half, sixth = 0.5 * h, h / 6.0
        for _ in range(n_sub):
            k1 = rates(y)
            k2 = rates(y + half * k1)
            k3 = rates(y + half * k2)
            k4 = rates(y + h * k3)
            y = y + sixth * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    out = x.copy()
    out[:, :6] = y.T
    return out


def process_noise(dt: F64, model: int, q: ProcessNoise) -> F64:
    """Discrete process noise (n, 10, 10) over dt (n,) for one model.

    Every entry is a polynomial in dt, so the nonzero entries are one small matrix
    product of the powers of dt with fixed coefficients (_noise_coefficients).
    """
    cols, coef = _noise_coefficients(model, q)
    out = np.zeros((dt.shape[0], N_STATE * N_STATE))
    out[:, cols] = (dt[:, None] ** _NOISE_POWERS) @ coef
    return out.reshape(-1, N_STATE, N_STATE)


_NOISE_POWERS = np.arange(6.0)


@lru_cache(maxsize=16)
def _noise_coefficients(model: int, q: ProcessNoise) -> tuple[NDArray[np.intp], F64]:
    """Flat indices of the nonzero entries of process_noise and their coefficients
    (6, k) of dt^0..dt^5: a white jerk (boost) or acceleration (ballistic) integrated
    over the step, per axis, and the random walk of ln k."""
    terms: dict[tuple[int, int], dict[int, float]]
    if model == BOOST:
        qj, qb = q.thrust_jerk, q.boost_accel
        terms = {
            (0, 0): {5: qj / 20, 3: qb / 3},
            (0, 1): {4: qj / 8, 2: qb / 2},
            (0, 2): {3: qj / 6},
            (1, 1): {3: qj / 3, 1: qb},
            (1, 2): {2: qj / 2},
            (2, 2): {1: qj},
        }
    else:
        qa = q.ballistic_accel
        terms = {(0, 0): {3: qa / 3}, (0, 1): {2: qa / 2}, (1, 1): {1: qa}}
    coef = np.zeros((6, N_STATE, N_STATE))
    for (i, j), poly in terms.items():
        for power, c in poly.items():
            for a in range(3):
                coef[power, 3 * i + a, 3 * j + a] = coef[power, 3 * j + a, 3 * i + a] = c
    coef[1, LOG_K, LOG_K] = q.k_walk
    flat = coef.reshape(6, -1)
    cols = np.flatnonzero(np.any(flat != 0.0, axis=0))
    used = flat[:, cols]
    cols.flags.writeable = used.flags.writeable = False  # shared by the cache
    return cols, used


def to_ecef(x: F64, t: float) -> tuple[F64, F64]:
    """Earth-fixed position and Earth-relative velocity of ECI states (m, 10) at time t."""
    rot_t = eci_to_ecef_t(t)
    r = x[:, POS] @ rot_t
    v = x[:, VEL] @ rot_t
    v[:, 0] += OMEGA_EARTH * r[:, 1]  # minus omega x r
    v[:, 1] -= OMEGA_EARTH * r[:, 0]
    return r, v


def eci_to_ecef_t(t: float) -> F64:
    """rot_z(-OMEGA_EARTH t).T, which right-multiplies ECI rows into ECEF, built from two
    scalar cosines: rot_z's general (..., 3, 3) stacking costs more than the products
    on a scan's few hundred rows."""
    a = -OMEGA_EARTH * float(t)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def radar_h(x: F64, t: float, site: F64, basis: F64, range_rate: bool) -> F64:
    """Radar measurement [range, az, el(, range rate)] (m, 3|4) of ECI states at time t.

    basis: rows east, north, up of the site (enu_basis); az in (-pi, pi] (callers wrap).
    """
    r, v = to_ecef(x, t)
    enu = (r - site) @ basis.T
    e, n, u = enu[:, 0], enu[:, 1], enu[:, 2]
    out = np.empty((enu.shape[0], 4 if range_rate else 3))
    horiz = np.hypot(e, n)
    rng = np.hypot(horiz, u, out=out[:, 0])
    np.arctan2(e, n, out=out[:, 1])
    np.arctan2(u, horiz, out=out[:, 2])
    if range_rate:
        w = v @ basis.T
        np.divide(e * w[:, 0] + n * w[:, 1] + u * w[:, 2], rng, out=out[:, 3])
    return out


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
