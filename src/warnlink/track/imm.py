"""Interacting multiple model (boost, ballistic) over batches of unscented filters.

A single ballistic filter diverges in boost and a single boost filter is needlessly noisy
after burnout; the IMM keeps both and mixes them, so a track survives burnout and its
boost probability says when the motor stopped. Arrays: x (n, 2, 10), P (n, 2, 10, 10),
mu (n, 2) model probabilities [boost, ballistic].
"""

from __future__ import annotations

import math
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
    earth_rotation,
    infrared_row,
    process_noise,
    radar_row,
    wrap_angle,
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
_ACC_FIRST, _ACC_END = ACC.start, ACC.stop  # ints: compiled code takes no slices


def mix(
    x: F64, P: F64, mu: F64, dt: F64, sw: Switching, can_relight: NDArray[np.bool_]
) -> tuple[F64, F64, F64]:
    """IMM interaction: mixed initial conditions per model and predicted model
    probabilities, over the Markov chain of sw (relighting only where can_relight)."""
    out: tuple[F64, F64, F64] = _mix(x, P, mu, dt, sw.boost_s, sw.reignite_s, can_relight)
    return out


@njit(cache=True)
def _mix(
    x: F64, P: F64, mu: F64, dt: F64, boost_s: float, reignite_s: float,
    can_relight: NDArray[np.bool_],
) -> tuple[F64, F64, F64]:  # fmt: skip
    """mix track by track (compiled: as numpy, a dozen calls on small arrays a scan).
    T[from, to] is the transition matrix over dt, w[from, to] the mixing weights."""
    n, k_models, d = x.shape
    x0, P0, cbar = np.empty_like(x), np.empty_like(P), np.empty_like(mu)
    T, w = np.empty((k_models, k_models)), np.empty((k_models, k_models))
    for i in range(n):
        p_off = 1.0 - math.exp(-dt[i] / boost_s)
        p_on = 1.0 - math.exp(-dt[i] / reignite_s) if can_relight[i] else 0.0
        T[BOOST, BOOST], T[BOOST, BALLISTIC] = 1.0 - p_off, p_off
        T[BALLISTIC, BOOST], T[BALLISTIC, BALLISTIC] = p_on, 1.0 - p_on
        for to in range(k_models):
            total = 0.0
            for f in range(k_models):
                w[f, to] = mu[i, f] * T[f, to]
                total += w[f, to]
            cbar[i, to] = max(total, 1e-300)
            for f in range(k_models):
                w[f, to] /= cbar[i, to]
            for e in range(d):
                total = 0.0
                for f in range(k_models):
                    total += w[f, to] * x[i, f, e]
                x0[i, to, e] = total
            for a in range(d):
                for b in range(d):
                    total = 0.0
                    for f in range(k_models):
                        dev = (x[i, f, a] - x0[i, to, a]) * (x[i, f, b] - x0[i, to, b])
                        total += w[f, to] * (dev + P[i, f, a, b])
                    P0[i, to, a, b] = total
    return x0, P0, cbar


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
    can_relight = since_boost < sw.reignite_window_s
    x0, P0, cbar = mix(x, P, mu, dt, sw, can_relight)
    xs, Ps, dts, thrust, boost = _live_filters(x0, P0, cbar, dt, can_relight)
    Q = process_noise(dts, thrust, q)
    # k drifts only where drag acts (Mach number, attitude); above the air nothing can
    # change it, and a walk there would only blur a coefficient no sensor can observe
    r2 = np.einsum("ni,ni->n", xs[:, POS], xs[:, POS])
    Q[r2 > (A_WGS84 + DRAG_TOP_M + AIR_MARGIN_M) ** 2, LOG_K, LOG_K] = 0.0
    xm, Pm = ukf.predict(xs, Ps, Q, dts, thrust)
    return _by_track(xm, boost), _by_track(Pm, boost), cbar


