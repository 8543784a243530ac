"""WGS84 frame conversions, vectorised over leading array axes.

Frames used throughout WarnLink:
- ECEF: WGS84 Earth-centred, Earth-fixed, metres.
- ECI: a pseudo-inertial frame equal to ECEF at scenario time 0 and not rotating
  (Earth turns at OMEGA_EARTH about +z; precession, nutation and polar motion are ignored,
  which is far below what a minutes-long flight or a sensor can resolve).
- ENU / az-el-range: local geodetic frame at a site; azimuth clockwise from true north.
pymap3d converts geodetic to ECEF; the inverse is our own (see ecef_to_geodetic).
"""

from __future__ import annotations

import numpy as np
import pymap3d
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]

WGS84 = pymap3d.Ellipsoid.from_name("wgs84")
A_WGS84 = 6378137.0  # semi-major axis, m
F_WGS84 = 1.0 / 298.257223563
B_WGS84 = A_WGS84 * (1.0 - F_WGS84)
E2_WGS84 = F_WGS84 * (2.0 - F_WGS84)
EP2_WGS84 = E2_WGS84 / (1.0 - E2_WGS84)
GM_EARTH = 3.986004418e14  # m^3/s^2 (WGS84 / EGM96)
J2_EARTH = 1.08262668e-3  # EGM96 unnormalised zonal coefficient
OMEGA_EARTH = 7.2921150e-5  # rad/s
R_MEAN = 6371008.8  # IUGG mean radius, m (the sphere of the simplified test models)


def geodetic_to_ecef(lat_deg: ArrayLike, lon_deg: ArrayLike, alt_m: ArrayLike) -> F64:
    """Geodetic (deg, deg, m) to ECEF, shape (..., 3)."""
    x, y, z = pymap3d.geodetic2ecef(
        np.asarray(lat_deg, float), np.asarray(lon_deg, float), np.asarray(alt_m, float), WGS84
    )
    return np.stack([np.asarray(x), np.asarray(y), np.asarray(z)], axis=-1)


def ecef_to_geodetic(r: ArrayLike) -> tuple[F64, F64, F64]:
    """ECEF (..., 3) to geodetic latitude, longitude (deg) and height (m).

    Bowring's formula iterated twice: better than 1e-7 m from the ground to GEO
    (pymap3d's closed form drifts by metres at high altitude), using only elementary
    numpy operations, so it is also cheap inside the integrator.
    """
    r = np.asarray(r, float)
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    p = np.hypot(x, y)
    beta = np.arctan2(z * A_WGS84, p * B_WGS84)
    for _ in range(2):
        lat = np.arctan2(
            z + EP2_WGS84 * B_WGS84 * np.sin(beta) ** 3, p - E2_WGS84 * A_WGS84 * np.cos(beta) ** 3
        )
        beta = np.arctan2((1.0 - F_WGS84) * np.sin(lat), np.cos(lat))
    s, c = np.sin(lat), np.cos(lat)
    n = A_WGS84 / np.sqrt(1.0 - E2_WGS84 * s * s)
    alt = p * c + z * s - A_WGS84 * A_WGS84 / n
    return np.degrees(lat), np.degrees(np.arctan2(y, x)), np.asarray(alt, float)


def geodetic_altitude(r: F64) -> F64:
    """Height above the WGS84 ellipsoid of points (..., 3)."""
    return ecef_to_geodetic(r)[2]


def enu_basis(lat_deg: ArrayLike, lon_deg: ArrayLike) -> F64:
    """Rows east, north, up of the local frame in ECEF, shape (..., 3, 3)."""
    lat = np.radians(np.asarray(lat_deg, float))
    lon = np.radians(np.asarray(lon_deg, float))
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    zero = np.zeros_like(sl)
    east = np.stack([-so, co, zero], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl], axis=-1)
    up = np.stack([cl * co, cl * so, sl], axis=-1)
    return np.stack([east, north, up], axis=-2)


def ecef_to_enu(r: ArrayLike, site_ecef: ArrayLike, basis: F64) -> F64:
    """ECEF points (..., 3) to ENU (..., 3) of a site with basis from enu_basis."""
    d = np.asarray(r, float) - np.asarray(site_ecef, float)
    return (
        np.asarray(d @ basis.T, float)
        if basis.ndim == 2
        else np.einsum("...ij,...j->...i", basis, d)
    )


def enu_to_aer(enu: F64) -> tuple[F64, F64, F64]:
    """ENU (..., 3) to azimuth (rad, clockwise from north, [0, 2pi)), elevation (rad), range (m)."""
    e, n, u = enu[..., 0], enu[..., 1], enu[..., 2]
    horiz = np.hypot(e, n)
    az = np.mod(np.arctan2(e, n), 2.0 * np.pi)
    el = np.arctan2(u, horiz)
    return az, el, np.hypot(horiz, u)


def aer_to_enu(az: ArrayLike, el: ArrayLike, rng: ArrayLike) -> F64:
    """Inverse of enu_to_aer."""
    az, el, rng = (np.asarray(a, float) for a in (az, el, rng))
    ce = np.cos(el)
    return np.stack([rng * ce * np.sin(az), rng * ce * np.cos(az), rng * np.sin(el)], axis=-1)


def rot_z(angle: ArrayLike) -> F64:
    """Rotation matrices (..., 3, 3) about +z by angle (rad), active sense."""
    a = np.asarray(angle, float)
    c, s = np.cos(a), np.sin(a)
    zero, one = np.zeros_like(a), np.ones_like(a)
    return np.stack(
        [np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1), np.stack([zero, zero, one], -1)],
        axis=-2,
    )


def eci_to_ecef(t: ArrayLike, r_eci: ArrayLike, v_eci: ArrayLike) -> tuple[F64, F64]:
    """Positions and velocities at scenario times t (s) from ECI to ECEF."""
    t = np.asarray(t, float)
    r_eci, v_eci = np.asarray(r_eci, float), np.asarray(v_eci, float)
    rot = rot_z(-OMEGA_EARTH * t)
    r = np.einsum("...ij,...j->...i", rot, r_eci)
    v = np.einsum("...ij,...j->...i", rot, v_eci)
    w = np.array([0.0, 0.0, OMEGA_EARTH])
    return r, v - np.cross(w, r)


def ecef_to_eci(t: ArrayLike, r_ecef: ArrayLike, v_ecef: ArrayLike) -> tuple[F64, F64]:
    """Inverse of eci_to_ecef."""
    t = np.asarray(t, float)
    r_ecef, v_ecef = np.asarray(r_ecef, float), np.asarray(v_ecef, float)
    w = np.array([0.0, 0.0, OMEGA_EARTH])
    v_inertial_ecef = v_ecef + np.cross(w, r_ecef)
    rot = rot_z(OMEGA_EARTH * t)
    return (
        np.einsum("...ij,...j->...i", rot, r_ecef),
        np.einsum("...ij,...j->...i", rot, v_inertial_ecef),
    )
