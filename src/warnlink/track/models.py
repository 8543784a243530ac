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
from numba import njit
from numpy.typing import NDArray

from warnlink.geo.frames import A_WGS84, E2_WGS84, GM_EARTH, J2_EARTH, OMEGA_EARTH
from warnlink.physics.atmosphere import density_segments
from warnlink.track.state import LOG_K, N_STATE, POS, VEL

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
_J2_FACTOR = 1.5 * J2_EARTH * A_WGS84 * A_WGS84
_DENSITY_BREAKS, _DENSITY_SEGMENTS = density_segments()

# The flight model is compiled (numba): a scan's few hundred sigma points need ~4 stages
# a step, and in numpy each stage is dozens of calls on small arrays, which is what cost.
# The formulas are those of warnlink.physics (gravity, drag_acceleration, density) for one
# row; tests/track/test_kernels_speed_equivalence.py holds them to those to round-off.


@njit(cache=True)
def _density(z: float) -> float:
    """warnlink.physics.atmosphere.density of one height, on the same segment table."""
    z = min(max(z, -5000.0), 1e300)
    i = np.searchsorted(_DENSITY_BREAKS, z, side="right")
    seg = _DENSITY_SEGMENTS[i]  # a, b, c, e, base, g
    s = z / (1.0 + seg[5] * z) - seg[4]
    return math.exp(seg[0] + seg[1] * math.log1p(seg[2] * s) + seg[3] * s)


@njit(cache=True, inline="always")
def geocentric_height(r: F64) -> float:
    """|r| minus the ellipsoid radius at the geocentric latitude of r (first three of the
    row): within a metre of the geodetic height below 150 km, at a fraction of its cost;
    the radius a sqrt((1 - e2) / (1 - e2 cos^2)) written as a / sqrt(1 + e2 sin^2 / (1 - e2))."""
    z2 = r[2] * r[2]
    r2 = r[0] * r[0] + r[1] * r[1] + z2
    return float(math.sqrt(r2) - A_WGS84 / math.sqrt(1.0 + _FLATTENING_C * (z2 / r2)))


@njit(cache=True)
def _rates(y: F64, thrust_acc: F64, k: float, drag_max: float, out: F64) -> None:
    """d/dt of one row y = [r, v] (6,) into out (6,): gravity (J2) + thrust_acc (3,) +
    drag with k = Cd·A/m below DRAG_TOP_M (geocentric test, cheap; above, drag is under
    1e-3 m/s^2 and far inside the process noise), bounded by drag_max (the filter's
    DRAG_MAX)."""
    rx, ry, rz, vx, vy, vz = y[0], y[1], y[2], y[3], y[4], y[5]
    z2 = rz * rz
    r2 = rx * rx + ry * ry + z2
    a = -GM_EARTH / (r2 * math.sqrt(r2))
    j = _J2_FACTOR / r2
    zz5 = 5.0 * (z2 / r2)
    f_xy = a * (1.0 + j * (1.0 - zz5))
    ax = rx * f_xy + thrust_acc[0]
    ay = ry * f_xy + thrust_acc[1]
    az = rz * (a * (1.0 + j * (3.0 - zz5))) + thrust_acc[2]
    if r2 < _R_TOP2:
        h = geocentric_height(y)
        wx, wy, wz = vx + OMEGA_EARTH * ry, vy - OMEGA_EARTH * rx, vz  # air-relative
        f = -0.5 * _density(h) * k * math.sqrt(wx * wx + wy * wy + wz * wz)
        dx, dy, dz = f * wx, f * wy, f * wz
        scale = min(1.0, drag_max / max(math.sqrt(dx * dx + dy * dy + dz * dz), 1e-12))
        ax += dx * scale
        ay += dy * scale
        az += dz * scale
    out[0], out[1], out[2], out[3], out[4], out[5] = vx, vy, vz, ax, ay, az


@njit(cache=True)
def step(x: F64, thrust: float, dt: float, n_sub: int, work: F64) -> None:
    """Move one state x (10,) over dt in place (r and v; thrust and k are constant within
    a prediction): n_sub RK4 steps, or one midpoint step if n_sub is 0. thrust is 1 where
    the thrust term acts; work (5, 6) is scratch space."""
    k = min(math.exp(min(x[LOG_K], _LN_K_MAX)), K_MAX)  # capped before exp: no overflow
    rk4(x[:6], thrust * x[6:9], k, DRAG_MAX, dt, n_sub, work)  # ACC