@njit(cache=True)
def _live_filters(
    x0: F64, P0: F64, cbar: F64, dt: F64, can_relight: NDArray[np.bool_]
) -> tuple[F64, F64, F64, F64, NDArray[np.intp]]:
    """The filters that run, model-major: the boost models of the tracks boost (those
    not dropped for good, whose cbar becomes [0, 1] here), then every ballistic model
    with its thrust forced off; their dt and thrust flags (compiled, one pass)."""
    n, _, d = x0.shape
    dropped = np.empty(n, np.bool_)
    for i in range(n):
        dropped[i] = not can_relight[i] and cbar[i, BOOST] < DROP_PROBABILITY
        if dropped[i]:
            cbar[i, BOOST], cbar[i, BALLISTIC] = 0.0, 1.0
    boost = np.flatnonzero(~dropped)
    nb = boost.size
    xs, Ps = np.empty((nb + n, d)), np.empty((nb + n, d, d))
    dts, thrust = np.empty(nb + n), np.zeros(nb + n)
    for j in range(nb):
        xs[j], Ps[j] = x0[boost[j], BOOST], P0[boost[j], BOOST]
        dts[j], thrust[j] = dt[boost[j]], 1.0
    for i in range(n):
        j = nb + i
        xs[j], Ps[j], dts[j] = x0[i, BALLISTIC], P0[i, BALLISTIC], dt[i]
        for a in range(_ACC_FIRST, _ACC_END):
            xs[j, a] = 0.0
            for b in range(d):
                Ps[j, a, b] = Ps[j, b, a] = 0.0
            Ps[j, a, a] = THRUST_OFF_VAR
    return xs, Ps, dts, thrust, boost


def _by_track(a: F64, boost: NDArray[np.intp]) -> F64:
    """Rows of _live_filters back to (n, 2, ...); a dropped boost model mirrors the
    ballistic one."""
    nb = boost.size
    out = np.empty((a.shape[0] - nb, N_MODELS, *a.shape[1:]))
    out[:] = a[nb:, None]
    out[boost, BOOST] = a[:nb]
    return out


def measure_radar(
    x: F64, P: F64, mu: F64, t: float, site: F64, basis: F64, range_rate: bool
) -> tuple[F64, F64, F64]:
    """Predicted radar measurements [range, az, el(, range rate)] (n, 2, m) of both
    models, their covariances without noise (n, 2, m, m) and cross covariances
    (n, 2, 10, m); each filter's azimuths are unwrapped about its centre point. basis:
    the site's east, north, up rows (models.radar_h)."""
    return _measure(x, P, mu, t, site, basis[None], np.zeros((0, 3)), 4 if range_rate else 3)


def measure_infrared(
    x: F64, P: F64, mu: F64, t: float, sat: F64, centre: F64, basis: F64
) -> tuple[F64, F64, F64]:
    """As measure_radar for an infrared satellite at sat (ECEF): gnomonic coordinates (2,)
    about each track's centre line of sight (n, 3) with its tangent basis (n, 2, 3)
    (models.tangent_coords)."""
    return _measure(x, P, mu, t, sat, basis, centre, 2)


def _measure(
    x: F64, P: F64, mu: F64, t: float, site: F64, basis: F64, centre: F64, m: int
) -> tuple[F64, F64, F64]:
    """Sigma points of every filter (a dropped model's mirror the ballistic one's, which
    costs less than picking the live ones out and back), then one compiled pass."""
    n, k, d = x.shape
    X = ukf.sigma_points(x.reshape(n * k, d), P.reshape(n * k, d, d)).reshape(n, k, -1, d)
    w0, wi, _ = ukf.weights(d)
    c, s = earth_rotation(t)
    out: tuple[F64, F64, F64] = _measure_moments(
        X, mu[:, BOOST] > 0.0, w0, wi, c, s, site, basis, centre, m
    )
    return out


