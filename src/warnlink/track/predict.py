"""Impact and orbit prediction from track states, by sigma points through the coast model.

The prediction is of the object *if it stopped burning now*: thrust in the state is
ignored, so during boost the predicted impact would be a moving guess, and it is withheld
(None) while the boost probability is high. The 7-dim distribution of [r, v, ln k] is
represented by 2·7 + 1 unscented sigma points per state; the points of all states are
propagated to the surface together, because numpy's cost is per step, almost independent
of the number of rows. With drag (the full physics default) points above the air jump to
its top in closed form (Kepler, plus J2's offset from a short paired integration) and
cross it in a lean fixed-step RK4 (a few ms for tens of states, within a metre of the
general integrator); points already in the air, and models without drag, go through
warnlink.physics.propagate.coast.
Points whose osculating perigee stays above the air, or that do not come down within a
horizon, are counted as orbiting; their share is the Orbit probability.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from warnlink.formats.records import GroundPoint, Orbit
from warnlink.geo.frames import (
    A_WGS84,
    B_WGS84,
    E2_WGS84,
    GM_EARTH,
    R_MEAN,
    rot_z,
)
from warnlink.physics.atmosphere import density
from warnlink.physics.dynamics import FULL_PHYSICS, PhysicsModel, air_velocity, height
from warnlink.physics.gravity import gravity
from warnlink.physics.integrate import surface_fraction
from warnlink.physics.kepler import descending_crossing, j2_offset
from warnlink.physics.propagate import coast
from warnlink.track.ellipse import weighted_ground_point
from warnlink.track.state import LOG_K, POS, VEL

F64 = NDArray[np.float64]

N_SIGMA_DIM = 7  # [r, v, k]: thrust is ignored
SIGMA_LAMBDA = 1.0  # unscented spread sqrt(n + lambda) sigma, centre weight lambda/(n+lambda)
BOOST_THRESHOLD = 0.5  # above this boost probability the impact is not yet known
ORBIT_PERIGEE_M = 120e3  # osculating perigee height above which a point stays up
HORIZON_S = 3.0 * 3600.0  # points still flying after this are counted as up
ORBIT_REPORT_SHARE = 0.01  # report an Orbit once this share of the distribution stays up
AIR_TOP_M = 130e3  # above R_MEAN: drag is far below a metre's effect from here up
DT_AIR = 2.0  # s, integration step in the air
DT_THIN = 6.0  # s, integration step above H_THIN
H_THIN = 70e3  # m, below which the air needs DT_AIR
G_TERMINAL = 9.8  # m/s^2, drag about this is terminal
DT_TERMINAL_TAU = 0.8  # step in drag time constants at terminal speed (RK4 stable to 2.78)
DT_TERMINAL_RHO = 0.5  # and in density e-folding times along the descent
H_RHO = 7e3  # m, density scale height (about; 6 to 8 km below 70 km)
DT_TERMINAL_MAX = 12.0  # s, longest step at terminal speed
H_ESCAPE = AIR_TOP_M + 20e3  # m, rows skipping back up to here leave the air phase
ESCAPE_MARGIN_M = 1e3  # climbing rows this far above the air top's radius leave too
MAX_AIR_PASSES = 4  # air phases (Kepler jump, air) per row before the general integrator


# ln density on a 50 m grid up to the top of the air phase: linear interpolation of
# ln rho is within 1e-5 of the model, and one np.interp is several times cheaper.
_LN_RHO_Z = np.arange(-5000.0, AIR_TOP_M + 100e3, 50.0)
_LN_RHO = np.log(density(_LN_RHO_Z))


def _fast_height(rn: F64, p2: F64, z2: F64, model: PhysicsModel) -> F64:
    """Height of points at radius rn, squared equatorial and polar coordinates p2 and z2.

    On the ellipsoid: the radius less the ellipsoid's radius at the same geocentric
    latitude, times 1 - (angle between radius and normal)^2 / 2: within 4 cm of the
    geodetic height up to 230 km, without its trigonometry, and of the same sign.
    """
    if model.earth == "sphere":
        return np.asarray(rn - R_MEAN, float)
    r2 = rn * rn
    return np.asarray(
        (rn - B_WGS84 / np.sqrt(1.0 - E2_WGS84 * p2 / r2))
        * (1.0 - 0.5 * E2_WGS84 * E2_WGS84 * z2 * p2 / (r2 * r2)),
        float,
    )


def _height(r: F64, model: PhysicsModel) -> F64:
    p2 = r[:, 0] * r[:, 0] + r[:, 1] * r[:, 1]
    z2 = r[:, 2] * r[:, 2]
    return _fast_height(np.sqrt(p2 + z2), p2, z2, model)


def _air_derivative(y: F64, inv_beta: F64, model: PhysicsModel) -> F64:
    """Gravity (J2 if modelled) and drag of state rows (N, 6) in ECI.

    Drag uses _fast_height and the tabulated ln density instead of the exact geodetic
    height and the layered model: the two costs that dominate a step.
    """
    r, v = y[:, :3], y[:, 3:]
    va = air_velocity(r, v, model)
    rho = np.exp(np.interp(_height(r, model), _LN_RHO_Z, _LN_RHO))
    c = -0.5 * rho * inv_beta * np.linalg.norm(va, axis=1)
    return np.concatenate([v, gravity(r, model.j2) + c[:, None] * va], axis=1)


def _dense_step(y: F64, h: F64, inv_beta: F64, model: PhysicsModel) -> F64:
    """Step (s) of rows in dense air: DT_AIR, but longer for rows at terminal speed.

    A row whose drag about balances gravity (between G_TERMINAL / 2 and 2 G_TERMINAL)
    sinks along a slowly changing equilibrium; the RK4 step is then bounded by
    DT_TERMINAL_TAU of its drag time constant v / a_drag and DT_TERMINAL_RHO of the time
    the density takes to change by e (H_RHO over the vertical speed), not by DT_AIR.
    """
    w = model.omega
    va0, va1, va2 = y[:, 3] + w * y[:, 1], y[:, 4] - w * y[:, 0], y[:, 5]
    va = np.sqrt(va0 * va0 + va1 * va1 + va2 * va2)
    drag = 0.5 * np.exp(np.interp(h, _LN_RHO_Z, _LN_RHO)) * inv_beta * va * va
    terminal = (drag > 0.5 * G_TERMINAL) & (drag < 2.0 * G_TERMINAL)
    vz = np.abs(np.einsum("ij,ij->i", y[:, :3], y[:, 3:])) / np.linalg.norm(y[:, :3], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.minimum(DT_TERMINAL_TAU * va / drag, DT_TERMINAL_RHO * H_RHO / vz)
    return np.where(terminal, np.clip(bound, DT_AIR, DT_TERMINAL_MAX), DT_AIR)


def _air_rk4(y: F64, dt: F64, inv_beta: F64, model: PhysicsModel) -> F64:
    """One RK4 step of unpowered rows (gravity and drag) with per-row steps dt."""
    d = dt[:, None]
    k1 = _air_derivative(y, inv_beta, model)
    k2 = _air_derivative(y + 0.5 * d * k1, inv_beta, model)
    k3 = _air_derivative(y + 0.5 * d * k2, inv_beta, model)
    k4 = _air_derivative(y + d * k3, inv_beta, model)
    return np.asarray(y + d / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4), float)


def _through_air(
    t: F64, y: F64, inv_beta: F64, t_end: F64, model: PhysicsModel
) -> tuple[F64, F64, NDArray[np.intp], F64, F64]:
    """Impact times and ECI positions (NaN: none) of rows entering the air from its top.

    Fixed-step RK4 without the general integrator's bookkeeping: DT_THIN where the air is
    thin, DT_AIR below H_THIN, and _fast_height but for the crossing. A row stops at the
    first step that ends below the surface; the crossings of all rows are refined together
    at the end (the root on the cubic Hermite interpolant of the geodetic height, reached
    by an RK4 step and two Newton corrections). Rows that
    leave the air (above H_ESCAPE, or climbing past the air top's radius: drag is
    negligible from there, so a Kepler jump brings them back) are returned, indices,
    times and states, for the caller; rows still flying at t_end have no impact.
    """
    n = len(t)
    t_hit, r_hit = np.full(n, np.nan), np.full((n, 3), np.nan)
    h = _height(y[:, :3], model)
    rows = np.flatnonzero(h > 0.0)
    t, y, h = t[rows], y[rows], h[rows]
    hit_rows: list[NDArray[np.intp]] = []
    hit_data: list[tuple[F64, F64, F64, F64, F64, F64]] = []
    esc_rows: list[NDArray[np.intp]] = [np.zeros(0, np.intp)]
    esc_t: list[F64] = [np.zeros(0)]
    esc_y: list[F64] = [np.zeros((0, 6))]
    while len(rows):
        ib = inv_beta[rows]
        dt = np.minimum(
            np.where(h > H_THIN, DT_THIN, _dense_step(y, h, ib, model)), t_end[rows] - t
        )
        y1 = _air_rk4(y, dt, ib, model)
        h1 = _height(y1[:, :3], model)
        hit = h1 <= 0.0
        if hit.any():
            hit_rows.append(rows[hit])
            hit_data.append((t[hit], y[hit], h[hit], y1[hit], h1[hit], dt[hit]))
        t = t + dt
        r1n = np.linalg.norm(y1[:, :3], axis=1)
        climbing = np.einsum("ij,ij->i", y1[:, :3], y1[:, 3:]) > 0.0
        out = (h1 > H_ESCAPE) | (climbing & (r1n > R_MEAN + AIR_TOP_M + ESCAPE_MARGIN_M))
        if out.any():
            esc_rows.append(rows[out])
            esc_t.append(t[out])
            esc_y.append(y1[out])
        keep = ~hit & ~out & (t < t_end[rows])
        rows, t, y, h = rows[keep], t[keep], y1[keep], h1[keep]
    if hit_rows:
        idx = np.concatenate(hit_rows)
        t0, y0, h0, y1, h1, dt = (np.concatenate(c) for c in zip(*hit_data, strict=True))
        ib = inv_beta[idx]
        h0, h1 = height(y0[:, :3], model), height(y1[:, :3], model)  # same signs, exact
        tau = surface_fraction(y0, y1, dt, h0, h1, model) * dt
        for _ in range(2):
            y = _air_rk4(y0, tau, ib, model)
            hh = height(y[:, :3], model)
            rate = np.einsum("ij,ij->i", y[:, :3], y[:, 3:]) / np.linalg.norm(y[:, :3], axis=1)
            tau = np.clip(tau - hh / np.minimum(rate, -1e-3), np.minimum(1e-6, dt), dt)
        t_hit[idx] = t0 + tau
        r_hit[idx] = _air_rk4(y0, tau, ib, model)[:, :3]
    return t_hit, r_hit, np.concatenate(esc_rows), np.concatenate(esc_t), np.concatenate(esc_y)


def _air_entry(
    t: F64, y: F64, model: PhysicsModel, in_air_ok: bool
) -> tuple[F64, F64, NDArray[np.intp], tuple[NDArray[np.intp], F64, F64]]:
    """Rows (N, 6) at times t moved to where _through_air takes them.

    Rows above AIR_TOP_M jump to their descent through it (Kepler plus J2's offset);
    rows already below it stay (if in_air_ok). Returns their times, states and indices,
    and the indices, times and states of the rest (not coming down through AIR_TOP_M).
    """
    r, v = y[:, :3], y[:, 3:]
    tof, r_top, v_top = descending_crossing(r, v, R_MEAN + AIR_TOP_M)
    tof[np.linalg.norm(r, axis=1) <= R_MEAN + AIR_TOP_M] = np.nan  # in the air already
    above = np.isfinite(tof)
    in_air = np.linalg.norm(r, axis=1) < R_MEAN + AIR_TOP_M if in_air_ok else np.zeros(len(t), bool)
    ok = above | in_air
    t_start, y_start = t.copy(), y.copy()
    y_start[above] = np.concatenate([r_top[above], v_top[above]], axis=1)
    if model.j2 and above.any():
        dr, dv = j2_offset(r[above], v[above], tof[above])
        y_start[above] += np.concatenate([dr, dv], axis=1)
    t_start[above] += tof[above]
    go = np.flatnonzero(ok)
    rest = np.flatnonzero(~ok)
    return t_start[go], y_start[go], go, (rest, t[rest], y[rest])


def _to_surface(
    t0: F64, r: F64, v: F64, beta: F64, model: PhysicsModel
) -> tuple[F64, F64, NDArray[np.bool_]]:
    """Impact time, ECI position and whether each row landed.

    Above the air a general integrator would spend most of its steps on a vacuum coast,
    so rows above AIR_TOP_M jump there in closed form (two-body motion to their descent
    through AIR_TOP_M, plus J2's offset over that time from a short paired integration);
    they and the rows already in the air go through it in _through_air. Rows skipping
    back out of the air (climbing, or grazing) jump again, up to MAX_AIR_PASSES air
    phases. The rest (not coming down through AIR_TOP_M, still skipping, or not
    modelled with drag) coast with the general integrator, in DT_AIR steps in the air.
    """
    n = len(t0)
    t_imp, r_imp = np.full(n, np.nan), np.full((n, 3), np.nan)
    landed = np.zeros(n, bool)
    t_end = t0 + HORIZON_S
    rest, t_rest, y_rest = np.arange(n), t0, np.concatenate([r, v], axis=1)
    if model.drag:
        idx, t_in, y_in = np.arange(n), t0, np.concatenate([r, v], axis=1)
        rest_rows: list[NDArray[np.intp]] = []
        rest_t: list[F64] = []
        rest_y: list[F64] = []
        for npass in range(MAX_AIR_PASSES):
            t_air, y_air, go, (skip, t_skip, y_skip) = _air_entry(t_in, y_in, model, npass == 0)
            rest_rows.append(idx[skip])
            rest_t.append(t_skip)
            rest_y.append(y_skip)
            rows = idx[go]
            if len(rows) == 0:
                break
            t_hit, r_hit, esc, t_in, y_in = _through_air(
                t_air, y_air, 1.0 / beta[rows], t_end[rows], model
            )
            t_imp[rows], r_imp[rows] = t_hit, r_hit
            landed[rows] = np.isfinite(t_hit)
            idx = rows[esc]  # skipped back out of the air: jump again
        else:
            rest_rows.append(idx)
            rest_t.append(t_in)
            rest_y.append(y_in)
        rest = np.concatenate(rest_rows)
        t_rest = np.concatenate(rest_t)
        y_rest = np.concatenate(rest_y)
    if len(rest):
        arcs = coast(
            t_rest, y_rest[:, :3], y_rest[:, 3:], t_stop=t_end[rest], model=model,
            beta=beta[rest], dt_fine=DT_AIR,
        )  # fmt: skip
        t_imp[rest] = [a.t[-1] for a in arcs]
        r_imp[rest] = [a.r[-1] for a in arcs]
        landed[rest] = [a.at_surface for a in arcs]
    return t_imp, r_imp, landed


def sigma_weights(n: int = N_SIGMA_DIM, lam: float = SIGMA_LAMBDA) -> F64:
    """Weights of the 2n+1 symmetric sigma points (centre first); all positive for lam > 0."""
    w = np.full(2 * n + 1, 0.5 / (n + lam))
    w[0] = lam / (n + lam)
    return w


def sigma_points(mean: F64, cov: F64, lam: float = SIGMA_LAMBDA) -> F64:
    """Sigma points (N, 2n+1, n) of N Gaussians; the square root is the symmetric one.

    The eigen-decomposition square root tolerates the singular covariances trackers make
    (an unobserved k, a state pinned by a prior) where Cholesky fails.
    """
    n = mean.shape[-1]
    cov = 0.5 * (cov + np.swapaxes(cov, -1, -2))
    vals, vecs = np.linalg.eigh(cov)
    root = np.einsum("...ij,...j,...kj->...ik", vecs, np.sqrt(np.maximum(vals, 0.0)), vecs)
    d = np.sqrt(n + lam) * np.swapaxes(root, -1, -2)  # rows are the columns of the root
    return np.concatenate([mean[:, None, :], mean[:, None, :] + d, mean[:, None, :] - d], axis=1)


def kepler_apsides(r: F64, v: F64) -> tuple[F64, F64]:
    """Osculating perigee and apogee radii (m) of ECI states (..., 3); apogee inf if unbound."""
    rn = np.linalg.norm(r, axis=-1)
    vn2 = np.einsum("...i,...i->...", v, v)
    energy = 0.5 * vn2 - GM_EARTH / rn
    h2 = np.einsum("...i,...i->...", c := np.cross(r, v), c)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = -GM_EARTH / (2.0 * energy)
        e = np.sqrt(np.maximum(1.0 + 2.0 * energy * h2 / GM_EARTH**2, 0.0))
        perigee = h2 / GM_EARTH / (1.0 + e)
        apogee = np.where(energy < 0.0, a * (1.0 + e), np.inf)
    return np.asarray(perigee, float), np.asarray(apogee, float)


def _reference_radius(model: PhysicsModel) -> float:
    return R_MEAN if model.earth == "sphere" else A_WGS84


def predict_impacts(
    t: ArrayLike,
    x: ArrayLike,
    P: ArrayLike,
    confidence: float = 0.95,
    model: PhysicsModel = FULL_PHYSICS,
    boost_probability: ArrayLike | None = None,
) -> list[tuple[GroundPoint | None, Orbit | None]]:
    """Predicted impact (GroundPoint) and orbit (Orbit) of n track states, thrust ignored.

    t (n,), x (n, 10), P (n, 10, 10) in the convention of warnlink.track.state. States
    with boost_probability above BOOST_THRESHOLD get (None, None): while the motor burns,
    where it will come down is not yet known. Otherwise the impact point and time are those
    of the centre sigma point (the mean state's own prediction), with the sigma points'
    east-north second moment about it and the confidence ellipse of that. The impact is
    strongly convex in ln k, and with ln k as uncertain as a class prior leaves it the
    sigma points' mean was pulled hundreds of metres towards the far low-beta point (IRBM
    Monte Carlo: errors 2-3x the bound); the centre is the median ln k's impact, and the
    second moment keeps that offset inside the ellipse. If a share of the points
    stays up, an Orbit with the mean state's apsides is given, and the impact is None
    when most stay up (else it is conditional on coming down).
    """
    t = np.atleast_1d(np.asarray(t, float))
    x = np.asarray(x, float).reshape(len(t), -1)
    P = np.asarray(P, float).reshape(len(t), x.shape[1], x.shape[1])
    n = len(t)
    pb = np.zeros(n) if boost_probability is None else np.broadcast_to(boost_probability, (n,))
    out: list[tuple[GroundPoint | None, Orbit | None]] = [(None, None)] * n
    idx = np.flatnonzero(np.asarray(pb, float) <= BOOST_THRESHOLD)
    if len(idx) == 0:
        return out
    sel = np.r_[np.arange(POS.start, VEL.stop), LOG_K]
    pts = sigma_points(x[idx][:, sel], P[idx][:, sel[:, None], sel[None, :]])
    m = pts.shape[1]
    w = sigma_weights(N_SIGMA_DIM)
    flat = pts.reshape(-1, N_SIGMA_DIM)
    t_rows = np.repeat(t[idx], m)
    r_ref = _reference_radius(model)
    perigee, _ = kepler_apsides(flat[:, :3], flat[:, 3:6])
    up = perigee - r_ref > ORBIT_PERIGEE_M
    fall = np.flatnonzero(~up)
    t_imp = np.full(len(flat), np.nan)
    r_imp = np.full((len(flat), 3), np.nan)
    if len(fall):
        beta = np.exp(-flat[fall, 6])
        ends_t, ends_r, landed = _to_surface(
            t_rows[fall], flat[fall, :3], flat[fall, 3:6], beta, model
        )
        up[fall[~landed]] = True
        t_imp[fall] = ends_t
        r_imp[fall] = np.einsum("nij,nj->ni", rot_z(-model.omega * ends_t), ends_r)
    up2 = up.reshape(len(idx), m)
    mean_peri, mean_apo = kepler_apsides(x[idx, POS], x[idx, VEL])
    for j, i in enumerate(idx):
        share = float(w @ up2[j])
        orbit = None
        if share >= ORBIT_REPORT_SHARE:
            orbit = Orbit(
                perigee_alt_m=float(mean_peri[j] - r_ref),
                apogee_alt_m=float(mean_apo[j] - r_ref),
                probability=share,
            )
        impact = None
        if share < 0.5:
            down = ~up2[j]
            rows = slice(j * m, (j + 1) * m)
            impact = weighted_ground_point(
                t_imp[rows][down], r_imp[rows][down], w[down], confidence,
                centre=0 if down[0] else None,
            )  # fmt: skip
        out[i] = (impact, orbit)
    return out
