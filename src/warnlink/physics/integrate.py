"""Fixed-step RK4 over a batch of rows, each with its own clock and its own step.

All rows advance together in numpy, but every row picks its own step so that it lands
exactly on its segment ends (burnout, separation, cut-off) and its stop time, and takes
small steps only where needed: 0.5 s in boost and in the atmosphere, a fraction of the
orbital time scale in vacuum, shortened so a descending row meets the atmosphere top.
A row ends at the surface (the crossing refined on the cubic Hermite interpolant, then
reached by an exact RK4 step) or at its stop time. Spent stages are rows that start when
their parent reaches the end of a segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from warnlink.geo.frames import GM_EARTH
from warnlink.physics.ascent import SEPARATION_DV, Guidance
from warnlink.physics.dynamics import PhysicsModel, drag_acceleration, height
from warnlink.physics.gravity import gravity

F64 = NDArray[np.float64]
I64 = NDArray[np.intp]
DT_FINE = 0.5  # s, boost and atmosphere
H_FINE = 100e3  # m, below which drag matters for the step size
ORBIT_STEP_FRACTION = 0.01  # vacuum step as a fraction of sqrt(r^3 / GM)
DT_MAX = 30.0
MAX_STEPS = 200_000
ENDED_SURFACE, ENDED_STOP = 1, 2


@dataclass
class Batch:
    """Rows to integrate together. Segment arrays are (R, S), padded with inf ends.

    Rows with live False wait until a parent's segment end names them in `child`.
    """

    t0: F64  # (R,) absolute start time
    y0: F64  # (R, 6) ECI position and velocity
    live: NDArray[np.bool_]
    t_stop: F64  # (R,)
    stop_at_surface: NDArray[np.bool_]
    seg_start: F64
    seg_end: F64
    thrust: F64
    mass0: F64
    mdot: F64
    cda: F64
    child: I64  # row spawned at the end of each segment, -1 for none
    guidance: Guidance


@dataclass
class Result:
    """Samples of all rows, grouped by row, and how each row ended (0: never started)."""

    t: F64
    y: F64
    burning: NDArray[np.bool_]
    start: I64  # (R + 1,) sample offsets of each row
    ended: NDArray[np.int8]

    def row(self, i: int) -> tuple[F64, F64, NDArray[np.bool_]]:
        sl = slice(self.start[i], self.start[i + 1])
        return self.t[sl], self.y[sl], self.burning[sl]


@dataclass
class _Step:
    """Per-step constants of the active rows (a segment never changes within a step)."""

    thrust: F64
    mass0: F64
    mdot: F64
    seg_start: F64
    cda: F64
    guidance: Guidance

    def take(self, sel: NDArray[np.bool_]) -> _Step:
        idx = np.flatnonzero(sel)
        return _Step(
            self.thrust[idx], self.mass0[idx], self.mdot[idx], self.seg_start[idx],
            self.cda[idx], self.guidance.take(idx),
        )  # fmt: skip


def _derivative(t: F64, y: F64, p: _Step, model: PhysicsModel, h: F64 | None = None) -> F64:
    r, v = y[:, :3], y[:, 3:]
    m = p.mass0 - p.mdot * (t - p.seg_start)
    acc = gravity(r, model.j2)
    # Rows without drag area or thrust would add exact zeros: skip the terms when none has.
    if model.drag and p.cda.any():
        acc = acc + drag_acceleration(r, v, height(r, model) if h is None else h, p.cda / m, model)
    if p.thrust.any():
        acc = acc + (p.thrust / m)[:, None] * p.guidance.direction(t)
    return np.concatenate([v, acc], axis=1)


def _rk4(t: F64, y: F64, dt: F64, p: _Step, model: PhysicsModel, h: F64 | None = None) -> F64:
    d = dt[:, None]
    k1 = _derivative(t, y, p, model, h)
    k2 = _derivative(t + 0.5 * dt, y + 0.5 * d * k1, p, model)
    k3 = _derivative(t + 0.5 * dt, y + 0.5 * d * k2, p, model)
    k4 = _derivative(t + dt, y + d * k3, p, model)
    return np.asarray(y + d / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4), float)


def hermite(y0: F64, y1: F64, dt: F64, s: F64) -> F64:
    """Positions (n, 3) at fractions s (n,) of steps dt between states y0 and y1 (n, 6)."""
    s = s[:, None]
    s2, s3 = s * s, s * s * s
    d = dt[:, None]
    return np.asarray(
        (2 * s3 - 3 * s2 + 1) * y0[:, :3] + (s3 - 2 * s2 + s) * d * y0[:, 3:]
        + (3 * s2 - 2 * s3) * y1[:, :3] + (s3 - s2) * d * y1[:, 3:],
        float,
    )  # fmt: skip


def surface_fraction(y0: F64, y1: F64, dt: F64, h0: F64, h1: F64, model: PhysicsModel) -> F64:
    """Fraction of the step where the height crosses zero (Illinois regula falsi)."""
    a, b = np.zeros_like(dt), np.ones_like(dt)
    fa, fb = h0.copy(), h1.copy()
    side = np.zeros(len(dt), int)
    for _ in range(40):
        s = (a * fb - b * fa) / (fb - fa)
        fs = height(hermite(y0, y1, dt, s), model)
        right = fs * fb > 0  # root lies in [a, s]
        b, fb = np.where(right, s, b), np.where(right, fs, fb)
        a, fa = np.where(right, a, s), np.where(right, fa, fs)
        fa = np.where(right & (side == 1), 0.5 * fa, fa)
        fb = np.where(~right & (side == -1), 0.5 * fb, fb)
        side = np.where(right, 1, -1)
        if np.all((b - a) * dt < 1e-7):
            break
    return np.asarray(np.where(np.abs(fa) < np.abs(fb), a, b), float)


def _to_surface(
    t: F64, y0: F64, h0: F64, y1: F64, h1: F64, dt: F64, p: _Step, model: PhysicsModel
) -> tuple[F64, F64, F64]:
    """Time, state and height where rows cross the surface within their step.

    The crossing on the Hermite interpolant is reached by an RK4 step from the step's
    start; in the hardest deceleration the interpolant is metres off, which two Newton
    corrections on the radial speed remove.
    """
    tau = surface_fraction(y0, y1, dt, h0, h1, model) * dt
    for _ in range(2):
        y = _rk4(t, y0, tau, p, model, h0)
        h = height(y[:, :3], model)
        rate = np.einsum("ij,ij->i", y[:, :3], y[:, 3:]) / np.linalg.norm(y[:, :3], axis=1)
        tau = np.clip(tau - h / np.minimum(rate, -1e-3), np.minimum(1e-6, dt), dt)
    y = _rk4(t, y0, tau, p, model, h0)
    return t + tau, y, height(y[:, :3], model)


def _step_size(y: F64, h: F64, coasting: NDArray[np.bool_], dt_fine: float) -> F64:
    r = y[:, :3]
    rn = np.linalg.norm(r, axis=1)
    vr = np.einsum("ij,ij->i", r, y[:, 3:]) / rn
    orbit = np.clip(ORBIT_STEP_FRACTION * np.sqrt(rn**3 / GM_EARTH), dt_fine, DT_MAX)
    with np.errstate(divide="ignore"):
        approach = np.where(vr < 0, (h - H_FINE) / -vr, np.inf)
    vacuum = np.minimum(orbit, np.maximum(approach, dt_fine))
    return np.where(coasting & (h > H_FINE), vacuum, dt_fine)


def run(batch: Batch, model: PhysicsModel, dt_fine: float = DT_FINE) -> Result:
    """Integrate every row of the batch until it meets the surface or its stop time."""
    n_rows = len(batch.t0)
    t, y = batch.t0.astype(float), batch.y0.astype(float)
    seg = np.zeros(n_rows, np.intp)
    live = batch.live.copy()
    ended = np.zeros(n_rows, np.int8)
    h = np.full(n_rows, np.nan)
    h[live] = height(y[live], model)
    rec_row: list[I64] = []
    rec_t: list[F64] = []
    rec_y: list[F64] = []
    rec_burn: list[NDArray[np.bool_]] = []

    def record(idx: I64) -> None:
        rec_row.append(idx)
        rec_t.append(t[idx])
        rec_y.append(y[idx])
        rec_burn.append((batch.thrust[idx, seg[idx]] > 0) & (ended[idx] == 0))

    record(np.flatnonzero(live))
    for _ in range(MAX_STEPS):
        done = live & (t >= batch.t_stop)
        ended[done] = ENDED_STOP
        live &= ~done
        idx = np.flatnonzero(live)
        if len(idx) == 0:
            break
        ti, yi, si, hi = t[idx], y[idx], seg[idx], h[idx]
        seg_end = batch.seg_end[idx, si]
        to_seg, to_stop = seg_end - ti, batch.t_stop[idx] - ti
        dt = np.minimum(
            _step_size(yi, hi, ~np.isfinite(seg_end), dt_fine), np.minimum(to_seg, to_stop)
        )
        p = _Step(
            batch.thrust[idx, si], batch.mass0[idx, si], batch.mdot[idx, si],
            batch.seg_start[idx, si], batch.cda[idx, si], batch.guidance.take(idx),
        )  # fmt: skip
        y_new = _rk4(ti, yi, dt, p, model, hi)
        t_new = ti + dt
        h_new = height(y_new[:, :3], model)
        hit = batch.stop_at_surface[idx] & (hi > 0) & (h_new <= 0) & (p.thrust == 0)
        if hit.any():
            t_new[hit], y_new[hit], h_new[hit] = _to_surface(
                ti[hit], yi[hit], hi[hit], y_new[hit], h_new[hit], dt[hit], p.take(hit), model
            )
        at_seg = (dt == to_seg) & ~hit
        t_new = np.where(at_seg, seg_end, t_new)
        t[idx], y[idx], h[idx] = t_new, y_new, h_new
        seg[idx[at_seg]] += 1
        ended[idx[hit]] = ENDED_SURFACE
        live[idx[hit]] = False
        record(idx)
        parents = idx[at_seg]
        kids = batch.child[parents, seg[parents] - 1]
        spawn = kids >= 0
        if spawn.any():
            parents, kids = parents[spawn], kids[spawn]
            v = y[parents, 3:]
            y[kids] = np.concatenate(
                [y[parents, :3], v - SEPARATION_DV * v / np.linalg.norm(v, axis=1)[:, None]], axis=1
            )
            t[kids], h[kids] = t[parents], h[parents]
            live[kids] = True
            record(kids)
    rows = np.concatenate(rec_row)
    order = np.argsort(rows, kind="stable")
    start = np.searchsorted(rows[order], np.arange(n_rows + 1))
    return Result(
        np.concatenate(rec_t)[order],
        np.concatenate(rec_y)[order],
        np.concatenate(rec_burn)[order],
        start,
        ended,
    )


def peak_height(t: F64, y: F64, model: PhysicsModel) -> tuple[float, float]:
    """Time and height of the highest point of one row's samples.

    The cubic Hermite interpolant is sampled finely on the two steps around the highest
    sample and the best of those is refined with a parabola: far below a metre, while
    the vacuum steps are tens of seconds long.
    """
    h = height(y[:, :3], model)
    i = int(np.clip(np.argmax(h), 1, len(t) - 2))
    s = np.linspace(0.0, 1.0, 33)
    parts = [
        hermite(np.repeat(y[j : j + 1], len(s), 0), np.repeat(y[j + 1 : j + 2], len(s), 0),
                np.full(len(s), t[j + 1] - t[j]), s)
        for j in (i - 1, i)
    ]  # fmt: skip
    tt = np.r_[t[i - 1] + s * (t[i] - t[i - 1]), t[i] + s[1:] * (t[i + 1] - t[i])]
    hh = height(np.concatenate([parts[0], parts[1][1:]]), model)
    k = int(np.clip(np.argmax(hh), 1, len(tt) - 2))
    a, b, c = np.polyfit(tt[k - 1 : k + 2] - tt[k], hh[k - 1 : k + 2], 2)
    if a >= 0.0:
        return float(tt[k]), float(hh[k])
    return float(tt[k] - 0.5 * b / a), float(c - 0.25 * b * b / a)