@njit(cache=True, inline="always")
def rk4(y: F64, acc: F64, k: float, drag_max: float, dt: float, n_sub: int, work: F64) -> None:
    """Move y = [r, v] (6,) over dt in place under _rates: n_sub RK4 steps, or one midpoint
    step if n_sub is 0. work (5, 6) is scratch; work[0] keeps the rates at the start of
    the last step (a Hermite interpolant over it needs them)."""
    k1, k2, k3, k4, yt = work[0], work[1], work[2], work[3], work[4]
    if n_sub == 0:
        _rates(y, acc, k, drag_max, k1)
        for c in range(6):
            yt[c] = y[c] + 0.5 * dt * k1[c]
        _rates(yt, acc, k, drag_max, k2)
        for c in range(6):
            y[c] += dt * k2[c]
        return
    h = dt / n_sub
    half, sixth = 0.5 * h, h / 6.0
    for _ in range(n_sub):
        _rates(y, acc, k, drag_max, k1)
        for c in range(6):
            yt[c] = y[c] + half * k1[c]
        _rates(yt, acc, k, drag_max, k2)
        for c in range(6):
            yt[c] = y[c] + half * k2[c]
        _rates(yt, acc, k, drag_max, k3)
        for c in range(6):
            yt[c] = y[c] + h * k3[c]
        _rates(yt, acc, k, drag_max, k4)
        for c in range(6):
            y[c] += sixth * (k1[c] + 2.0 * k2[c] + 2.0 * k3[c] + k4[c])


def substeps(dt: F64) -> int:
    """RK4 steps of at most MAX_STEP_S over the longest of dt, or 0: the midpoint rule,
    for the short gaps between scans (<= SHORT_STEP_S), whose error there is far below
    the process noise."""
    span = float(np.abs(dt).max()) if dt.size else 0.0
    return 0 if span <= SHORT_STEP_S else max(1, math.ceil(span / MAX_STEP_S))


@njit(cache=True)
def _integrate(x: F64, dt: F64, thrust: F64, n_sub: int) -> F64:
    out = x.copy()
    work = np.empty((5, 6))
    for i in range(x.shape[0]):
        step(out[i], thrust[i], dt[i], n_sub, work)
    return out


def propagate(x: F64, dt: F64, thrust: F64) -> F64:
    """Integrate states (m, 10) over their own dt (m,) in substeps(dt) equal steps."""
    out: F64 = _integrate(np.ascontiguousarray(x, np.float64), dt, thrust, substeps(dt))
    return out


def process_noise(dt: F64, thrust: F64, q: ProcessNoise) -> F64:
    """Discrete process noise (n, 10, 10) over dt (n,) of each filter's model: boost
    where thrust (n,) is 1 (as in ukf.predict), else ballistic.

    Every entry is a polynomial in dt: the nonzero entries of each model are a few fixed
    coefficients (_noise_coefficients) times the powers of dt, summed in one compiled pass.
    """
    cols_b, coef_b = _noise_coefficients(BOOST, q)
    cols_c, coef_c = _noise_coefficients(BALLISTIC, q)
    out: F64 = _process_noise(dt, thrust, cols_b, coef_b, cols_c, coef_c)
    return out


@njit(cache=True)
def _process_noise(
    dt: F64, thrust: F64, cols_b: NDArray[np.intp], coef_b: F64, cols_c: NDArray[np.intp],
    coef_c: F64,
) -> F64:  # fmt: skip
    n = dt.shape[0]
    out = np.zeros((n, N_STATE * N_STATE))
    for i in range(n):
        cols, coef = (cols_b, coef_b) if thrust[i] == 1.0 else (cols_c, coef_c)
        for c in range(cols.shape[0]):
            total = 0.0
            for p in range(coef.shape[0]):
                total += dt[i] ** p * coef[p, c]
            out[i, cols[c]] = total
    return out.reshape(n, N_STATE, N_STATE)


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


