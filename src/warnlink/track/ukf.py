"""A batched unscented Kalman filter: every array has a leading axis of filters.

One scan moves all tracks (times both IMM models) through the same few numpy calls, so the
cost per scan hardly depends on the number of tracks. Sigma points are the symmetric set
of Julier with kappa = 1 (positive centre weight, so covariances stay positive).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit
from numpy.typing import NDArray

from warnlink.track import models

F64 = NDArray[np.float64]
KAPPA = 1.0


@lru_cache(maxsize=32)
def weights(d: int) -> tuple[float, float, float]:
    """Centre weight, other weights and the spread factor sqrt(d + kappa)."""
    return KAPPA / (d + KAPPA), 0.5 / (d + KAPPA), float(np.sqrt(d + KAPPA))


@lru_cache(maxsize=32)
def _weight_column(s: int) -> F64:
    """Weights (s, 1) of the s = 2d + 1 sigma points, built once per size (read-only)."""
    w0, wi, _ = weights((s - 1) // 2)
    out = np.full((s, 1), wi)
    out[0] = w0
    out.flags.writeable = False
    return out


def cholesky(P: F64) -> F64:
    """Batched lower Cholesky factors; non-positive matrices are repaired by eigenvalue clipping."""
    P = 0.5 * (P + np.swapaxes(P, -1, -2))
    try:
        return np.asarray(np.linalg.cholesky(P), np.float64)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(P)
        scale = np.maximum(np.abs(w).max(axis=-1, keepdims=True), 1e-300)
        w = np.maximum(w, 1e-12 * scale)
        fixed = np.einsum("...ij,...j,...kj->...ik", v, w, v)
        return np.asarray(
            np.linalg.cholesky(0.5 * (fixed + np.swapaxes(fixed, -1, -2))), np.float64
        )


def sigma_points(x: F64, P: F64) -> F64:
    """Sigma points (n, 2d+1, d) of means (n, d) and covariances (n, d, d)."""
    d = x.shape[-1]
    _, _, c = weights(d)
    L = c * cholesky(P)  # columns are the offsets
    offsets = np.swapaxes(L, -1, -2)  # (n, d, d): row i = column i of L
    return np.concatenate([x[:, None, :], x[:, None, :] + offsets, x[:, None, :] - offsets], axis=1)


def moments(X: F64) -> tuple[F64, F64]:
    """Weighted mean (n, d) and deviations (n, s, d) of sigma points (n, s, d)."""
    w0, wi, _ = weights((X.shape[1] - 1) // 2)
    mean = w0 * X[:, 0] + wi * X[:, 1:].sum(axis=1)
    return mean, X - mean[:, None, :]


def weighted_outer(A: F64, B: F64) -> F64:
    """sum_s w_s A_s B_s^T for deviations A (n, s, a) and B (n, s, b)."""
    out: F64 = np.matmul(np.swapaxes(A * _weight_column(A.shape[1]), -1, -2), B)
    return out


def predict(x: F64, P: F64, Q: F64, dt: F64, thrust: F64) -> tuple[F64, F64]:
    """Time update of filters (n, 10) through the flight model (warnlink.track.models)
    over their own dt (n,); thrust (n,) is 1 for a boost model, 0 for a ballistic one."""
    w0, wi, c = weights(x.shape[-1])
    L = cholesky(P)
    mean, cov = _flight_moments(x, L, c, w0, wi, dt, thrust, models.substeps(dt))
    return mean, cov + Q


@njit(cache=True)
def _flight_moments(
    x: F64, L: F64, c: float, w0: float, wi: float, dt: F64, thrust: F64, n_sub: int
) -> tuple[F64, F64]:
    """sigma_points, models.propagate, moments and weighted_outer in one compiled pass,
    filter by filter: in numpy each is several calls on small arrays, which is what cost."""
    n, d = x.shape
    mean, cov = np.empty((n, d)), np.empty((n, d, d))
    Y, work = np.empty((2 * d + 1, d)), np.empty((5, 6))
    for i in range(n):
        Y[0] = x[i]
        for j in range(d):  # column j of c L: the j-th offset
            for e in range(d):
                Y[1 + j, e] = x[i, e] + c * L[i, e, j]
                Y[1 + d + j, e] = x[i, e] - c * L[i, e, j]
        for p in range(2 * d + 1):
            models.step(Y[p], thrust[i], dt[i], n_sub, work)
        for e in range(d):
            total = 0.0
            for p in range(1, 2 * d + 1):
                total += Y[p, e]
            mean[i, e] = w0 * Y[0, e] + wi * total
        Y -= mean[i]
        for a in range(d):
            for b in range(a + 1):
                total = 0.0
                for p in range(1, 2 * d + 1):
                    total += Y[p, a] * Y[p, b]
                cov[i, a, b] = cov[i, b, a] = w0 * Y[0, a] * Y[0, b] + wi * total
    return mean, cov


def measurement_moments(X: F64, Z: F64) -> tuple[F64, F64, F64]:
    """Predicted measurement (n, m), its covariance without noise (n, m, m) and the
    state-measurement cross covariance (n, d, m) from sigma points X and their images Z."""
    _, dx = moments(X)
    zhat, dz = moments(Z)
    return zhat, weighted_outer(dz, dz), weighted_outer(dx, dz)


def log_likelihood(nu: F64, S: F64, S_inv: F64 | None = None) -> tuple[F64, F64]:
    """Squared Mahalanobis distances and Gaussian log densities of innovations nu
    (n, k, M, m) with covariances S (n, k, m, m), one per (n, k) and shared by the M;
    S_inv: their inverses, if the caller has them already."""
    inv = np.linalg.inv(S) if S_inv is None else S_inv
    d2 = np.einsum("nkmi,nkmi->nkm", np.matmul(nu, inv), nu)
    _, logdet = np.linalg.slogdet(S)
    m = nu.shape[-1]
    return d2, -0.5 * (d2 + logdet[..., None] + m * np.log(2.0 * np.pi))
