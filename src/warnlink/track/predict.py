"""Impact and orbit prediction from track states, by sigma points through the coast model.

The prediction is of the object *if it stopped burning now*: thrust in the state is
ignored, so during boost the predicted impact would be a moving guess, and it is withheld
(None) while the boost probability is high. The 7-dim distribution of [r, v, ln k] is
represented by 2·7 + 1 unscented sigma points per state. With the tracker's own flight
model (full physics, the default) the points fly to the surface in compiled code, the
alerting's coast (warnlink.track.coast_path: RK4 with the tracker's rates, the landing
found on the last step's interpolant); other models (the closed-form checks' sphere and
vacuum) go through warnlink.physics.propagate.coast.
Points whose osculating perigee stays above the air, or that do not come down within a
horizon, are counted as orbiting; their share is the Orbit probability.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from warnlink.formats.records import GroundPoint, Orbit
from warnlink.geo.frames import A_WGS84, GM_EARTH, R_MEAN, rot_z
from warnlink.physics.dynamics import FULL_PHYSICS, PhysicsModel
from warnlink.physics.propagate import coast
from warnlink.track.coast_path import coast_path
from warnlink.track.ellipse import weighted_ground_point
from warnlink.track.state import LOG_K, POS, VEL

F64 = NDArray[np.float64]

N_SIGMA_DIM = 7  # [r, v, k]: thrust is ignored
SIGMA_LAMBDA = 1.0  # unscented spread sqrt(n + lambda) sigma, centre weight lambda/(n+lambda)
BOOST_THRESHOLD = 0.5  # above this boost probability the impact is not yet known
ORBIT_PERIGEE_M = 120e3  # osculating perigee height above which a point stays up
HORIZON_S = 3.0 * 3600.0  # points still flying after this are counted as up
ORBIT_REPORT_SHARE = 0.01  # report an Orbit once this share of the distribution stays up
DT_AIR = 2.0  # s, the general integrator's step in the air (models other than the tracker's)


def _to_surface(
    t0: F64, r: F64, v: F64, beta: F64, model: PhysicsModel
) -> tuple[F64, F64, NDArray[np.bool_]]:
    """Impact time, ECI position and whether each row landed within HORIZON_S.

    The tracker's own model (full physics) flies in compiled code (track.coast_path, the
    alerting's coast): the flight is autonomous in ECI, so all rows start at time 0 and
    their own t0 is added. Other models (the closed-form checks' sphere, vacuum) go
    through the general integrator.
    """
    if model == FULL_PHYSICS:
        path = coast_path(0.0, r, v, 1.0 / beta, [0.0, HORIZON_S])
        landed = path.landed
        return t0 + np.where(landed, path.t_land, HORIZON_S), path.r_eci[:, -1], landed
    arcs = coast(t0, r, v, t_stop=t0 + HORIZON_S, model=model, beta=beta, dt_fine=DT_AIR)
    t_imp = np.array([a.t[-1] for a in arcs])
    r_imp = np.array([a.r[-1] for a in arcs]).reshape(-1, 3)
    return t_imp, r_imp, np.array([a.at_surface for a in arcs], bool)


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
