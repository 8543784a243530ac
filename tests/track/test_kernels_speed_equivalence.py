"""The call-lean kernels of the tracker's hot path against plain restatements of the same
formulas: their rewriting for speed must change results only by round-off."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from warnlink.geo.frames import (
    A_WGS84,
    GM_EARTH,
    J2_EARTH,
    OMEGA_EARTH,
    enu_basis,
    enu_to_aer,
    geodetic_to_ecef,
    rot_z,
)
from warnlink.physics import atmosphere
from warnlink.physics.dynamics import FULL_PHYSICS, air_velocity, height
from warnlink.physics.gravity import gravity
from warnlink.track import imm, models, ukf
from warnlink.track.associate import jpda, score
from warnlink.track.imm import Switching
from warnlink.track.manager import CONFIRMED, TENTATIVE, TrackerConfig, TrackTable
from warnlink.track.models import BALLISTIC, BOOST, ProcessNoise
from warnlink.track.state import ACC, LOG_K, N_STATE, POS, VEL
from warnlink.track.tracker import _extrapolated_view

F64 = NDArray[np.float64]
RTOL = 1e-12


def _states(m: int, seed: int = 3) -> F64:
    """States from the pad to 1000 km, fast, thrusting or not, in and out of the air."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(m, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    x = np.zeros((m, N_STATE))
    x[:, POS] = u * (A_WGS84 + rng.uniform(-2e3, 1e6, m))[:, None]
    x[:, VEL] = rng.normal(scale=3e3, size=(m, 3))
    x[:, ACC] = rng.normal(scale=20.0, size=(m, 3))
    x[:, LOG_K] = rng.uniform(-12.0, -2.0, m)
    return x


def _density_plain(z: F64) -> F64:
    """The layered model below 86 km, np.interp of the ln density table above."""
    low = atmosphere._layered_density(np.minimum(z, atmosphere.Z_LAYERS_TOP))
    ln_high = np.interp(z, atmosphere._GRID_Z, atmosphere._GRID_LN_RHO)
    ln_high += atmosphere._TOP_SLOPE * np.maximum(z - atmosphere.Z_TOP, 0.0)
    return np.where(z <= atmosphere.Z_LAYERS_TOP, low, np.exp(ln_high))


def test_density_matches_plain_formulas() -> None:
    z = np.r_[np.linspace(0.0, 1.5e6, 300001), 11e3, 20e3, 86e3, 1e6]
    assert np.allclose(atmosphere.density(z), _density_plain(z), rtol=1e-13, atol=0.0)
    assert atmosphere.density(np.inf) == 0.0 and np.isnan(atmosphere.density(np.nan))
    assert atmosphere.density(5e3).shape == ()
    assert np.array_equal(
        atmosphere.density(z[:-5].reshape(4, -1)).ravel(), atmosphere.density(z[:-5])
    )


def test_gravity_and_air_velocity_match_plain_formulas() -> None:
    r = _states(500)[:, POS]
    r2 = (r**2).sum(axis=1)
    a = -GM_EARTH / r2**1.5
    k = 1.5 * J2_EARTH * A_WGS84**2 / r2
    zz = r[:, 2] ** 2 / r2
    f = np.stack([a * (1 + k * (1 - 5 * zz))] * 2 + [a * (1 + k * (3 - 5 * zz))], axis=1)
    assert np.allclose(gravity(r), r * f, rtol=RTOL, atol=0.0)
    assert np.allclose(gravity(r, j2=False), a[:, None] * r, rtol=RTOL, atol=0.0)
    assert gravity(r[0]).shape == (3,)
    v = _states(500, seed=4)[:, VEL]
    plain = v - np.cross([0.0, 0.0, OMEGA_EARTH], r)
    assert np.array_equal(air_velocity(r, v, FULL_PHYSICS), plain)


