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
from numpy.typing import NDArray

from warnlink.track import ukf
from warnlink.track.models import BALLISTIC, BOOST, N_MODELS, ProcessNoise, process_noise, propagate
from warnlink.track.state import ACC, N_STATE

F64 = NDArray[np.float64]
THRUST_OFF_VAR = 1e-4  # (m/s^2)^2: the ballistic model's thrust is zero, this keeps P definite


@dataclass(frozen=True)
class Switching:
    """Mean sojourn times (s) of the Markov chain between the flight models.

    boost_s: mean remaining burn; reignite_s: a coasting object starting to thrust again
    (staging gaps: the next stage lights after a coast of seconds).
    """

    boost_s: float = 60.0
    reignite_s: float = 600.0


def transition(dt: F64, sw: Switching) -> F64:
    """Model transition matrices (n, 2, 2), rows = from, columns = to."""
    p_off = 1.0 - np.exp(-dt / sw.boost_s)
    p_on = 1.0 - np.exp(-dt / sw.reignite_s)
    out = np.empty((dt.shape[0], 2, 2))
    out[:, BOOST, BOOST], out[:, BOOST, BALLISTIC] = 1.0 - p_off, p_off
    out[:, BALLISTIC, BOOST], out[:, BALLISTIC, BALLISTIC] = p_on, 1.0 - p_on
    return out


def mix(x: F64, P: F64, mu: F64, dt: F64, sw: Switching) -> tuple[F64, F64, F64]:
    """IMM interaction: mixed initial conditions per model and predicted model probabilities."""
    joint = mu[:, :, None] * transition(dt, sw)  # (n, from, to)
    cbar = np.maximum(joint.sum(axis=1), 1e-300)
    w = joint / cbar[:, None, :]  # (n, from, to)
    x0 = np.einsum("nij,nid->njd", w, x)
    dev = x[:, :, None, :] - x0[:, None, :, :]  # (n, from, to, d)
    P0 = np.einsum("nij,nijd,nije->njde", w, dev, dev) + np.einsum("nij,nide->njde", w, P)
    return x0, P0, cbar


def predict(
    x: F64, P: F64, mu: F64, dt: F64, q: ProcessNoise, sw: Switching
) -> tuple[F64, F64, F64]:
    """Mix, then predict both models of every track over its own dt (n,)."""
    n = x.shape[0]
    x0, P0, cbar = mix(x, P, mu, dt, sw)
    x0[:, BALLISTIC, ACC] = 0.0
    P0[:, BALLISTIC, ACC, :] = 0.0
    P0[:, BALLISTIC, :, ACC] = 0.0
    P0[:, BALLISTIC, ACC, ACC] = THRUST_OFF_VAR * np.eye(3)
    Q = np.stack([process_noise(dt, BOOST, q), process_noise(dt, BALLISTIC, q)], axis=1)
    s = 2 * N_STATE + 1
    thrust = np.repeat(np.tile([1.0, 0.0], n), s)
    dts = np.repeat(np.repeat(dt, N_MODELS), s)
    xp, Pp = ukf.predict(
        x0.reshape(n * N_MODELS, N_STATE),
        P0.reshape(n * N_MODELS, N_STATE, N_STATE),
        Q.reshape(n * N_MODELS, N_STATE, N_STATE),
        lambda X: propagate(X, dts, thrust),
    )
    return xp.reshape(n, N_MODELS, N_STATE), Pp.reshape(n, N_MODELS, N_STATE, N_STATE), cbar


def measure(x: F64, P: F64, h: Callable[[F64], F64]) -> tuple[F64, F64, F64]:
    """Predicted measurements (n, 2, m), their covariances without noise (n, 2, m, m) and
    cross covariances (n, 2, 10, m) of both models; h maps sigma points (n*2, s, 10) to
    measurements (n*2, s, m), already unwrapped about each filter's centre point."""
    n = x.shape[0]
    X = ukf.sigma_points(x.reshape(n * N_MODELS, N_STATE), P.reshape(n * N_MODELS, N_STATE, -1))
    Z = h(X)
    zhat, S, C = ukf.measurement_moments(X, Z)
    m = Z.shape[-1]
    return (
        zhat.reshape(n, N_MODELS, m),
        S.reshape(n, N_MODELS, m, m),
        C.reshape(n, N_MODELS, N_STATE, m),
    )


def update(x: F64, P: F64, mu: F64, C: F64, S: F64, nu: F64, loglik: F64) -> tuple[F64, F64, F64]:
    """Update both models of n tracks with innovations nu (n, 2, m) and their log
    likelihoods (n, 2); returns new x, P and model probabilities."""
    n, _, m = nu.shape
    xn, Pn = ukf.gain_update(
        x.reshape(n * N_MODELS, N_STATE),
        P.reshape(n * N_MODELS, N_STATE, N_STATE),
        C.reshape(n * N_MODELS, N_STATE, m),
        S.reshape(n * N_MODELS, m, m),
        nu.reshape(n * N_MODELS, m),
    )
    logw = np.log(np.maximum(mu, 1e-300)) + loglik
    logw -= logw.max(axis=1, keepdims=True)
    w = np.exp(logw)
    mu_new = np.clip(w / w.sum(axis=1, keepdims=True), 1e-6, 1.0 - 1e-6)
    return (
        xn.reshape(n, N_MODELS, N_STATE),
        Pn.reshape(n, N_MODELS, N_STATE, N_STATE),
        mu_new,
    )


def combine(x: F64, P: F64, mu: F64) -> tuple[F64, F64]:
    """Moment-matched single Gaussian (n, 10), (n, 10, 10) of the model mixture."""
    xc = np.einsum("nj,njd->nd", mu, x)
    dev = x - xc[:, None, :]
    Pc = np.einsum("nj,njde->nde", mu, P) + np.einsum("nj,njd,nje->nde", mu, dev, dev)
    return xc, Pc
