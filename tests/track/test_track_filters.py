"""The batched unscented filter, the IMM and the assignment on small exact cases."""

from __future__ import annotations

import numpy as np

from warnlink.track import imm, ukf
from warnlink.track.associate import assign, claimed_plots, jpda, score
from warnlink.track.imm import Switching


def _random_cov(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    A = rng.normal(size=(n, d, d))
    return np.asarray(A @ np.swapaxes(A, 1, 2) + d * np.eye(d))


def _moments(X: np.ndarray, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ukf.moments of every filter of sigma points X (n, s, d) and images Z (n, s, m)."""
    n, _, d = X.shape
    m = Z.shape[2]
    w0, wi, _ = ukf.weights(d)
    zhat, S, C = np.empty((n, m)), np.empty((n, m, m)), np.empty((n, d, m))
    for i in range(n):
        ukf.moments(X[i].copy(), Z[i].copy(), w0, wi, np.empty(d), zhat[i], S[i], C[i])
    return zhat, S, C


def test_sigma_points_carry_mean_and_covariance() -> None:
    rng = np.random.default_rng(0)
    x, P = rng.normal(size=(3, 10)), _random_cov(rng, 3, 10)
    X = ukf.sigma_points(x, P)
    mean, cov, cross = _moments(X, X)  # the identity as the measurement
    assert np.allclose(mean, x)
    assert np.allclose(cov, P)
    assert np.allclose(cross, P)


def test_linear_update_equals_the_kalman_filter() -> None:
    rng = np.random.default_rng(1)
    n, d, m = 4, 10, 3
    x, P = rng.normal(size=(n, d)), _random_cov(rng, n, d)
    H, R = rng.normal(size=(m, d)), np.diag([1.0, 2.0, 3.0])
    z = rng.normal(size=(n, m))
    X = ukf.sigma_points(x, P)
    zhat, S0, C = _moments(X, X @ H.T)
    S = S0 + R
    # one sure candidate per track: the IMM-PDA update reduces to the Kalman update
    two = (n, 2)
    xs, Ps, _ = imm.update(
        np.broadcast_to(x[:, None], (*two, d)).copy(),
        np.broadcast_to(P[:, None], (*two, d, d)).copy(),
        np.full(two, 0.5), np.broadcast_to(C[:, None], (*two, d, m)).copy(),
        np.broadcast_to(S[:, None], (*two, m, m)).copy(),
        np.broadcast_to((z - zhat)[:, None, None], (n, 2, 1, m)).copy(), np.zeros((*two, 1)),
        np.ones((n, 1)),
    )  # fmt: skip
    xu, Pu = xs[:, 0], Ps[:, 1]
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
    x0, _, cbar = imm.mix(x, P, mu, np.array([1.0, 5.0]), Switching(), np.array([True, True]))
    assert np.allclose(cbar.sum(axis=1), 1.0)
    # total mean is preserved by the interaction
    assert np.allclose(np.einsum("nj,njd->nd", cbar, x0), np.einsum("nj,njd->nd", mu, x))
    nu = np.zeros((2, 2, 1, 1))
    S = np.ones((2, 2, 1, 1))
    C = np.zeros((2, 2, 10, 1))
    loglik = np.log([[1.0, 0.01], [1.0, 0.01]])[:, :, None]
    _, _, mu_new = imm.update(x, P, mu, C, S, nu, loglik, np.ones((2, 1)))
    assert (mu_new[:, 0] > mu[:, 0]).all()


def test_pda_update_matches_the_textbook_formula() -> None:
    """Bar-Shalom's PDA: x + K nu_bar, P - (1 - b0) K S K' + K (spread of the nu) K'."""
    rng = np.random.default_rng(5)
    d, m, J = 4, 2, 3
    P1 = _random_cov(rng, 1, d)[0]
    H = rng.normal(size=(m, d))
    R = np.diag([0.3, 0.5])
    S1, C1 = H @ P1 @ H.T + R, P1 @ H.T
    nus = rng.normal(size=(J, m))
    b = np.array([0.5, 0.2, 0.1])  # 0.2 that none is the track's
    K = C1 @ np.linalg.inv(S1)
    nb = b @ nus
    spread = np.einsum("j,ji,jk->ik", b, nus, nus) - np.outer(nb, nb)
    P_ref = P1 - b.sum() * K @ S1 @ K.T + K @ spread @ K.T
    x1 = rng.normal(size=d)
    stack = np.broadcast_to
    xn, Pn, mu_n = imm.update(
        stack(x1, (1, 2, d)).copy(), stack(P1, (1, 2, d, d)).copy(), np.array([[0.5, 0.5]]),
        stack(C1, (1, 2, d, m)).copy(), stack(S1, (1, 2, m, m)).copy(),
        stack(nus, (1, 2, J, m)).copy(), np.zeros((1, 2, J)), b[None],
    )  # fmt: skip
    assert np.allclose(xn[0, 0], x1 + K @ nb) and np.allclose(Pn[0, 1], P_ref)
    assert np.allclose(mu_n, 0.5)  # equal likelihoods leave the models as they were
    # the association doubt makes the covariance larger than a sure update with nu_bar
    grown = np.linalg.eigvalsh(Pn[0, 0] - (P1 - K @ S1 @ K.T))
    assert grown.min() > -1e-9 and grown.max() > 0.1


def test_innovations_wrap_angles() -> None:
    zhat, S = np.array([[[2 * np.pi - 0.01], [0.0]]]), np.ones((1, 2, 1, 1))
    nu, *_ = score(np.array([[[0.01]]]), zhat, S, np.full((1, 2), 0.5), 9.0, angle_col=0)
    assert np.allclose(nu[0, :, 0, 0], [0.02, 0.01])
    unwrapped, *_ = score(np.array([[[0.01]]]), zhat, S, np.full((1, 2), 0.5), 9.0)
    assert np.allclose(unwrapped[0, :, 0, 0], [0.02 - 2 * np.pi, 0.01])


def test_gating_and_tiers() -> None:
    """Confirmed tracks choose first; a tentative track only gets what they leave."""
    zhat = np.array([[[0.0], [0.0]], [[0.9], [0.9]]])  # track 0 at 0, track 1 at 0.9
    S = np.ones((2, 2, 1, 1))
    z = np.array([[[0.1], [1.0], [40.0]]])
    *_, cost, feasible = score(z, zhat, S, np.full((2, 2), 0.5), gate=9.0)
    assert not feasible[:, 2].any()  # far plot gated out of every track
    both = assign(cost, feasible, [np.array([0, 1])])
    assert sorted(both) == [(0, 0), (1, 1)]
    # track 1 confirmed, track 0 tentative: track 1 takes its best (plot 1), 0 keeps plot 0
    tiered = assign(cost, feasible, [np.array([1]), np.array([0])])
    assert sorted(tiered) == [(0, 0), (1, 1)]
    # with only one plot between them, the confirmed track gets it even if farther
    one = assign(cost[:, :1], feasible[:, :1], [np.array([1]), np.array([0])])
    assert one == [(1, 0)]


def test_jpda_splits_ambiguous_plots_and_leaves_clear_ones_alone() -> None:
    """Two confirmed tracks between two plots: each plot half each's; one far track: no JPDA."""
    # cost = -log likelihood; tracks 0 and 1 see plots 0 and 1 alike, track 2 only plot 2
    cost = np.array([[1.0, 1.0, 50.0], [1.0, 1.0, 50.0], [50.0, 50.0, 1.0]])
    feasible = cost < 10.0
    rows, beta = jpda(cost, feasible, np.arange(3), pd=0.95, log_clutter=-20.0)
    assert sorted(rows.tolist()) == [0, 1]  # track 2 shares nothing: left to GNN
    assert np.allclose(beta[:, :2], 0.5, atol=1e-6) and np.allclose(beta[:, 2], 0.0)
    # one plot clearly nearer each track: the marginals follow, and sum to at most 1
    cost2 = np.array([[1.0, 6.0], [6.0, 1.0]])
    _, beta2 = jpda(cost2, cost2 < 10.0, np.arange(2), pd=0.95, log_clutter=-20.0)
    assert beta2[0, 0] > 0.99 and beta2[1, 1] > 0.99
    assert (beta2.sum(axis=1) <= 1.0 + 1e-12).all() and (beta2.sum(axis=0) <= 1.0 + 1e-12).all()
    # dense clutter makes "not mine" likelier: the track keeps some doubt
    _, beta3 = jpda(cost2, cost2 < 10.0, np.arange(2), pd=0.95, log_clutter=0.0)
    assert beta3[0, 0] < beta2[0, 0]


def test_jpda_tracks_name_a_plot_only_when_sure() -> None:
    """An RV and its stage a few metres apart: the JPDA splits both plots between them,
    and neither track names a plot as its own (a swapped name would make the stage
    track's update the RV's); a plot clearly one track's is named, once."""
    cost = np.array([[1.0, 1.2, 50.0], [1.1, 1.0, 50.0], [50.0, 50.0, 1.0]])
    feasible = cost < 10.0
    rows, beta = jpda(cost, feasible, np.arange(3), pd=0.95, log_clutter=-20.0)
    assert rows.tolist() == [0, 1] and np.all(beta.max(axis=1) < 0.6)
    assert claimed_plots(beta).tolist() == [-1, -1]
    clear = np.array([[1.0, 9.0], [9.0, 1.0]])
    _, beta2 = jpda(clear, clear < 10.0, np.arange(2), pd=0.95, log_clutter=-20.0)
    assert claimed_plots(beta2).tolist() == [0, 1]
    assert claimed_plots(np.array([[0.5, 0.45], [0.45, 0.5]])).tolist() == [-1, -1]