def earth_rotation(t: float) -> tuple[float, float]:
    """cos and sin of the ECI-to-ECEF rotation angle -OMEGA_EARTH t at time t: the
    compiled measurement functions (radar_row, infrared_row) take these two numbers."""
    a = -OMEGA_EARTH * float(t)
    return math.cos(a), math.sin(a)


def eci_to_ecef_t(t: float) -> F64:
    """rot_z(-OMEGA_EARTH t).T, which right-multiplies ECI rows into ECEF, built from two
    scalar cosines: rot_z's general (..., 3, 3) stacking costs more than the products
    on a scan's few hundred rows."""
    c, s = earth_rotation(t)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def radar_h(x: F64, t: float, site: F64, basis: F64, range_rate: bool) -> F64:
    """Radar measurement [range, az, el(, range rate)] (m, 3|4) of ECI states at time t.

    basis: rows east, north, up of the site (enu_basis); az in (-pi, pi] (callers wrap).
    """
    out: F64 = _radar_h(x, *earth_rotation(t), site, basis, 4 if range_rate else 3)
    return out


@njit(cache=True)
def _radar_h(x: F64, c: float, s: float, site: F64, basis: F64, m: int) -> F64:
    """radar_h row by row (compiled), with cos and sin of the ECI-to-ECEF rotation angle;
    m = 4 adds the range rate."""
    out = np.empty((x.shape[0], m))
    for i in range(x.shape[0]):
        radar_row(x[i], c, s, site, basis, out[i])
    return out


@njit(cache=True)
def radar_row(x: F64, c: float, s: float, site: F64, basis: F64, out: F64) -> None:
    """One state's [range, az, el(, range rate)] into out (3|4,) (compiled: the tracker's
    measurement kernel calls it on every sigma point of a scan)."""
    r0, r1, r2 = c * x[0] - s * x[1], s * x[0] + c * x[1], x[2]
    v0, v1, v2 = c * x[3] - s * x[4], s * x[3] + c * x[4], x[5]
    v0 += OMEGA_EARTH * r1  # Earth-relative: minus omega x r
    v1 -= OMEGA_EARTH * r0
    d0, d1, d2 = r0 - site[0], r1 - site[1], r2 - site[2]
    e = d0 * basis[0, 0] + d1 * basis[0, 1] + d2 * basis[0, 2]
    n = d0 * basis[1, 0] + d1 * basis[1, 1] + d2 * basis[1, 2]
    u = d0 * basis[2, 0] + d1 * basis[2, 1] + d2 * basis[2, 2]
    horiz = math.hypot(e, n)
    rng = math.hypot(horiz, u)
    out[0], out[1], out[2] = rng, math.atan2(e, n), math.atan2(u, horiz)
    if out.shape[0] == 4:
        rate = e * (v0 * basis[0, 0] + v1 * basis[0, 1] + v2 * basis[0, 2])
        rate += n * (v0 * basis[1, 0] + v1 * basis[1, 1] + v2 * basis[1, 2])
        rate += u * (v0 * basis[2, 0] + v1 * basis[2, 1] + v2 * basis[2, 2])
        out[3] = rate / rng


@njit(cache=True)
def infrared_row(x: F64, c: float, s: float, sat: F64, centre: F64, basis: F64, out: F64) -> None:
    """tangent_coords (2,) of the line of sight from sat to one ECI state x about centre
    (3,) with basis (2, 3), into out; the rotation as in radar_row. The line need not be
    normalised: its length cancels in the ratio."""
    d0 = c * x[0] - s * x[1] - sat[0]
    d1 = s * x[0] + c * x[1] - sat[1]
    d2 = x[2] - sat[2]
    along = d0 * centre[0] + d1 * centre[1] + d2 * centre[2]
    for j in range(2):
        out[j] = (d0 * basis[j, 0] + d1 * basis[j, 1] + d2 * basis[j, 2]) / along


@njit(cache=True)
def wrap_angle(a: float) -> float:
    """An angle to (-pi, pi] (numpy's mod semantics: the sign of the divisor)."""
    return (a + math.pi) % (2.0 * math.pi) - math.pi


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
