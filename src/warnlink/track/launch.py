"""Launch point and time, and heading, from track states, via powered-flight templates.

Why templates: a track rarely starts at lift-off (infrared sees a booster only above
~10 km, radars later still) and never knows the vehicle. The generic vehicles are flown
once and their powered flight tabulated (warnlink.track.launch_templates). Then

- in boost, the state's (height, speed, flight-path angle) is matched to every template
  flight's powered samples, and the launch lies the matched downrange back along the
  ground track, the matched time earlier (thrust and mass are not needed, unlike a
  backward boost integration whose vehicle is unknown);
- after burnout, the state is coasted backwards in vacuum (reversed velocity: gravity is
  conservative) down to each template's burnout height, weighted by how well the speed
  and flight-path angle there fit, and that template's powered downrange and time are
  added.

The uncertainty is the spread across matching templates, plus a floor for what they do
not span, inflated when even the best template fits badly, plus the state's own spread
(its [r, v] sigma points go through the same estimate). A boost-phase estimate is kept
once made: the earliest boost states see the pad most directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from warnlink.formats.records import GroundPoint
from warnlink.geo.frames import GM_EARTH, R_MEAN, ecef_to_geodetic, eci_to_ecef, enu_basis
from warnlink.physics.dynamics import PhysicsModel, height
from warnlink.physics.kepler import descending_crossing, j2_offset
from warnlink.track.ellipse import ground_point
from warnlink.track.launch_templates import kinematics, templates
from warnlink.track.predict import sigma_points, sigma_weights
from warnlink.track.state import POS, VEL, eci_to_ecef_jacobian

F64 = NDArray[np.float64]

SIGMA_SPEED = 150.0  # m/s, template match tolerance
SIGMA_GAMMA = np.radians(4.0)
SIGMA_H = 5e3  # m, boost-phase match tolerance in height
FLOOR_POS_M = 10e3  # what the templates do not span (profiles, vehicles, sites)
FLOOR_T_S = 8.0
BOOST_THRESHOLD = 0.5
REFRESH_S = 20.0  # the ballistic back-propagation is redone this often per track,
REFRESH_SHRINK = 0.5  # or sooner once the position covariance's trace shrinks by this
BOOST_REFRESH_S = 1.0  # and the boost-phase template match
VACUUM = PhysicsModel(drag=False)


def heading(t: float, x: F64, P: F64) -> tuple[float, float]:
    """Ground-track azimuth (deg, clockwise from north) of the state and its 1-sigma."""
    jac = eci_to_ecef_jacobian(np.array([t]))[0]
    r, v = eci_to_ecef(t, x[POS], x[VEL])
    lat, lon, _ = ecef_to_geodetic(r)
    en = enu_basis(lat, lon)[:2]
    cov_v = (jac @ P[:6, :6] @ jac.T)[3:, 3:]
    ve, vn = en @ v
    g = np.array([vn, -ve]) @ en / max(ve * ve + vn * vn, 1e-9)  # d azimuth / d v_ecef
    return float(np.degrees(np.arctan2(ve, vn)) % 360.0), float(np.degrees(np.sqrt(g @ cov_v @ g)))


def _back_along(lat: F64, lon: F64, azimuth: F64, dist: F64) -> tuple[F64, F64]:
    """Points dist (m) behind (lat, lon) along the great circle leaving at azimuth (rad)."""
    p1, l1, d = np.radians(lat), np.radians(lon), dist / R_MEAN
    th = azimuth + np.pi
    p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(th))
    l2 = l1 + np.arctan2(np.sin(th) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2))
    return np.degrees(p2), (np.degrees(l2) + 180.0) % 360.0 - 180.0


def _combine(lat: F64, lon: F64, t: F64, d2: F64) -> tuple[F64, F64]:
    """Weighted mean and covariance (metres east-north) of candidate launch points.

    Weights are exp(-d2/2) of the template match. When even the best template fits
    badly (d2 above ~1), the track lies between or beyond the templates, so the whole
    uncertainty is inflated by d2_min; if nothing fits, every candidate counts.
    """
    best = float(d2.min()) if np.isfinite(d2.min()) else np.inf
    w = np.exp(-0.5 * (d2 - best)) if best < 25.0 else np.ones_like(d2)
    inflate = max(1.0, min(best, 25.0))
    w = w / w.sum()
    lat0, lon0 = float(w @ lat), float(w @ lon)
    e = np.radians(lon - lon0) * R_MEAN * np.cos(np.radians(lat0))
    n = np.radians(lat - lat0) * R_MEAN
    d = np.stack([e, n], axis=1)
    cov = inflate * ((w[:, None] * d).T @ d + FLOOR_POS_M**2 * np.eye(2))
    tm = float(w @ t)
    t_sigma = np.sqrt(inflate * (float(w @ (t - tm) ** 2) + FLOOR_T_S**2))
    return np.array([lat0, lon0, tm, t_sigma]), cov


def launch_from_boost(t: float, xs: F64) -> list[tuple[F64, F64]]:
    """Launch [lat, lon, t, t_sigma] and east-north covariance from powered states (m, 10).

    Each state's best-matching powered sample of every template flight is the argmin of
    the match over that flight's row of the padded table (_by_flight), for all states in
    one pass.
    """
    tpl = templates()
    rows = _by_flight()
    lat, lon, h, speed, gamma, az = kinematics(*eci_to_ecef(t, xs[:, POS], xs[:, VEL]))
    p = tpl.powered
    d2 = ((p[:, 0] - h[:, None]) / SIGMA_H) ** 2 + ((p[:, 1] - speed[:, None]) / SIGMA_SPEED) ** 2
    d2 = d2 + ((p[:, 2] - gamma[:, None]) / SIGMA_GAMMA) ** 2
    d2_rows = np.where(rows >= 0, d2[:, rows], np.inf)  # (m, F, longest flight)
    pick = np.take_along_axis(rows[None], d2_rows.argmin(axis=2)[..., None], axis=2)[..., 0]
    best = d2[np.arange(len(xs))[:, None], pick]
    cand = p[pick]  # (m, F, 5)
    n_f = len(tpl.bo)
    out = []
    for i in range(len(xs)):
        la, lo = _back_along(
            np.full(n_f, lat[i]), np.full(n_f, lon[i]), np.full(n_f, az[i]), cand[i, :, 3]
        )
        out.append(_combine(la, lo, t - cand[i, :, 4], best[i]))
    return out


@lru_cache(maxsize=1)
def _by_flight() -> NDArray[np.intp]:
    """Indices of the powered samples (F, longest flight) of each template flight, in order,
    padded with -1."""
    tpl = templates()
    counts = np.bincount(tpl.flight, minlength=len(tpl.bo))
    rows = np.full((len(counts), int(counts.max())), -1, np.intp)
    for j in range(len(counts)):
        idx = np.flatnonzero(tpl.flight == j)
        rows[j, : len(idx)] = idx
    return rows


def _burnout_crossings(xs: F64, h_bo: F64) -> tuple[F64, F64, F64]:
    """Backward coast in vacuum of each state (m, 10) to each burnout height (F,).

    Times before the state (m, F), ECI positions and velocities (m, F, 3) of the last
    crossing of each height on the way up (NaN: none), in closed form: two-body motion
    of the reversed velocity to the crossing radius (found for the geodetic height in two
    passes), J2's offset over that time from a short paired integration, and a linear
    step onto the height.
    """
    m, n_f = len(xs), len(h_bo)
    r = np.repeat(xs[:, POS], n_f, axis=0)
    vr = -np.repeat(xs[:, VEL], n_f, axis=0)
    hb = np.tile(h_bo, m)
    rn = np.linalg.norm(r, axis=1)
    r1 = rn - height(r, VACUUM) + hb
    for _ in range(2):
        tof, r_c, v_c = descending_crossing(r, vr, r1)
        good = np.isfinite(tof)
        r1 = np.where(good, r1 + hb - height(np.where(good[:, None], r_c, r), VACUUM), r1)
    tof, r_c, v_c = descending_crossing(r, vr, r1)
    good = np.flatnonzero(np.isfinite(tof))
    if len(good):
        dr, dv = j2_offset(r[good], vr[good], tof[good])
        rg, vg = r_c[good] + dr, v_c[good] + dv
        rate = np.einsum("ij,ij->i", rg, vg) / np.linalg.norm(rg, axis=1)
        dt = (hb[good] - height(rg, VACUUM)) / np.minimum(rate, -1e-3)
        g = -GM_EARTH / np.linalg.norm(rg, axis=1) ** 3
        r_c[good] = rg + vg * dt[:, None] + 0.5 * (g * dt * dt)[:, None] * rg
        v_c[good] = vg + (g * dt)[:, None] * rg
        tof[good] += dt
    return tof.reshape(m, n_f), r_c.reshape(m, n_f, 3), v_c.reshape(m, n_f, 3)


def launch_from_ballistic(t: float, xs: F64) -> list[tuple[F64, F64] | None]:
    """Launch from unpowered states (m, 10): reversed vacuum coasts to each burnout height."""
    tpl = templates()
    tof, r_c, vr_c = _burnout_crossings(xs, tpl.bo[:, 0])
    return [_from_crossings(t, tof[i], r_c[i], vr_c[i]) for i in range(len(xs))]


def _from_crossings(t: float, tof: F64, r: F64, vr: F64) -> tuple[F64, F64] | None:
    """Template candidates from one state's burnout-height crossings (tof before t, ECI,
    reversed velocity; NaN where the reversed arc does not cross that height)."""
    tpl = templates()
    j_idx = np.flatnonzero(np.isfinite(tof))
    if len(j_idx) == 0:
        return None
    t_cross = t - tof[j_idx]
    lat, lon, _, speed, gamma, az = kinematics(*eci_to_ecef(t_cross, r[j_idx], -vr[j_idx]))
    bo = tpl.bo[j_idx]
    d2 = ((speed - bo[:, 1]) / SIGMA_SPEED) ** 2 + ((gamma - bo[:, 2]) / SIGMA_GAMMA) ** 2
    la, lo = _back_along(lat, lon, az, bo[:, 3])
    return _combine(la, lo, t_cross - bo[:, 4], d2)


def launch_estimate(t: float, x: F64, P: F64, boost: bool) -> tuple[F64, F64] | None:
    """Launch [lat, lon, t, t_sigma] and east-north covariance, template and state spread.

    The template estimate of the mean state carries the spread across templates; the
    13 sigma points of [r, v] add the state's own uncertainty (a young track's velocity
    error, back-propagated over minutes, is kilometres).
    """
    pts = np.zeros((2 * 6 + 1, len(x)))
    pts[:, :6] = sigma_points(x[None, :6], P[None, :6, :6])[0]
    ests: list[tuple[F64, F64] | None] = list(
        launch_from_boost(t, pts) if boost else launch_from_ballistic(t, pts)
    )
    centre = ests[0]
    ok = [i for i, e in enumerate(ests) if e is not None]
    if centre is None:
        return None
    w = sigma_weights(6)[ok]
    w = w / w.sum()
    m = np.array([e[0] for e in ests if e is not None])
    est, cov = centre
    d = np.stack(
        [np.radians(m[:, 1] - est[1]) * R_MEAN * np.cos(np.radians(est[0])),
         np.radians(m[:, 0] - est[0]) * R_MEAN],
        axis=1,
    )  # fmt: skip
    d = d - w @ d
    t_var = float(w @ (m[:, 2] - w @ m[:, 2]) ** 2)
    spread = np.array([est[0], est[1], est[2], np.sqrt(est[3] ** 2 + t_var)])
    return spread, cov + (w[:, None] * d).T @ d


@dataclass
class _Memory:
    boost: GroundPoint | None = None
    ballistic: GroundPoint | None = None
    t_ballistic: float = -np.inf
    trace_ballistic: float = np.inf  # position covariance trace of that estimate's state
    t_boost: float = -np.inf


class LaunchEstimator:
    """Per-track memory: the launch estimate is fixed from the boost phase when the track saw it,
    otherwise back-propagated from the ballistic state through a generic powered-flight template."""

    def __init__(self, confidence: float = 0.95) -> None:
        self.confidence = confidence
        self._tracks: dict[str, _Memory] = {}

    def forget(self, track_id: str) -> None:
        """Drop a deleted track's memory."""
        self._tracks.pop(track_id, None)

    def update(
        self, track_id: str, t: float, x: F64, P: F64, boost_probability: float, t_first: float
    ) -> tuple[GroundPoint | None, float | None, float | None]:
        """Launch estimate, heading (deg) and heading sigma (deg) after an update of a track.

        t_first (first update of the track) bounds the launch time from above.
        """
        mem = self._tracks.setdefault(track_id, _Memory())
        x, P = np.asarray(x, float), np.asarray(P, float)
        hd, hs = heading(t, x, P)
        if boost_probability > BOOST_THRESHOLD:
            if mem.boost is None or t - mem.t_boost >= BOOST_REFRESH_S:
                res = launch_estimate(t, x, P, boost=True)
                mem.t_boost = t
                if res is not None:
                    gp = self._point(*res, t_first)
                    old = mem.boost
                    if old is None or gp.ellipse.semi_major_m <= old.ellipse.semi_major_m:
                        mem.boost = gp
            return mem.boost, hd, hs
        if mem.boost is not None:
            return mem.boost, hd, hs
        trace = float(np.trace(P[POS, POS]))
        due = t - mem.t_ballistic >= REFRESH_S or trace < REFRESH_SHRINK * mem.trace_ballistic
        if mem.ballistic is None or due:
            res = launch_estimate(t, x, P, boost=False)
            if res is not None:
                mem.ballistic, mem.t_ballistic = self._point(*res, t_first), t
                mem.trace_ballistic = trace
        return mem.ballistic, hd, hs

    def _point(self, est: F64, cov: F64, t_first: float) -> GroundPoint:
        return ground_point(min(est[2], t_first), est[3], est[0], est[1], cov, self.confidence)