def _derivative_plain(x: F64, thrust: F64) -> F64:
    """Full-state rates with drag below DRAG_TOP_M, as the tracker's model defines them."""
    r, v = x[:, POS], x[:, VEL]
    acc = gravity(r) + thrust[:, None] * x[:, ACC]
    r2 = (r**2).sum(axis=1)
    low = r2 < (A_WGS84 + models.DRAG_TOP_M) ** 2
    cos2 = (r[:, 0] ** 2 + r[:, 1] ** 2) / r2
    e2 = models.E2_WGS84
    h = np.sqrt(r2) - A_WGS84 * np.sqrt((1 - e2) / (1 - e2 * cos2))
    va = v - np.cross([0.0, 0.0, OMEGA_EARTH], r)
    k = np.minimum(np.exp(x[:, LOG_K]), models.K_MAX)
    rho = np.where(low, atmosphere.density(np.where(low, h, 0.0)), 0.0)
    drag = -0.5 * (rho * k * np.linalg.norm(va, axis=1))[:, None] * va
    size = np.linalg.norm(drag, axis=1, keepdims=True)
    acc += drag * np.minimum(1.0, models.DRAG_MAX / np.maximum(size, 1e-12))
    return np.concatenate([v, acc, np.zeros((len(x), 4))], axis=1)


def test_derivative_matches_plain_formulas() -> None:
    x = _states(800)
    thrust = (np.arange(800) % 2).astype(float)
    want = _derivative_plain(x, thrust)
    got = np.zeros_like(x)
    for row, out, on in zip(x, got, thrust, strict=True):
        k = min(np.exp(row[LOG_K]), models.K_MAX)
        models._rates(row[:6], on * row[ACC], k, models.DRAG_MAX, out[:6])
    assert np.allclose(got, want, rtol=1e-10, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("span", [0.3, 1.7, 7.0])
def test_propagate_matches_plain_integrators(span: float) -> None:
    x = _states(400)
    thrust = (np.arange(400) % 2).astype(float)
    dt = np.random.default_rng(5).uniform(0.0, span, 400)

    def f(s: F64) -> F64:
        return _derivative_plain(s, thrust)

    h = dt[:, None]
    if span <= models.SHORT_STEP_S:
        want = x + h * f(x + 0.5 * h * f(x))
    else:
        n_sub = int(np.ceil(dt.max() / models.MAX_STEP_S))
        h, want = h / n_sub, x
        for _ in range(n_sub):
            k1 = f(want)
            k2 = f(want + 0.5 * h * k1)
            k3 = f(want + 0.5 * h * k2)
            k4 = f(want + h * k3)
            want = want + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    got = models.propagate(x, dt, thrust)
    assert np.allclose(got[:, :6], want[:, :6], rtol=1e-11, atol=0.0)
    assert np.array_equal(got[:, 6:], x[:, 6:])


def test_cholesky_matches_lapack_and_repairs_the_batch() -> None:
    A = np.random.default_rng(11).normal(size=(40, N_STATE, N_STATE))
    P = A @ np.swapaxes(A, 1, 2) + 1e-3 * np.eye(N_STATE)
    P[:, 0, 1] += 1e-9  # not quite symmetric: the symmetric part is factored
    want = np.linalg.cholesky(0.5 * (P + np.swapaxes(P, 1, 2)))
    assert np.allclose(ukf.cholesky(P), want, rtol=1e-10, atol=1e-12)
    bad = P.copy()
    bad[7] = np.diag(np.r_[np.ones(N_STATE - 1), -1e-12])  # one indefinite: all repaired
    L = ukf.cholesky(bad)
    assert np.all(np.isfinite(L))
    assert np.allclose(L[7] @ L[7].T, np.diag(np.r_[np.ones(N_STATE - 1), 0.0]), atol=1e-9)
    assert np.allclose(
        L[:7] @ np.swapaxes(L[:7], 1, 2),
        bad[:7] * 0.5 + np.swapaxes(bad[:7], 1, 2) * 0.5,
        rtol=1e-9,
    )


def test_process_noise_matches_blocks() -> None:
    q = ProcessNoise()
    dt = np.array([0.0, 0.1, 2.0, 37.5])
    d = [dt**p for p in range(6)]
    qj, qb, qa = q.thrust_jerk, q.boost_accel, q.ballistic_accel
    for model, blocks in (
        (BOOST, {(0, 0): qj * d[5] / 20 + qb * d[3] / 3, (0, 1): qj * d[4] / 8 + qb * d[2] / 2,
                 (0, 2): qj * d[3] / 6, (1, 1): qj * d[3] / 3 + qb * d[1],
                 (1, 2): qj * d[2] / 2, (2, 2): qj * d[1]}),
        (BALLISTIC, {(0, 0): qa * d[3] / 3, (0, 1): qa * d[2] / 2, (1, 1): qa * d[1]}),
    ):  # fmt: skip
        want = np.zeros((4, N_STATE, N_STATE))
        for (i, j), val in blocks.items():
            want[:, 3 * i : 3 * i + 3, 3 * j : 3 * j + 3] = val[:, None, None] * np.eye(3)
            want[:, 3 * j : 3 * j + 3, 3 * i : 3 * i + 3] = val[:, None, None] * np.eye(3)
        want[:, LOG_K, LOG_K] = q.k_walk * dt
        got = models.process_noise(dt, np.full(4, float(model == BOOST)), q)
        assert np.allclose(got, want, rtol=RTOL, atol=0.0)
    # each filter its own model
    thrust = np.array([1.0, 0.0, 0.0, 1.0])
    boost, ballistic = (models.process_noise(dt, np.full(4, th), q) for th in (1.0, 0.0))
    want_mixed = np.where(thrust[:, None, None] == 1.0, boost, ballistic)
    assert np.array_equal(models.process_noise(dt, thrust, q), want_mixed)


def test_radar_h_matches_rot_z() -> None:
    x = _states(300)
    t, site = 1234.5, np.array([A_WGS84, 0.0, 0.0])
    basis = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    rot = rot_z(-OMEGA_EARTH * t)
    r, v = x[:, POS] @ rot.T, x[:, VEL] @ rot.T
    v = v - np.cross([0.0, 0.0, OMEGA_EARTH], r)
    enu, vel = (r - site) @ basis.T, v @ basis.T
    rng = np.linalg.norm(enu, axis=1)
    horiz = np.hypot(enu[:, 0], enu[:, 1])
    want = np.stack(
        [rng, np.arctan2(enu[:, 0], enu[:, 1]), np.arctan2(enu[:, 2], horiz),
         (enu * vel).sum(axis=1) / rng], axis=1,
    )  # fmt: skip
    got = models.radar_h(x, t, site, basis, True)
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)
    assert np.array_equal(models.radar_h(x, t, site, basis, False), got[:, :3])


