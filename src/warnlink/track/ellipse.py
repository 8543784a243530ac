"""Ground-point uncertainty: samples or covariances in the local east-north plane → records.

Every warning estimate (impact, launch) is a point on the ground with a 2x2 east-north
covariance at that point; the confidence ellipse is derived from that covariance here,
in one place, so that impact and launch ellipses mean the same thing.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from warnlink.formats.records import Ellipse, GroundPoint
from warnlink.geo.frames import ecef_to_geodetic, enu_basis

F64 = NDArray[np.float64]


def chi2_2dof(confidence: float) -> float:
    """Quantile of chi-square with 2 degrees of freedom (closed form: -2 ln(1 - p))."""
    return float(-2.0 * np.log1p(-confidence))


def ellipse_of(cov_en: ArrayLike, confidence: float = 0.95) -> Ellipse:
    """Confidence ellipse of a 2x2 east-north covariance.

    Semi-axes are sqrt(eigenvalue * chi2_2(confidence)); the orientation is the azimuth
    of the major axis (clockwise from north) folded into [0, 180).
    """
    c = np.asarray(cov_en, float)
    c = 0.5 * (c + c.T)
    vals, vecs = np.linalg.eigh(c)  # ascending
    vals = np.maximum(vals, 0.0)
    scale = chi2_2dof(confidence)
    east, north = vecs[0, 1], vecs[1, 1]
    az = float(np.degrees(np.arctan2(east, north)) % 180.0)
    if az >= 180.0:  # float rounding of the modulo can give exactly 180
        az = 0.0
    return Ellipse(
        semi_major_m=float(np.sqrt(vals[1] * scale)),
        semi_minor_m=float(np.sqrt(vals[0] * scale)),
        orientation_deg=az,
        confidence=float(confidence),
    )


def cov_of_ellipse(e: Ellipse) -> F64:
    """The east-north covariance an ellipse was made from (inverse of ellipse_of)."""
    scale = chi2_2dof(e.confidence)
    a = np.radians(e.orientation_deg)
    u = np.array([np.sin(a), np.cos(a)])  # major axis, east-north
    w = np.array([np.cos(a), -np.sin(a)])
    return np.asarray(
        (e.semi_major_m**2 * np.outer(u, u) + e.semi_minor_m**2 * np.outer(w, w)) / scale, float
    )


def ground_point(
    t: float, t_sigma: float, lat_deg: float, lon_deg: float, cov_en: ArrayLike, confidence: float
) -> GroundPoint:
    """A GroundPoint record from a position, a time and their uncertainties."""
    c = np.asarray(cov_en, float)
    return GroundPoint(
        t=float(t),
        t_sigma_s=float(t_sigma),
        lat_deg=float(lat_deg),
        lon_deg=float(lon_deg),
        cov_en_m2=(float(c[0, 0]), float(c[1, 1]), float(0.5 * (c[0, 1] + c[1, 0]))),
        ellipse=ellipse_of(c, confidence),
    )


def weighted_ground_point(
    t: ArrayLike,
    r_ecef: ArrayLike,
    w: ArrayLike,
    confidence: float,
    centre: int | None = None,
) -> GroundPoint:
    """A ground point from weighted samples of it (times (m,), ECEF (m, 3)).

    Without `centre`, the point is the weighted mean of the ECEF positions (its chord sag
    is far below the spread). With it, the point is that sample (the sigma points' centre,
    the state's own prediction) and the covariance is the weighted second moment about it,
    so the ellipse still holds the samples' spread and the mean's offset. Deviations are
    taken in the east-north plane of the point, where the record's covariance lives.
    """
    ts, r = np.asarray(t, float), np.asarray(r_ecef, float)
    wn = np.asarray(w, float) / np.sum(w)
    point = wn @ r if centre is None else r[centre]
    lat, lon, _ = ecef_to_geodetic(point)
    basis = enu_basis(lat, lon)[:2]  # east, north rows
    d = (r - point) @ basis.T
    cov = (wn[:, None] * d).T @ d
    t_point = float(wn @ ts) if centre is None else float(ts[centre])
    t_var = float(wn @ (ts - t_point) ** 2)
    return ground_point(t_point, np.sqrt(max(t_var, 0.0)), float(lat), float(lon), cov, confidence)
