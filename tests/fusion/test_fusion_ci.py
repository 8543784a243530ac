"""Covariance intersection: consistent for every cross-correlation, exact for one input or
equal inputs, never larger (in its measure) than the better input."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from warnlink.fusion.ci import covariance_intersection

F64 = NDArray[np.float64]


def joint_covariance(seed: int, n: int, d: int) -> F64:
    """A random joint covariance (n d, n d) of n estimates' errors: correlations of any
    sign and strength, scales spanning four orders of magnitude."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n * d, n * d)) * np.exp(rng.uniform(-2.0, 2.0, size=n * d))[:, None]
    return np.asarray(a @ a.T + 1e-6 * np.eye(n * d), float)


def fused_error_covariance(M: F64, covs: list[F64], w: F64) -> tuple[F64, F64]:
    """The CI covariance and the true covariance of its error, for joint error covariance M:
    the fused estimate is sum_i K_i x_i with K_i = P w_i P_i^-1."""
    P = np.linalg.inv(sum(wi * np.linalg.inv(c) for wi, c in zip(w, covs, strict=True)))
    K = np.hstack([P @ (wi * np.linalg.inv(c)) for wi, c in zip(w, covs, strict=True)])
    return P, K @ M @ K.T


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 3), d=st.integers(1, 4))
def test_consistent_for_any_cross_correlation(seed: int, n: int, d: int) -> None:
    M = joint_covariance(seed, n, d)
    covs = [M[i * d : (i + 1) * d, i * d : (i + 1) * d] for i in range(n)]
    means = [np.zeros(d)] * n
    _, P, w = covariance_intersection(means, covs)
    assert np.all(w >= 0.0) and np.isclose(w.sum(), 1.0)
    P_ci, true = fused_error_covariance(M, covs, w)
    np.testing.assert_allclose(P, P_ci, rtol=1e-6, atol=1e-9 * np.abs(P_ci).max())
    gap = np.linalg.eigvalsh(P - true)
    assert gap.min() >= -1e-7 * np.abs(P).max()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 3), d=st.integers(1, 6))
def test_never_larger_than_the_better_input(seed: int, n: int, d: int) -> None:
    M = joint_covariance(seed, n, d)
    covs = [M[i * d : (i + 1) * d, i * d : (i + 1) * d] for i in range(n)]
    rng = np.random.default_rng(seed)
    means = [rng.normal(size=d) for _ in range(n)]
    block = np.arange(min(d, 3))
    x, P, _ = covariance_intersection(means, covs, block)
    best = min(np.linalg.slogdet(c[np.ix_(block, block)])[1] for c in covs)
    assert np.linalg.slogdet(P[np.ix_(block, block)])[1] <= best + 1e-9
    assert np.all(np.isfinite(x))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 10))
def test_equal_inputs_and_one_input_come_back(seed: int, d: int) -> None:
    c = joint_covariance(seed, 1, d)
    x = np.random.default_rng(seed).normal(size=d)
    x1, P1, w1 = covariance_intersection([x], [c])
    assert np.array_equal(x1, x) and np.array_equal(P1, c) and w1[0] == 1.0
    x2, P2, _ = covariance_intersection([x, x], [c, c])
    np.testing.assert_allclose(x2, x, atol=1e-9 * (1.0 + np.abs(x).max()))
    np.testing.assert_allclose(P2, c, rtol=1e-6, atol=1e-9 * np.abs(c).max())


def test_independent_equal_information_is_not_double_counted() -> None:
    # two equal, possibly fully correlated estimates: CI may not claim more than either
    c = np.diag([4.0, 9.0])
    _, P, _ = covariance_intersection([np.zeros(2), np.ones(2)], [c, c])
    assert np.linalg.det(P) >= np.linalg.det(c) * (1 - 1e-9)


def test_complementary_estimates_combine() -> None:
    # each input knows one axis well: CI takes the good axis of each
    a, b = np.diag([1.0, 100.0]), np.diag([100.0, 1.0])
    x, P, w = covariance_intersection([np.array([0.0, 10.0]), np.array([10.0, 0.0])], [a, b])
    np.testing.assert_allclose(w, [0.5, 0.5], atol=1e-3)
    assert P[0, 0] < 3.0 and P[1, 1] < 3.0
    # each coordinate comes from the input that knows it: 0.1 of the way to the other's
    np.testing.assert_allclose(x, [0.2 / 2.02, 0.2 / 2.02], rtol=1e-3)