def _events_plain(
    cost: F64, feasible: NDArray[np.bool_], pd: float, lc: float
) -> list[tuple[float, list[int]]]:
    """Joint events (log weight, plot of each track or -1) of one cluster, by recursion."""
    events: list[tuple[float, list[int]]] = []

    def walk(t: int, used: frozenset[int], logw: float, picks: list[int]) -> None:
        if t == len(cost):
            events.append((logw, picks))
            return
        walk(t + 1, used, logw + np.log1p(-pd), [*picks, -1])
        for m in np.flatnonzero(feasible[t]):
            if m not in used:
                g = np.log(pd) - cost[t, m] - lc
                walk(t + 1, used | {int(m)}, logw + g, [*picks, int(m)])

    walk(0, frozenset(), 0.0, [])
    return events


def _jpda_plain(
    cost: F64, feasible: NDArray[np.bool_], rows: NDArray[np.intp], pd: float, lc: float
) -> tuple[list[int], F64]:
    """Clusters by merging labels plot by plot, joint events by recursion, weights summed
    event after event: the association as its docstring states it."""
    rows = rows[feasible[rows].any(axis=1)]
    label = np.arange(len(rows))
    for c in range(cost.shape[1]):
        members = np.flatnonzero(feasible[rows, c])
        if members.size:
            label[np.isin(label, label[members])] = label[members].min()
    out_rows: list[int] = []
    out_beta: list[F64] = []
    for lab in np.unique(label):
        members = rows[label == lab]
        if len(members) < 2:
            continue
        events = _events_plain(cost[members], feasible[members], pd, lc)
        w = np.exp(np.array([e[0] for e in events]) - max(e[0] for e in events))
        w /= w.sum()
        beta = np.zeros((len(members), cost.shape[1]))
        for weight, (_, picks) in zip(w, events, strict=True):
            for t, m in enumerate(picks):
                if m >= 0:
                    beta[t, m] += weight
        out_rows += members.tolist()
        out_beta.append(beta)
    return out_rows, np.concatenate(out_beta) if out_beta else np.zeros((0, cost.shape[1]))


