"""The batched unscented filter, the IMM and the assignment on small exact cases."""

from __future__ import annotations

import numpy as np

from warnlink.track import imm, ukf
from warnlink.track.associate import assign, innovations, score
from warnlink.track.imm import Switching


def _random_cov(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    A = rng.normal(size=(n, d, d))
    return np.asarray(A @ np.swapaxes(A, 1, 2) + d * np.eye(d))


def test_sigma_points_carry_mean_and_covariance() -> None:
    rng = np.random.default_rng(0)
    x, P = rng.normal(size=(3, 10)), _random_cov(rng, 3, 10)
    X = ukf.sigma_points(x, P)
    mean, dev = ukf.moments(X)
    assert np.allclose(mean, x)
    assert np.allclose(ukf.weighted_outer(dev, dev), P)


def test_linear_update_equals_the_kalman_filter() -> None:
    rng = np.random.default_rng(1)
    n, d, m = 4, 10, 3
    x, P = rng.normal(size=(n, d)), _random_cov(rng, n, d)
    H, R = rng.normal(size=(m, d)), np.diag([1.0, 2.0, 3.0])
    z = rng.normal(size=(n, m))
    X = ukf.sigma_points(x, P)
    zhat, S0, C = ukf.measurement_moments(X, X @ H.T)
    S = S0 + R
    xu, Pu = ukf.gain_update(x, P, C, S, z - zhat)
    for i in range(n):
        Si = H @ P[i] @ H.T + R
        K = P[i] @ H.T @ np.linalg.inv(Si)
        assert np.allclose(xu[i], x[i] + K @ (z[i] - H @ x[i]))
        assert np.allclose(Pu[i], P[i] - K @ Si @ K.T)


def test_cholesky_repairs_a_slightly_indefinite_matrix() -> None:
    P = np.diag([1.0, 1e-6, -1e-12])[None]
    L = ukf.cholesky(P)
    assert np.allclose(L @ np.swapaxes(L, 1, 2), np.diag([1.0, 1e-6, 0.0]), atol=1e-9)


def test_imm_mixing_keeps_the_mixture_and_update_favours_the_likelier_model() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 2, 10))
    P = _random_cov(rng, 4, 10).reshape(2, 2, 10, 10)
    mu = np.array([[0.7, 0.3], [0.2, 0.8]])
    x0, _, cbar = imm.mix(x, P, mu, np.array([1.0, 5.0]), Switching())
    assert np.allclose(cbar.sum(axis=1), 1.0)
    # total mean is preserved by the interaction
    assert np.allclose(np.einsum("nj,njd->nd", cbar, x0), np.einsum("nj,njd->nd", mu, x))
    nu = np.zeros((2, 2, 1))
    S = np.ones((2, 2, 1, 1))
    C = np.zeros((2, 2, 10, 1))
    _, _, mu_new = imm.update(x, P, mu, C, S, nu, np.log([[1.0, 0.01], [1.0, 0.01]]))
    assert (mu_new[:, 0] > mu[:, 0]).all()


def test_innovations_wrap_angles() -> None:
    nu = innovations(np.array([[[0.01]]]), np.array([[[2 * np.pi - 0.01], [0.0]]]), [0])
    assert np.allclose(nu[0, :, 0, 0], [0.02, 0.01])


def test_gating_and_tiers() -> None:
    """Confirmed tracks choose first; a tentative track only gets what they leave."""
    zhat = np.array([[[0.0], [0.0]], [[0.9], [0.9]]])  # track 0 at 0, track 1 at 0.9
    S = np.ones((2, 2, 1, 1))
    z = np.array([[[0.1], [1.0], [40.0]]])
    nu = innovations(z, zhat, [])
    _, cost, feasible = score(nu, S, np.full((2, 2), 0.5), gate=9.0)
    assert not feasible[:, 2].any()  # far plot gated out of every track
    both = assign(cost, feasible, [np.array([0, 1])])
    assert sorted(both) == [(0, 0), (1, 1)]
    # track 1 confirmed, track 0 tentative: track 1 takes its best (plot 1), 0 keeps plot 0
    tiered = assign(cost, feasible, [np.array([1]), np.array([0])])
    assert sorted(tiered) == [(0, 0), (1, 1)]
    # with only one plot between them, the confirmed track gets it even if farther
    one = assign(cost[:, :1], feasible[:, :1], [np.array([1]), np.array([0])])
    assert one == [(1, 0)]
