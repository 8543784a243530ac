"""A batched unscented Kalman filter: every array has a leading axis of filters.

One scan moves all tracks (times both IMM models) through a few compiled loops (numba)
over the filters: as numpy, the same work was dozens of calls on small arrays per scan,
which cost more than the arithmetic. Sigma points are the symmetric set of Julier with
kappa = 1 (positive centre weight, so covariances stay positive).
"""

from __future__ import annotations

import math
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


def cholesky(P: F64) -> F64:
    """Batched lower Cholesky factors (n, d, d) of the symmetric parts of P; if any is not
    positive definite, all are repaired by eigenvalue clipping (as one batch)."""
    L, ok = _cholesky(np.ascontiguousarray(P, np.float64))
    if ok:
        out: F64 = L
        return out
    P = 0.5 * (P + np.swapaxes(P, -1, -2))
    w, v = np.linalg.eigh(P)
    scale = np.maximum(np.abs(w).max(axis=-1, keepdims=True), 1e-300)
    w = np.maximum(w, 1e-12 * scale)
    fixed = np.einsum("...ij,...j,...kj->...ik", v, w, v)
    return np.asarray(np.linalg.cholesky(0.5 * (fixed + np.swapaxes(fixed, -1, -2))), np.float64)


@njit(cache=True)
def _cholesky(P: F64) -> tuple[F64, bool]:
    """Factors of 0.5 (P + P^T), compiled (one numpy call per scan cost more than the
    arithmetic of a few dozen 10 x 10 factors), and whether every one is definite."""
    n, d = P.shape[0], P.shape[1]
    L = np.zeros((n, d, d))
    for i in range(n):
        A, F = P[i], L[i]
        for j in range(d):
            total = 0.5 * (A[j, j] + A[j, j])
            for k in range(j):
                total -= F[j, k] * F[j, k]
            if not total > 0.0:  # also NaN
                return L, False
            F[j, j] = math.sqrt(total)
            for r in range(j + 1, d):
                total = 0.5 * (A[r, j] + A[j, r])
                for k in range(j):
                    total -= F[r, k] * F[j, k]
                F[r, j] = total / F[j, j]
    return L, True


def sigma_points(x: F64, P: F64) -> F64:
    """Sigma points (n, 2d+1, d) of means (n, d) and covariances (n, d, d)."""
    _, _, c = weights(x.shape[-1])
    out: F64 = _spread(x, cholesky(P), c)
    return out


@njit(cache=True)
def _spread(x: F64, L: F64, c: float) -> F64:
    """x, then x plus and minus each column of c L (n, 2d+1, d)."""
    n, d = x.shape
    X = np.empty((n, 2 * d + 1, d))
    for i in range(n):
        _fill(X[i], x[i], L[i], c)
    return X


@njit(cache=True)
def _fill(Y: F64, x: F64, L: F64, c: float) -> None:
    """The sigma points (2d+1, d) of one filter into Y: x, x + c L[:, j], x - c L[:, j]."""
    d = x.shape[0]
    Y[0] = x
    for j in range(d):
        for e in range(d):
            Y[1 + j, e] = x[e] + c * L[e, j]
            Y[1 + d + j, e] = x[e] - c * L[e, j]


@njit(cache=True)
def _centre(Y: F64, w0: float, wi: float, mean: F64) -> None:
    """Weighted mean of sigma points Y (s, d) into mean (d,); Y becomes the deviations."""
    for e in range(Y.shape[1]):
        total = 0.0
        for p in range(1, Y.shape[0]):
            total += Y[p, e]
        mean[e] = w0 * Y[0, e] + wi * total
    Y -= mean


@njit(cache=True)
def _outer(A: F64, B: F64, w0: float, wi: float, out: F64) -> None:
    """sum_s w_s A_s B_s^T of deviations A (s, a) and B (s, b) into out (a, b)."""
    for a in range(A.shape[1]):
        for b in range(B.shape[1]):
            total = 0.0
            for p in range(1, A.shape[0]):
                total += A[p, a] * B[p, b]
            out[a, b] = w0 * A[0, a] * B[0, b] + wi * total


def predict(x: F64, P: F64, Q: F64, dt: F64, thrust: F64) -> tuple[F64, F64]:
    """Time update of filters (n, 10) through the flight model (warnlink.track.models)
    over their own dt (n,); thrust (n,) is 1 for a boost model, 0 for a ballistic one."""
    w0, wi, c = weights(x.shape[-1])
    mean, cov = _flight_moments(x, cholesky(P), c, w0, wi, dt, thrust, models.substeps(dt))
    return mean, cov + Q


@njit(cache=True)
def _flight_moments(
    x: F64, L: F64, c: float, w0: float, wi: float, dt: F64, thrust: F64, n_sub: int
) -> tuple[F64, F64]:
    """Sigma points, models.step, their mean and covariance in one compiled pass, filter
    by filter: in numpy each is several calls on small (n, 21, 10) arrays, which is what
    cost."""
    n, d = x.shape
    mean, cov = np.empty((n, d)), np.empty((n, d, d))
    Y, work = np.empty((2 * d + 1, d)), np.empty((5, 6))
    for i in range(n):
        _fill(Y, x[i], L[i], c)
        for p in range(2 * d + 1):
            models.step(Y[p], thrust[i], dt[i], n_sub, work)
        _centre(Y, w0, wi, mean[i])
        _outer(Y, Y, w0, wi, cov[i])
    return mean, cov


@njit(cache=True)
def moments(X: F64, Z: F64, w0: float, wi: float, xbar: F64, zhat: F64, S: F64, C: F64) -> None:
    """Predicted measurement zhat (m,), its covariance without noise S (m, m) and the
    state-measurement cross covariance C (d, m) of one filter's sigma points X (s, d) and
    their images Z (s, m), written in place; X and Z become deviations, xbar their mean."""
    _centre(X, w0, wi, xbar)
    _centre(Z, w0, wi, zhat)
    _outer(Z, Z, w0, wi, S)
    _outer(X, Z, w0, wi, C)