@pytest.mark.parametrize("seed", range(6))
def test_jpda_matches_plain_enumeration(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = 9, 7
    cost = rng.uniform(0.0, 12.0, size=(n, m))
    feasible = rng.random((n, m)) < 0.2
    rows = np.flatnonzero(rng.random(n) < 0.8)
    got_rows, got_beta = jpda(cost, feasible, rows, pd=0.9, log_clutter=-15.0)
    want_rows, want_beta = _jpda_plain(cost, feasible, rows, 0.9, -15.0)
    assert got_rows.tolist() == want_rows
    assert np.allclose(got_beta, want_beta, rtol=RTOL, atol=1e-15)


def _mixture_inputs(n: int, seed: int = 8) -> tuple[F64, F64, F64]:
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=1e3, size=(n, 2, N_STATE))
    A = rng.normal(size=(n, 2, N_STATE, N_STATE))
    P = A @ np.swapaxes(A, -1, -2) + N_STATE * np.eye(N_STATE)
    mu = rng.dirichlet([1.0, 1.0], size=n)
    return x, P, mu


def test_imm_mix_and_combine_match_einsum() -> None:
    x, P, mu = _mixture_inputs(30)
    dt, relight = np.linspace(0.1, 30.0, 30), np.arange(30) % 2 == 0
    x0, P0, cbar = imm.mix(x, P, mu, dt, Switching(), relight)
    sw = Switching()
    p_off = 1.0 - np.exp(-dt / sw.boost_s)
    p_on = np.where(relight, 1.0 - np.exp(-dt / sw.reignite_s), 0.0)
    T = np.stack([np.stack([1.0 - p_off, p_off], -1), np.stack([p_on, 1.0 - p_on], -1)], 1)
    joint = mu[:, :, None] * T  # (n, from, to)
    w = joint / joint.sum(axis=1)[:, None, :]
    want_x0 = np.einsum("nij,nid->njd", w, x)
    dev = x[:, :, None, :] - want_x0[:, None, :, :]
    want_P0 = np.einsum("nij,nijd,nije->njde", w, dev, dev) + np.einsum("nij,nide->njde", w, P)
    assert np.allclose(cbar, joint.sum(axis=1), rtol=RTOL, atol=0.0)
    assert np.allclose(x0, want_x0, rtol=RTOL, atol=1e-9)
    assert np.allclose(P0, want_P0, rtol=1e-10, atol=1e-9)
    xc, Pc = imm.combine(x, P, mu)
    want_xc = np.einsum("nj,njd->nd", mu, x)
    dev_c = x - want_xc[:, None, :]
    want_Pc = np.einsum("nj,njde->nde", mu, P) + np.einsum("nj,njd,nje->nde", mu, dev_c, dev_c)
    assert np.allclose(xc, want_xc, rtol=RTOL, atol=1e-9)
    assert np.allclose(Pc, want_Pc, rtol=1e-10, atol=1e-9)


