"""Errors of ground points and states, and whether stated uncertainties match them.

A warning ellipse is only useful if it holds the truth as often as it claims; these tests
compare each update's own stated covariance with its actual error, so an over-confident
tracker fails them however small its errors are.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from pymap3d.vincenty import vdist
from scipy import stats

from warnlink.geo.frames import enu_basis, geodetic_to_ecef

F64 = NDArray[np.float64]
B = NDArray[np.bool_]


def geodesic_m(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> F64:
    """WGS84 geodesic distance (Vincenty, via pymap3d), m."""
    if len(lat1) == 0:
        return np.zeros(0)
    dist, _ = vdist(lat1, lon1, lat2, lon2)
    return np.asarray(dist, float).reshape(len(lat1))


def east_north_offset(lat: F64, lon: F64, true_lat: F64, true_lon: F64) -> F64:
    """Offset (n, 2) of the true point from the estimate in the estimate's east-north plane.

    Both points are taken on the ellipsoid; the chord is projected on the local horizontal,
    which matches a tangent-plane covariance to far better than its own size for any
    offset a consistent ellipse could contain.
    """
    chord = geodetic_to_ecef(true_lat, true_lon, 0.0) - geodetic_to_ecef(lat, lon, 0.0)
    basis = enu_basis(lat, lon)  # (n, 3, 3) rows east, north, up
    out: F64 = np.einsum("nij,nj->ni", basis[:, :2, :], chord.reshape(-1, 3))
    return out


def positive_definite(cov: F64) -> B:
    """Which covariances (n, k, k) are symmetric positive definite, so usable in a test."""
    if len(cov) == 0:
        return np.zeros(0, dtype=bool)
    finite = np.all(np.isfinite(cov), axis=(1, 2))
    sym = np.where(finite[:, None, None], (cov + np.swapaxes(cov, 1, 2)) / 2, np.eye(cov.shape[1]))
    ok: B = finite & (np.linalg.eigvalsh(sym)[:, 0] > 0)
    return ok


def mahalanobis2(err: F64, cov: F64) -> F64:
    """Squared Mahalanobis distances err_i' cov_i^-1 err_i; NaN where cov is unusable."""
    ok = positive_definite(cov)
    out = np.full(len(err), np.nan)
    if ok.any():
        sol = np.linalg.solve(cov[ok], err[ok][..., None])[..., 0]
        out[ok] = np.einsum("ni,ni->n", err[ok], sol)
    return out


def ellipse_threshold(confidence: F64) -> F64:
    """chi2 (2 dof) quantile of a confidence: a point is inside when m² <= this."""
    return np.asarray(stats.chi2.ppf(confidence, 2), float)


def coverage_summary(inside: B, confidence: F64, level: float) -> dict[str, object]:
    """Observed share inside the ellipses against their stated confidence.

    The Clopper-Pearson interval (at `level`) of the observed share decides the verdict:
    under-covering (stated ellipses too small) if it lies wholly below the mean stated
    confidence, over-covering if wholly above, else consistent.
    """
    n, k = len(inside), int(inside.sum())
    if n == 0:
        return {"n": 0, "inside": 0, "share": None, "confidence": None, "verdict": "no data"}
    a = 1.0 - level
    lo = float(stats.beta.ppf(a / 2, k, n - k + 1)) if k > 0 else 0.0
    hi = float(stats.beta.ppf(1 - a / 2, k + 1, n - k)) if k < n else 1.0
    expected = float(np.mean(confidence))
    verdict = (
        "under-covering" if hi < expected else "over-covering" if lo > expected else "consistent"
    )
    confs = sorted({round(float(c), 6) for c in confidence})
    return {
        "n": n,
        "inside": k,
        "share": k / n,
        "confidence": expected,
        "confidences_stated": confs[:10],
        "interval": [lo, hi],
        "interval_level": level,
        "verdict": verdict,
    }


def nees_summary(nees: F64, dof: int, level: float) -> dict[str, object]:
    """Mean NEES and the chi2 interval a consistent filter's mean falls in (if independent)."""
    x = nees[np.isfinite(nees)]
    n = len(x)
    if n == 0:
        return {"n": 0, "mean": None, "dof": dof, "verdict": "no data"}
    a = 1.0 - level
    lo, hi = (float(q) / n for q in stats.chi2.ppf([a / 2, 1 - a / 2], dof * n))
    mean = float(x.mean())
    verdict = "optimistic" if mean > hi else "pessimistic" if mean < lo else "consistent"
    return {
        "n": n,
        "n_unusable_covariance": int(len(nees) - n),
        "mean": mean,
        "median": float(np.median(x)),
        "dof": dof,
        "interval": [lo, hi],
        "interval_level": level,
        "verdict": verdict,
    }
