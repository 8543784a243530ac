"""Coasting states flown along a time grid to the ground, compiled: alerting's paths and
the tracker's impact predictions.

Public alerting flies every confirmed track's 13 sigma points up to an hour ahead every
couple of seconds (warnlink.alert.areas.predicted_path), and a joined threat's last
estimate on to a new track's time (warnlink.alert.lifecycle); the tracker flies 15 sigma
points of every confirmed track to the ground each second (warnlink.track.predict).
Through the general numpy integrator (warnlink.physics.integrate) that was over half of
an exercise party's CPU: dozens of small-array calls per RK4 stage. Here each row is
RK4-stepped in compiled code with the tracker's flight model (warnlink.track.models.rk4:
gravity with J2, drag on physics.atmosphere's density table, no thrust, and none of the
filter's drag bound), in steps of at most MAX_STEP_S in the air (shorter where drag is
stiff) and VACUUM_STEP_S above it, landing on every grid time.
A row whose height goes below zero within a step has landed: the crossing is found on
the step's cubic Hermite interpolant, and the row stays there. A row that starts below
the surface (an estimate predicted on past its fall) has already come down: it lands
where it is, instead of flying on through the Earth. Heights are the tracker's
geocentric approximation (within a metre of the geodetic height below 150 km);
tests/track/test_coast_path.py holds the paths to physics.propagate.coast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

from warnlink.geo.frames import OMEGA_EARTH
from warnlink.track.models import DRAG_TOP_M, _density, _rates, geocentric_height, rk4

F64 = NDArray[np.float64]

MAX_STEP_S = 2.0  # RK4 step: a ground track sampled every few seconds needs no finer
VACUUM_STEP_S = 10.0  # above the air (or without drag): RK4 within centimetres of 2 s steps
DRAG_STEPS = 0.5  # in dense air, the step is at most this many drag time scales
DRAG_NOTABLE = 0.01  # m/s^2: drag above this also limits the step by the density's change
SCALE_HEIGHT_M = 7e3  # of the density, about, below 70 km
SCALE_STEPS = 0.1  # and then at most this share of the time to climb or fall through it
_BISECTIONS = 50  # of the step's fraction: 10 s / 2^50, far below a millimetre


@dataclass(frozen=True)
class CoastPath:
    """Rows flown along the grid t (g,): ECI positions (n, g, 3), each row's landing time
    (inf if it is still up at the grid's end), held at its landing point after it."""

    t: F64
    r_eci: F64
    t_land: F64

    @property
    def landed(self) -> NDArray[np.bool_]:
        return np.isfinite(self.t_land)


@njit(cache=True)
def _hermite(y0: F64, f0: F64, y1: F64, f1: F64, dt: float, s: float, out: F64) -> None:
    s2, s3 = s * s, s * s * s
    a, b = 2 * s3 - 3 * s2 + 1, (s3 - 2 * s2 + s) * dt
    c, d = 3 * s2 - 2 * s3, (s3 - s2) * dt
    for j in range(3):
        out[j] = a * y0[j] + b * f0[j] + c * y1[j] + d * f1[j]


@njit(cache=True)
def _step_size(y: F64, k: float) -> float:
    """VACUUM_STEP_S without drag, and above the air until about the step that reaches
    DRAG_TOP_M; in the air MAX_STEP_S, or less where drag matters: at most DRAG_STEPS of
    the time in which drag would change the air-relative speed by its own size
    (rho k |v_air| per second), and SCALE_STEPS of the time to cross a density scale
    height."""
    h = geocentric_height(y)
    if k == 0.0:
        return VACUUM_STEP_S
    if h > DRAG_TOP_M:
        r = math.sqrt(y[0] * y[0] + y[1] * y[1] + y[2] * y[2])
        fall = -(y[0] * y[3] + y[1] * y[4] + y[2] * y[5]) / r
        return float(min(VACUUM_STEP_S, max(MAX_STEP_S, (h - DRAG_TOP_M) / max(fall, 1e-12))))
    wx, wy, wz = y[3] + OMEGA_EARTH * y[1], y[4] - OMEGA_EARTH * y[0], y[5]
    speed = math.sqrt(wx * wx + wy * wy + wz * wz)
    rate = _density(h) * k * speed  # and the drag acceleration is rate * speed / 2
    step = min(MAX_STEP_S, DRAG_STEPS / max(rate, 1e-12))
    if rate * speed > 2.0 * DRAG_NOTABLE:
        r = math.sqrt(y[0] * y[0] + y[1] * y[1] + y[2] * y[2])
        climb = abs(y[0] * y[3] + y[1] * y[4] + y[2] * y[5]) / r
        step = min(step, SCALE_STEPS * SCALE_HEIGHT_M / max(climb, 1e-12))
    return step


@njit(cache=True)
def _fly(y0: F64, k: F64, grid: F64, r_out: F64, t_land: F64) -> None:
    """Each row of y0 (n, 6) from grid[0] along the grid; positions into r_out (n, g, 3)."""
    y, y_prev, f_end, p = np.empty(6), np.empty(6), np.empty(6), np.empty(3)
    zero, work = np.zeros(3), np.empty((5, 6))
    k1 = work[0]  # the rates at the start of the step just taken
    n_grid = grid.shape[0]
    for i in range(y0.shape[0]):
        y[:] = y0[i]
        t = grid[0]
        t_land[i] = np.inf
        g_end = n_grid
        if geocentric_height(y) < 0.0:  # down already
            t_land[i] = t
            g_end = 0
        else:
            r_out[i, 0] = y[:3]
        for g in range(1, g_end):
            while grid[g] - t > 1e-9 and not np.isfinite(t_land[i]):
                h = min(grid[g] - t, _step_size(y, k[i]))
                y_prev[:] = y
                rk4(y, zero, k[i], np.inf, h, 1, work)
                if geocentric_height(y) < 0.0:  # landed within this step: bisect on the interpolant
                    _rates(y, zero, k[i], np.inf, f_end)
                    lo, hi = 0.0, 1.0
                    for _ in range(_BISECTIONS):
                        mid = 0.5 * (lo + hi)
                        _hermite(y_prev, k1, y, f_end, h, mid, p)
                        if geocentric_height(p) < 0.0:
                            hi = mid
                        else:
                            lo = mid
                    _hermite(y_prev, k1, y, f_end, h, hi, p)
                    y[:3] = p
                    t_land[i] = t + hi * h
                t += h
            r_out[i, g] = y[:3]
            if np.isfinite(t_land[i]):
                g_end = g + 1
                break
        last = r_out[i, g_end - 1] if g_end > 0 else y0[i, :3]
        for g in range(g_end, n_grid):
            r_out[i, g] = last


def coast_path(
    t0: float, r_eci: ArrayLike, v_eci: ArrayLike, k: ArrayLike, grid: ArrayLike
) -> CoastPath:
    """Fly unpowered ECI states (n, 3) at t0 along the grid (absolute times from t0, g >= 1)
    with drag k = Cd·A/m (n,) or scalar (0 for none)."""
    r, v = np.atleast_2d(np.asarray(r_eci, float)), np.atleast_2d(np.asarray(v_eci, float))
    tg = np.asarray(grid, float)
    if tg.ndim != 1 or len(tg) < 1 or tg[0] != t0 or np.any(np.diff(tg) <= 0):
        raise ValueError("grid must start at t0 and increase")
    y0 = np.ascontiguousarray(np.concatenate([r, v], axis=1))
    kk = np.ascontiguousarray(np.broadcast_to(np.asarray(k, float), (len(y0),)))
    out = np.empty((len(y0), len(tg), 3))
    t_land = np.empty(len(y0))
    _fly(y0, kk, np.ascontiguousarray(tg), out, t_land)
    return CoastPath(tg, out, t_land)