def test_imm_update_matches_einsum_and_sure_plots_need_no_weights() -> None:
    n, m, J = 12, 3, 4
    x, P, mu = _mixture_inputs(n, seed=9)
    rng = np.random.default_rng(10)
    C = rng.normal(size=(n, 2, N_STATE, m))
    B = rng.normal(size=(n, 2, m, m))
    S = B @ np.swapaxes(B, -1, -2) + np.eye(m)
    nu, loglik = rng.normal(size=(n, 2, J, m)), rng.normal(size=(n, 2, J))
    beta = rng.dirichlet(np.ones(J + 1), size=n)[:, :J]
    K = np.swapaxes(np.linalg.solve(S, np.swapaxes(C, -1, -2)), -1, -2)
    nu_bar = np.einsum("nj,nkjm->nkm", beta, nu)
    spread = np.einsum("nj,nkjm,nkjl->nkml", beta, nu, nu) - np.einsum(
        "nkm,nkl->nkml", nu_bar, nu_bar
    )
    want_P = P - beta.sum(axis=1)[:, None, None, None] * K @ np.swapaxes(C, -1, -2)
    want_P += K @ spread @ np.swapaxes(K, -1, -2)
    want_P = 0.5 * (want_P + np.swapaxes(want_P, -1, -2))
    logw = np.log(mu)[:, :, None] + loglik
    post = np.exp(logw) / np.exp(logw).sum(axis=1, keepdims=True)
    want_mu = (1.0 - beta.sum(axis=1))[:, None] * mu + np.einsum("nj,nkj->nk", beta, post)
    got_x, got_P, got_mu = imm.update(x, P, mu, C, S, nu, loglik, beta)
    assert np.allclose(got_x, x + np.einsum("nkdm,nkm->nkd", K, nu_bar), rtol=RTOL, atol=1e-9)
    assert np.allclose(got_P, want_P, rtol=1e-10, atol=1e-9)
    assert np.allclose(got_mu, want_mu / want_mu.sum(axis=1, keepdims=True), rtol=1e-10)
    one = (nu[:, :, :1], loglik[:, :, :1])
    sure = imm.update(x, P, mu, C, S, *one, None)
    weighted = imm.update(x, P, mu, C, S, *one, np.ones((n, 1)))
    for a, b in zip(sure, weighted, strict=True):
        assert np.array_equal(a, b)


def _imm_filters(n: int, seed: int) -> tuple[F64, F64, F64]:
    """Tracks (n, 2) of flying states with covariances; every third has its boost model
    dropped (probability 0, the slot a mirror of the ballistic one)."""
    rng = np.random.default_rng(seed)
    x = np.stack([_states(n, seed), _states(n, seed + 1)], axis=1)
    x[:, BALLISTIC, POS] = x[:, BOOST, POS] + rng.normal(scale=50.0, size=(n, 3))
    A = rng.normal(size=(n, 2, N_STATE, N_STATE)) * np.r_[[30.0] * 3, [3.0] * 3, [0.3] * 4]
    P = A @ np.swapaxes(A, -1, -2) + 1e-2 * np.eye(N_STATE)
    mu = rng.dirichlet([1.0, 1.0], size=n)
    gone = np.arange(n) % 3 == 0
    mu[gone] = [0.0, 1.0]
    x[gone, BOOST], P[gone, BOOST] = x[gone, BALLISTIC], P[gone, BALLISTIC]
    return x, P, mu


def _moments_plain(x: F64, P: F64, h: object) -> tuple[F64, F64, F64]:
    """Unscented moments of h over the sigma points of filters (n, 10) with einsum."""
    X = ukf.sigma_points(x, P)
    Z = h(X)  # type: ignore[operator]
    w0, wi, _ = ukf.weights(N_STATE)
    w = np.r_[w0, np.full(2 * N_STATE, wi)]
    zhat = np.einsum("s,nsm->nm", w, Z)
    dz, dx = Z - zhat[:, None], X - np.einsum("s,nsd->nd", w, X)[:, None]
    return zhat, np.einsum("s,nsm,nsl->nml", w, dz, dz), np.einsum("s,nsd,nsm->ndm", w, dx, dz)


@pytest.mark.parametrize("range_rate", [True, False])
def test_imm_measure_radar_matches_radar_h_and_einsum(range_rate: bool) -> None:
    x, P, mu = _imm_filters(24, seed=21)
    t, site = 812.0, np.array([A_WGS84, 0.0, 0.0])
    basis = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])

    def h(X: F64) -> F64:
        n, s, _ = X.shape
        Z = models.radar_h(X.reshape(n * s, N_STATE), t, site, basis, range_rate).reshape(n, s, -1)
        Z[:, :, 1] = Z[:, :1, 1] + np.mod(Z[:, :, 1] - Z[:, :1, 1] + np.pi, 2 * np.pi) - np.pi
        return Z

    got = imm.measure_radar(x, P, mu, t, site, basis, range_rate)
    for k in (BOOST, BALLISTIC):
        for a, b in zip(got, _moments_plain(x[:, k], P[:, k], h), strict=True):
            assert np.allclose(a[:, k], b, rtol=1e-10, atol=1e-9)
    # an azimuth spread across +-pi (a target due south) is unwrapped about the centre
    south = x.copy()
    south[:, :, POS] = [A_WGS84 + 1e5, 0.0, -2e4]
    zhat, S, _ = imm.measure_radar(south, P, mu, 0.0, site, basis, range_rate)
    assert np.all(np.abs(np.abs(zhat[:, :, 1]) - np.pi) < 0.1)
    assert np.all(S[:, :, 1, 1] < 1e-3)
    assert np.array_equal(got[1][::3, BOOST], got[1][::3, BALLISTIC])  # dropped: a mirror