@njit(cache=True)
def _measure_moments(
    X: F64, live: NDArray[np.bool_], w0: float, wi: float, c: float, s: float, site: F64,
    basis: F64, centre: F64, m: int,
) -> tuple[F64, F64, F64]:  # fmt: skip
    """The measurement moments of filters (n, 2) from their sigma points X (n, 2, s, d),
    filter by filter (compiled: as numpy, the sensor function, the unwrapping and the
    moments were a dozen calls on small arrays per scan). centre empty: radar (basis
    (1, 3, 3)); else infrared (basis (n, 2, 3)). A dropped boost model (live False) gets
    the ballistic model's values, which its state mirrors."""
    n, k_models, n_pts, d = X.shape
    infrared = centre.shape[0] > 0
    zhat, S = np.empty((n, k_models, m)), np.empty((n, k_models, m, m))
    C = np.empty((n, k_models, d, m))
    Z, xbar = np.empty((n_pts, m)), np.empty(d)
    for i in range(n):
        for k in range(k_models):
            if k == BOOST and not live[i]:
                continue
            Y = X[i, k]  # becomes the deviations
            for p in range(n_pts):
                if infrared:
                    infrared_row(Y[p], c, s, site, centre[i], basis[i], Z[p])
                else:
                    radar_row(Y[p], c, s, site, basis[0], Z[p])
                    Z[p, 1] = Z[0, 1] + wrap_angle(Z[p, 1] - Z[0, 1])
            ukf.moments(Y, Z, w0, wi, xbar, zhat[i, k], S[i, k], C[i, k])
        if not live[i]:
            zhat[i, BOOST] = zhat[i, BALLISTIC]
            S[i, BOOST] = S[i, BALLISTIC]
            C[i, BOOST] = C[i, BALLISTIC]
    return zhat, S, C


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
    out: tuple[F64, F64, F64] = _kalman(x, P, mu, C, np.ascontiguousarray(inv), nu, loglik, weights)
    return out


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
def _kalman(
    x: F64, P: F64, mu: F64, C: F64, S_inv: F64, nu: F64, loglik: F64, beta: F64
) -> tuple[F64, F64, F64]:
    """update, track by track and filter by filter (compiled: the batched products of
    (n, 2, 10, m) arrays cost far more in numpy calls than in arithmetic). With one
    candidate of weight 1 the spread is exactly zero: the plain Kalman update, and the
    model probabilities are the posterior of that candidate."""
    n, k_models, d = x.shape
    m, J = C.shape[3], nu.shape[2]
    x_new, P_new, mu_new = np.empty_like(x), np.empty_like(P), np.empty_like(mu)
    logw = np.empty(k_models)
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
        # each model's posterior given candidate j, averaged over the candidates
        for k in range(k_models):
            mu_new[i, k] = (1.0 - b) * mu[i, k]
        for j in range(J):
            top = -np.inf
            for k in range(k_models):
                logw[k] = math.log(max(mu[i, k], 1e-300)) + loglik[i, k, j]
                top = max(top, logw[k])
            total = 0.0
            for k in range(k_models):
                logw[k] = math.exp(logw[k] - top)
                total += logw[k]
            for k in range(k_models):
                mu_new[i, k] += beta[i, j] * (logw[k] / total)
        # a floor keeps a live model able to win again; a dropped one (mu 0) stays at 0
        total = 0.0
        for k in range(k_models):
            mu_new[i, k] = max(mu_new[i, k], 1e-12) if mu[i, k] > 0.0 else 0.0
            total += mu_new[i, k]
        for k in range(k_models):
            mu_new[i, k] /= total
    return x_new, P_new, mu_new


def combine(x: F64, P: F64, mu: F64) -> tuple[F64, F64]:
    """Moment-matched single Gaussian (n, 10), (n, 10, 10) of the model mixture."""
    out: tuple[F64, F64] = _combine(x, P, mu)
    return out


@njit(cache=True)
def _combine(x: F64, P: F64, mu: F64) -> tuple[F64, F64]:
    """combine track by track (compiled: as numpy, several calls on small arrays, and the
    tracker combines a few times per scan)."""
    n, k_models, d = x.shape
    xc, Pc = np.empty((n, d)), np.empty((n, d, d))
    for i in range(n):
        for e in range(d):
            total = 0.0
            for k in range(k_models):
                total += mu[i, k] * x[i, k, e]
            xc[i, e] = total
        for a in range(d):
            for b in range(d):
                total = 0.0
                for k in range(k_models):
                    dev = (x[i, k, a] - xc[i, a]) * (x[i, k, b] - xc[i, b])
                    total += mu[i, k] * (P[i, k, a, b] + dev)
                Pc[i, a, b] = total
    return xc, Pc
