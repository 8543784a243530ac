"""Interacting multiple model (boost, ballistic) over batches of unscented filters.

A single ballistic filter diverges in boost and a single boost filter is needlessly noisy
after burnout; the IMM keeps both and mixes them, so a track survives burnout and its
boost probability says when the motor stopped. Arrays: x (n, 2, 10), P (n, 2, 10, 10),
mu (n, 2) model probabilities [boost, ballistic].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from warnlink.geo.frames import A_WGS84
from warnlink.track import ukf
from warnlink.track.models import (
    BALLISTIC,
    BOOST,
    DRAG_TOP_M,
    N_MODELS,
    ProcessNoise,
    process_noise,
)
from warnlink.track.state import ACC, LOG_K, POS

F64 = NDArray[np.float64]
THRUST_OFF_VAR = 1e-4  # (m/s^2)^2: the ballistic model's thrust is zero, this keeps P definite


@dataclass(frozen=True)
class Switching:
    """Mean sojourn times (s) of the Markov chain between the flight models.

    boost_s: mean remaining burn; reignite_s: a coasting object starting to thrust again
    (staging gaps: the next stage lights after a coast of seconds). Relighting is allowed
    only within reignite_window_s of the motor last seen burning: a ballistic missile's
    coast after its last stage is free flight, and a boost model kept alive there would
    blur the coasting state with thrust that never comes. Once the boost model's
    probability falls below DROP_PROBABILITY outside that window it is dropped for good.
    """

    boost_s: float = 60.0
    reignite_s: float = 600.0
    reignite_window_s: float = 20.0  # staging coasts last seconds (physics.ascent: 2 s)


DROP_PROBABILITY = 1e-6
AIR_MARGIN_M = 20e3  # a step starting this far above the drag top may still reach the air
_THRUST_OFF_COV = THRUST_OFF_VAR * np.eye(3)


def transition(dt: F64, sw: Switching, can_relight: NDArray[np.bool_]) -> F64:
    """Model transition matrices (n, 2, 2), rows = from, columns = to."""
    p_off = 1.0 - np.exp(-dt / sw.boost_s)
    p_on = np.where(can_relight, 1.0 - np.exp(-dt / sw.reignite_s), 0.0)
    out = np.empty((dt.shape[0], 2, 2))
    out[:, BOOST, BOOST], out[:, BOOST, BALLISTIC] = 1.0 - p_off, p_off
    out[:, BALLISTIC, BOOST], out[:, BALLISTIC, BALLISTIC] = p_on, 1.0 - p_on
    return out


def mix(
    x: F64, P: F64, mu: F64, dt: F64, sw: Switching, can_relight: NDArray[np.bool_]
) -> tuple[F64, F64, F64]:
    """IMM interaction: mixed initial conditions per model and predicted model probabilities."""
    joint = mu[:, :, None] * transition(dt, sw, can_relight)  # (n, from, to)
    cbar = np.maximum(joint.sum(axis=1), 1e-300)
    w = joint / cbar[:, None, :]  # (n, from, to)
    x0 = _mixture(w, x)
    dev = x[:, :, None, :] - x0[:, None, :, :]  # (n, from, to, d)
    wdev = (w[..., None] * dev).transpose(0, 2, 3, 1)  # (n, to, d, from)
    P0 = wdev @ np.swapaxes(dev, 1, 2) + _mixture(w, P)
    return x0, P0, cbar


def _mixture(w: F64, a: F64) -> F64:
    """sum_i w[n, i, j] a[n, i, ...] (n, j, ...) of weights w (n, i, j), as one batched
    matrix product: an einsum loops over the few models in C without BLAS and costs a
    few times more per scan."""
    n, i = a.shape[:2]
    out: F64 = (np.swapaxes(w, 1, 2) @ a.reshape(n, i, -1)).reshape(n, -1, *a.shape[2:])
    return out


def predict(
    x: F64,
    P: F64,
    mu: F64,
    dt: F64,
    q: ProcessNoise,
    sw: Switching,
    since_boost: F64,
) -> tuple[F64, F64, F64]:
    """Mix, then predict the live models of every track over its own dt (n,).

    since_boost (n,): time since each track's motor was last seen burning. A dropped
    boost model (probability exactly 0) is not propagated: its slot mirrors the
    ballistic model, so the arrays keep their shape and the update needs no special case.
    """
    n = x.shape[0]
    can_relight = since_boost < sw.reignite_window_s
    if can_relight.any() or mu[:, BOOST].any():
        x0, P0, cbar = mix(x, P, mu, dt, sw, can_relight)
    else:  # every boost model dropped for good (about half the scans): mixing is the identity
        x0, P0, cbar = x.copy(), P.copy(), mu.copy()
    dropped = ~can_relight & (cbar[:, BOOST] < DROP_PROBABILITY)
    cbar[dropped] = [0.0, 1.0]
    x0[:, BALLISTIC, ACC] = 0.0
    P0[:, BALLISTIC, ACC, :] = 0.0
    P0[:, BALLISTIC, :, ACC] = 0.0
    P0[:, BALLISTIC, ACC, ACC] = _THRUST_OFF_COV
    boost = np.flatnonzero(~dropped)
    nb = boost.size
    xs, Ps = _live_filters(x0, boost), _live_filters(P0, boost)
    dts = np.concatenate([dt[boost], dt])
    Q = np.concatenate([process_noise(dts[:nb], BOOST, q), process_noise(dt, BALLISTIC, q)])
    # k drifts only where drag acts (Mach number, attitude); above the air nothing can
    # change it, and a walk there would only blur a coefficient no sensor can observe
    r2 = np.einsum("ni,ni->n", xs[:, POS], xs[:, POS])
    Q[r2 > (A_WGS84 + DRAG_TOP_M + AIR_MARGIN_M) ** 2, LOG_K, LOG_K] = 0.0
    thrust = np.zeros(nb + n)
    thrust[:nb] = 1.0
    xm, Pm = ukf.predict(xs, Ps, Q, dts, thrust)
    return _by_track(xm, boost), _by_track(Pm, boost), cbar


def _live_filters(a: F64, boost: NDArray[np.intp]) -> F64:
    """The rows of a (n, 2, ...) whose filters run, model-major: the boost models of the
    tracks boost, then every ballistic model. Stacking by model costs a few calls per
    scan where a mask over (track, model) pairs costs several fancy indexings."""
    return np.concatenate([a[boost, BOOST], a[:, BALLISTIC]])


def _by_track(a: F64, boost: NDArray[np.intp]) -> F64:
    """Rows of _live_filters back to (n, 2, ...); a dropped boost model mirrors the
    ballistic one."""
    nb = boost.size
    out = np.empty((a.shape[0] - nb, N_MODELS, *a.shape[1:]))
    out[:] = a[nb:, None]
    out[boost, BOOST] = a[:nb]
    return out


def measure(
    x: F64, P: F64, mu: F64, h: Callable[[F64, NDArray[np.intp]], F64]
) -> tuple[F64, F64, F64]:
    """Predicted measurements (n, 2, m), their covariances without noise (n, 2, m, m) and
    cross covariances (n, 2, 10, m) of both models; h maps sigma points (k, s, 10) of the
    tracks (k,) to measurements (k, s, m), already unwrapped about each filter's centre
    point. A dropped model (mu 0) gets the ballistic model's values, which its state
    mirrors."""
    boost = np.flatnonzero(mu[:, BOOST] > 0.0)
    X = ukf.sigma_points(_live_filters(x, boost), _live_filters(P, boost))
    Z = h(X, np.concatenate([boost, np.arange(x.shape[0])]))
    zl, Sl, Cl = ukf.measurement_moments(X, Z)
    return _by_track(zl, boost), _by_track(Sl, boost), _by_track(Cl, boost)


def update(
    x: F64,
    P: F64,
    mu: F64,
    C: F64,
    S: F64,
    nu: F64,
    loglik: F64,
    beta: F64 | None,
    S_inv: F64 | None = None,
) -> tuple[F64, F64, F64]:
    """Probabilistic-data-association update of both models of n tracks.

    nu (n, 2, J, m) and loglik (n, 2, J): innovations and per-model log likelihoods of J
    candidate plots per track; beta (n, J): their association probabilities, and
    1 - sum(beta) that none is the track's; None: one plot each (J = 1), assigned
    outright, for which the terms of the other candidates and of none vanish.
    The covariance grows by the spread of the candidates (association uncertainty made
    honest), and each model's probability is its posterior averaged over the candidates.
    S_inv: the inverses of S, if the caller has them (gating needed them).
    """
    inv = np.linalg.inv(S) if S_inv is None else S_inv
    weights = np.ones((x.shape[0], 1)) if beta is None else beta
    x_new, P_new = _kalman(x, P, C, np.ascontiguousarray(inv), nu, weights)
    logw = np.log(np.maximum(mu, 1e-300))[:, :, None] + loglik  # (n, 2, J)
    logw -= logw.max(axis=1, keepdims=True)
    w = np.exp(logw)
    posterior = w / w.sum(axis=1, keepdims=True)  # model given candidate j
    if beta is None:
        mu_new = posterior[:, :, 0]
    else:
        mu_new = (1.0 - beta.sum(axis=1))[:, None] * mu + (posterior @ beta[:, :, None])[..., 0]
    # a floor keeps a live model able to win again; a dropped one (mu 0) stays at 0
    mu_new = np.where(mu > 0.0, np.maximum(mu_new, 1e-12), 0.0)
    mu_new /= mu_new.sum(axis=1, keepdims=True)
    return x_new, P_new, mu_new


@njit(cache=True)
def _times_transpose(A: F64, B: F64, out: F64) -> None:
    """out = A B^T, written in place (compiled; no temporaries in _kalman's loop)."""
    for a in range(A.shape[0]):
        for c in range(B.shape[0]):
            total = 0.0
            for e in range(A.shape[1]):
                total += A[a, e] * B[c, e]
            out[a, c] = total


@njit(cache=True)
def _kalman(x: F64, P: F64, C: F64, S_inv: F64, nu: F64, beta: F64) -> tuple[F64, F64]:
    """update's states and covariances, filter by filter (compiled: the batched products
    of (n, 2, 10, m) arrays cost far more in numpy calls than in arithmetic). With one
    candidate of weight 1 the spread is exactly zero: the plain Kalman update."""
    n, k_models, d = x.shape
    m, J = C.shape[3], nu.shape[2]
    x_new, P_new = np.empty_like(x), np.empty_like(P)
    K, Pn = np.empty((d, m)), np.empty((d, d))
    nu_bar, spread, Ks = np.empty(m), np.empty((m, m)), np.empty((d, m))
    for i in range(n):
        b = 0.0
        for j in range(J):
            b += beta[i, j]
        for k in range(k_models):
            Ci, Si = C[i, k], S_inv[i, k]
            _times_transpose(Ci, Si, K)  # K = C S_inv^T
            for c in range(m):
                total = 0.0
                for j in range(J):
                    total += beta[i, j] * nu[i, k, j, c]
                nu_bar[c] = total
            for c in range(m):
                for e in range(m):
                    total = 0.0
                    for j in range(J):
                        total += beta[i, j] * nu[i, k, j, c] * nu[i, k, j, e]
                    spread[c, e] = total - nu_bar[c] * nu_bar[e]
            _times_transpose(K, spread, Ks)  # K spread (spread is symmetric)
            for a in range(d):
                total = 0.0
                for c in range(m):
                    total += K[a, c] * nu_bar[c]
                x_new[i, k, a] = x[i, k, a] + total
                for r in range(d):
                    kct, ksk = 0.0, 0.0
                    for c in range(m):
                        kct += K[a, c] * Ci[r, c]
                        ksk += Ks[a, c] * K[r, c]
                    Pn[a, r] = P[i, k, a, r] - b * kct + ksk
            for a in range(d):
                for r in range(d):
                    P_new[i, k, a, r] = 0.5 * (Pn[a, r] + Pn[r, a])
    return x_new, P_new


def combine(x: F64, P: F64, mu: F64) -> tuple[F64, F64]:
    """Moment-matched single Gaussian (n, 10), (n, 10, 10) of the model mixture."""
    w = mu[:, :, None]
    xc = _mixture(w, x)[:, 0]
    dev = x - xc[:, None, :]
    Pc = _mixture(w, P)[:, 0] + np.swapaxes(w * dev, 1, 2) @ dev
    return xc, Pc