def test_imm_measure_infrared_matches_tangent_coords_and_einsum() -> None:
    x, P, mu = _imm_filters(18, seed=22)
    t, sat = 300.0, np.array([4.2e7, 1e6, 2e5])
    xc, _ = imm.combine(x, P, mu)
    centre = models.infrared_los(xc, t, sat)
    tb = models.tangent_basis(centre)
    got = imm.measure_infrared(x, P, mu, t, sat, centre, tb)
    for k in (BOOST, BALLISTIC):
        for i in range(len(x)):

            def h(X: F64, i: int = i) -> F64:
                los = models.infrared_los(X[0], t, sat)
                return models.tangent_coords(los, centre[i], tb[i])[None]

            for a, b in zip(got, _moments_plain(x[i : i + 1, k], P[i : i + 1, k], h), strict=True):
                assert np.allclose(a[i, k], b[0], rtol=1e-9, atol=1e-15)


def test_score_matches_plain_formulas() -> None:
    rng = np.random.default_rng(23)
    n, M, m, gate = 9, 7, 4, 16.0
    zhat = rng.normal(size=(n, 2, m))
    zhat[:, :, 1] = rng.uniform(-np.pi, np.pi, (n, 2))
    B = rng.normal(size=(n, 2, m, m))
    S = B @ np.swapaxes(B, -1, -2) + 0.1 * np.eye(m)
    z = zhat[:, :1] + rng.normal(scale=2.0, size=(n, M, m))
    mu = rng.dirichlet([1.0, 1.0], size=n)
    mu[0] = [0.0, 1.0]
    for zz in (z, z[:1]):  # per track, or one scan for all
        nu, S_inv, loglik, cost, feasible = score(zz, zhat, S, mu, gate, angle_col=1)
        want_nu = zz[:, None, :, :] - zhat[:, :, None, :]
        want_nu[..., 1] = np.mod(want_nu[..., 1] + np.pi, 2 * np.pi) - np.pi
        inv = np.linalg.inv(S)
        d2 = np.einsum("nkmi,nkij,nkmj->nkm", want_nu, inv, want_nu)
        want_ll = -0.5 * (d2 + np.linalg.slogdet(S)[1][..., None] + m * np.log(2 * np.pi))
        want_cost = -np.log(np.einsum("nk,nkm->nm", mu, np.exp(want_ll)))
        assert np.allclose(nu, want_nu, rtol=RTOL, atol=1e-15)
        assert np.allclose(S_inv, inv, rtol=1e-10, atol=1e-12)
        assert np.allclose(loglik, want_ll, rtol=1e-10, atol=1e-10)
        assert np.allclose(cost, want_cost, rtol=1e-10, atol=1e-10)
        assert np.array_equal(feasible, d2.min(axis=1) < gate)


