"""Closed-form Keplerian ballistics (point-mass Earth, no air), vectorised.

Written from the conic equations alone, independently of the integrator, so that the
integrator can be checked against it; the targeting solver and the reach checks use it
for first guesses and cheap feasibility. Flight-path angles are measured from the local
horizontal; range angles are central angles (rad).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from warnlink.geo.frames import GM_EARTH
from warnlink.physics.gravity import gravity

F64 = NDArray[np.float64]

J2_STEP_S = 180.0  # s, longest paired RK4 step of j2_offset


def great_circle(
    lat1_deg: ArrayLike, lon1_deg: ArrayLike, lat2_deg: ArrayLike, lon2_deg: ArrayLike
) -> tuple[F64, F64]:
    """Central angle (rad) and initial azimuth (rad, clockwise from north) on a sphere."""
    p1, l1, p2, l2 = (
        np.radians(np.asarray(a, float)) for a in (lat1_deg, lon1_deg, lat2_deg, lon2_deg)
    )
    dl = l2 - l1
    y = np.hypot(
        np.cos(p2) * np.sin(dl), np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    )
    x = np.sin(p1) * np.sin(p2) + np.cos(p1) * np.cos(p2) * np.cos(dl)
    az = np.arctan2(
        np.sin(dl) * np.cos(p2), np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    )
    return np.arctan2(y, x), np.mod(az, 2.0 * np.pi)


def _eccentric_anomaly(nu: F64, e: F64) -> F64:
    return np.asarray(np.arctan2(np.sqrt(1.0 - e * e) * np.sin(nu), e + np.cos(nu)), float)


def ballistic_arc(
    r0: ArrayLike, v0: ArrayLike, gamma0: ArrayLike, r1: ArrayLike, mu: float = GM_EARTH
) -> tuple[F64, F64]:
    """Range angle and time of flight from a burnout state to the descending crossing of r1.

    r0 (m), v0 (m/s), gamma0 (rad) describe the burnout; the arc ends where the radius
    falls through r1 (the impact sphere). NaN where the conic is not an ellipse reaching r1.
    """
    r0, v0, g0, r1 = (np.asarray(a, float) for a in (r0, v0, gamma0, r1))
    h = r0 * v0 * np.cos(g0)
    p = h * h / mu
    a = 1.0 / (2.0 / r0 - v0 * v0 / mu)
    with np.errstate(invalid="ignore"):
        e = np.sqrt(1.0 - p / a)
        nu0 = np.arctan2(h * v0 * np.sin(g0) / mu, p / r0 - 1.0)
        nu1 = 2.0 * np.pi - np.arccos((p / r1 - 1.0) / e)
        big_e0 = _eccentric_anomaly(nu0, e)
        big_e1 = _eccentric_anomaly(nu1, e) + 2.0 * np.pi
        n = np.sqrt(mu / a**3)
        tof = ((big_e1 - e * np.sin(big_e1)) - (big_e0 - e * np.sin(big_e0))) / n
    bad = ~(a > 0) | ~(e < 1.0)
    return np.where(bad, np.nan, nu1 - nu0), np.where(bad, np.nan, tof)


def apogee_radius(r0: ArrayLike, v0: ArrayLike, gamma0: ArrayLike, mu: float = GM_EARTH) -> F64:
    """Apoapsis radius (m) of the conic through a burnout state (NaN if unbound)."""
    r0, v0, g0 = (np.asarray(a, float) for a in (r0, v0, gamma0))
    a = 1.0 / (2.0 / r0 - v0 * v0 / mu)
    p = (r0 * v0 * np.cos(g0)) ** 2 / mu
    with np.errstate(invalid="ignore"):
        return np.where(a > 0, a * (1.0 + np.sqrt(np.maximum(1.0 - p / a, 0.0))), np.nan)


def state_arc(
    r: ArrayLike, v: ArrayLike, r1: ArrayLike, mu: float = GM_EARTH
) -> tuple[F64, F64, F64, F64]:
    """Range angle, time of flight, impact position and apoapsis radius from ECI states (N, 3).

    The impact position lies in the orbit plane at the range angle from r, at radius r1.
    """
    r, v = np.asarray(r, float), np.asarray(v, float)
    rn, vn = np.linalg.norm(r, axis=-1), np.linalg.norm(v, axis=-1)
    gamma = np.arcsin(np.einsum("...i,...i->...", r, v) / (rn * vn))
    psi, tof = ballistic_arc(rn, vn, gamma, r1, mu)
    u = r / rn[..., None]
    normal = np.cross(r, v)
    w = np.cross(normal / np.linalg.norm(normal, axis=-1)[..., None], u)
    impact = (np.cos(psi)[..., None] * u + np.sin(psi)[..., None] * w) * np.asarray(r1, float)[
        ..., None
    ]
    return psi, tof, impact, apogee_radius(rn, vn, gamma, mu)


def min_energy_gamma(r1: ArrayLike, r2: ArrayLike, psi: ArrayLike) -> F64:
    """Flight-path angle at r1 of the minimum-energy conic to r2 across range angle psi.

    The empty focus of that ellipse lies on the chord, and the tangent bisects the angle
    between the focal radii, so the velocity bisects the local vertical and the chord.
    """
    r1, r2, psi = (np.asarray(a, float) for a in (r1, r2, psi))
    chord_elevation = np.arctan2(r2 * np.cos(psi) - r1, r2 * np.sin(psi))
    return np.asarray(0.5 * (0.5 * np.pi + chord_elevation), float)


def min_energy_speed(r1: ArrayLike, r2: ArrayLike, psi: ArrayLike, mu: float = GM_EARTH) -> F64:
    """Speed at r1 on the minimum-energy conic to r2 across psi (semi-major axis (r1+r2+c)/4)."""
    r1, r2, psi = (np.asarray(a, float) for a in (r1, r2, psi))
    chord = np.sqrt(r1 * r1 + r2 * r2 - 2.0 * r1 * r2 * np.cos(psi))
    a = 0.25 * (r1 + r2 + chord)
    return np.asarray(np.sqrt(mu * (2.0 / r1 - 1.0 / a)), float)


def min_energy_apogee(radius: ArrayLike, psi: ArrayLike) -> F64:
    """Apoapsis height above `radius` of the minimum-energy arc between two points on it.

    The foci are the Earth's centre and the chord's midpoint, R cos(psi/2) apart.
    """
    radius, psi = np.asarray(radius, float), np.asarray(psi, float)
    a = 0.5 * radius * (1.0 + np.sin(0.5 * psi))
    return np.asarray(a + 0.5 * radius * np.cos(0.5 * psi) - radius, float)


def speed_for_apogee(
    radius: ArrayLike, psi: ArrayLike, apogee: ArrayLike, mu: float = GM_EARTH
) -> F64:
    """Speed at `radius` of the symmetric arc across psi whose apoapsis is `apogee` above it.

    With the apse line through the arc's middle, r = p / (1 - e cos(nu')) at both ends
    (nu' = psi/2 from apoapsis) and at apoapsis gives e, then vis-viva gives the speed.
    """
    radius, psi, apogee = (np.asarray(x, float) for x in (radius, psi, apogee))
    ra = radius + apogee
    e = apogee / (ra - radius * np.cos(0.5 * psi))
    a = ra / (1.0 + e)
    return np.asarray(np.sqrt(mu * (2.0 / radius - 1.0 / a)), float)


def descending_crossing(r: F64, v: F64, r1: ArrayLike) -> tuple[F64, F64, F64]:
    """Time to the next descending crossing of radius r1 per row, and the state there.

    Closed-form two-body motion of ECI rows (N, 3), without passing perigee: the true
    anomaly of the crossing from the conic, the time from Kepler's equation. NaN where
    the conic does not come down through r1 that way (unbound, perigee above r1, or
    already below r1 and descending).
    """
    r1 = np.broadcast_to(np.asarray(r1, float), (len(r),))
    rn = np.linalg.norm(r, axis=1)
    rv = np.einsum("ij,ij->i", r, v)
    vv = np.einsum("ij,ij->i", v, v)
    h = np.cross(r, v)
    hn = np.linalg.norm(h, axis=1)
    ev = ((vv - GM_EARTH / rn)[:, None] * r - rv[:, None] * v) / GM_EARTH
    e = np.linalg.norm(ev, axis=1)
    p = hn * hn / GM_EARTH
    two_pi = 2.0 * np.pi
    with np.errstate(invalid="ignore", divide="ignore"):
        a = 1.0 / (2.0 / rn - vv / GM_EARTH)
        nu0 = np.mod(np.arctan2(rv / rn * hn / GM_EARTH, p / rn - 1.0), two_pi)
        nu1 = two_pi - np.arccos((p / r1 - 1.0) / e)
        s1 = np.sqrt(1.0 - e * e)
        big_e0 = np.mod(np.arctan2(s1 * np.sin(nu0), e + np.cos(nu0)), two_pi)
        big_e1 = np.mod(np.arctan2(s1 * np.sin(nu1), e + np.cos(nu1)), two_pi)
        mean = (big_e1 - e * np.sin(big_e1)) - (big_e0 - e * np.sin(big_e0))
        tof = mean * np.sqrt(a**3 / GM_EARTH)
        px = ev / e[:, None]
        qx = np.cross(h / hn[:, None], px)
        c1, s1n = np.cos(nu1)[:, None], np.sin(nu1)[:, None]
        r_out = r1[:, None] * (c1 * px + s1n * qx)
        v_out = (GM_EARTH / hn)[:, None] * (-s1n * px + (e[:, None] + c1) * qx)
        ok = (a > 0.0) & (e < 1.0) & (e > 1e-9) & np.isfinite(tof) & (nu0 <= nu1) & (tof >= 0)
    return np.where(ok, tof, np.nan), r_out, v_out


def j2_offset(r: F64, v: F64, tof: F64) -> tuple[F64, F64]:
    """What J2 adds to the position and velocity of two-body motion over tof (s) per row.

    Both motions are integrated with the same RK4 steps (every row in the same number of
    steps, at most J2_STEP_S); their truncation errors, far larger than the offset, cancel
    in the difference: decimetres from 120 s steps, a metre or two from 180 s (over a
    40-minute coast; the offset is then 30 km), 30 m from 470 s.
    """
    n = len(r)
    steps = int(np.clip(np.ceil(np.max(tof) / J2_STEP_S), 2, 1000))
    y = np.concatenate([np.concatenate([r, v], axis=1)] * 2)
    dt = np.concatenate([tof, tof])[:, None] / steps

    def deriv(y: F64) -> F64:
        acc = np.concatenate([gravity(y[:n, :3], j2=True), gravity(y[n:, :3], j2=False)])
        return np.concatenate([y[:, 3:], acc], axis=1)

    for _ in range(steps):
        k1 = deriv(y)
        k2 = deriv(y + 0.5 * dt * k1)
        k3 = deriv(y + 0.5 * dt * k2)
        k4 = deriv(y + dt * k3)
        y = y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    d = y[:n] - y[n:]
    return d[:, :3], d[:, 3:]