def test_predict_live_filters_match_the_masked_restatement() -> None:
    x0, P0, cbar = _imm_filters(15, seed=24)
    cbar[1] = [1e-9, 1.0 - 1e-9]  # dropped below the floor unless it may relight
    cbar[2] = [1e-9, 1.0 - 1e-9]
    relight = np.arange(15) == 2
    dt = np.linspace(0.1, 9.0, 15)
    want_cbar = cbar.copy()
    dropped = ~relight & (cbar[:, BOOST] < imm.DROP_PROBABILITY)
    want_cbar[dropped] = [0.0, 1.0]
    boost = np.flatnonzero(~dropped)
    ball_x, ball_P = x0[:, BALLISTIC].copy(), P0[:, BALLISTIC].copy()
    ball_x[:, ACC], ball_P[:, ACC, :], ball_P[:, :, ACC] = 0.0, 0.0, 0.0
    ball_P[:, ACC, ACC] = imm.THRUST_OFF_VAR * np.eye(3)
    xs, Ps, dts, thrust, rows = imm._live_filters(x0, P0, cbar, dt, relight)
    assert np.array_equal(rows, boost) and np.array_equal(cbar, want_cbar)
    assert np.array_equal(xs, np.concatenate([x0[boost, BOOST], ball_x]))
    assert np.array_equal(Ps, np.concatenate([P0[boost, BOOST], ball_P]))
    assert np.array_equal(dts, np.r_[dt[boost], dt])
    assert np.array_equal(thrust, np.r_[np.ones(boost.size), np.zeros(15)])


def test_candidate_view_matches_enu_to_aer() -> None:
    x, P, mu = _imm_filters(20, seed=25)
    t, dt = 640.0, np.linspace(0.0, 12.0, 20)
    lat, lon = 37.0, 127.0
    site = geodetic_to_ecef(lat, lon, 50.0)
    basis = enu_basis(lat, lon)
    zb, margin = _extrapolated_view(x, P, mu, dt, *models.earth_rotation(t), site, basis)
    r = np.einsum("nj,njd->nd", mu, x[:, :, POS] + x[:, :, VEL] * dt[:, None, None])
    var = np.einsum("nj,njii->n", mu, P[:, :, :3, :3])
    az, el, rng = enu_to_aer((r @ rot_z(-OMEGA_EARTH * t).T - site) @ basis.T)
    assert np.allclose(margin, 5e3 + 3.0 * np.sqrt(var) + 5.0 * dt**2, rtol=RTOL, atol=0.0)
    assert np.allclose(zb[:, 0], rng, rtol=1e-12, atol=0.0)
    assert np.allclose(np.mod(zb[:, 1], 2 * np.pi), az, rtol=0.0, atol=1e-12)
    assert np.allclose(zb[:, 2], el, rtol=0.0, atol=1e-12)


def test_doomed_matches_the_array_rules() -> None:
    cfg = TrackerConfig()
    rng = np.random.default_rng(26)
    n, t = 40, 500.0
    x, _, mu = _imm_filters(n, seed=26)
    x[:5, :, POS], x[:5, :, VEL] = [A_WGS84 - 3e4, 0.0, 0.0], 0.0  # landed
    tab = TrackTable()
    tab.x, tab.mu, tab.t = x, mu, t - rng.uniform(0.0, 5.0, n)
    tab.status = np.where(np.arange(n) % 2 == 0, TENTATIVE, CONFIRMED).astype(np.int8)
    tab.history = rng.integers(0, 1 << cfg.confirm_n, n)
    tab.n_opp, tab.misses = rng.integers(1, 9, n), rng.integers(0, 6, n)
    tab.last_hit = t - rng.uniform(0.0, 2.0 * cfg.stale_confirmed_s, n)
    tab.ids = [f"T{i}" for i in range(n)]
    hits = np.bitwise_count(tab.history)
    window = np.minimum(tab.n_opp, cfg.confirm_n)
    want = np.where(
        tab.status == TENTATIVE,
        (window - hits > cfg.confirm_n - cfg.confirm_m)
        | (t - tab.last_hit > cfg.stale_tentative_s),
        (tab.misses >= cfg.delete_misses) | (t - tab.last_hit > cfg.stale_confirmed_s),
    )
    dt = (t - tab.t)[:, None, None]
    r = np.einsum("nj,njd->nd", mu, x[:, :, POS] + x[:, :, VEL] * dt)
    low = np.flatnonzero(np.einsum("nd,nd->n", r, r) < A_WGS84**2)
    want[low] |= height(r[low], FULL_PHYSICS) < cfg.min_altitude_m
    got = tab.doomed(t, cfg)
    assert np.array_equal(got, want)
    assert got[:5].all() and 0 < got[5:].sum() < n - 5  # the landed, and some of each rule
