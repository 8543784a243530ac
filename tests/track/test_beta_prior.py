"""Class-informed ballistic-coefficient priors: the class from the speed, the prior swap,
and, on the shipped IRBM, the RV told from its spent stage by which one is ahead."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from conftest import Tracked

from warnlink.geo.frames import GM_EARTH, R_MEAN
from warnlink.track.beta_prior import (
    BURNOUT_HEIGHT_M,
    CLASSES,
    SPEED_LIMITS,
    STAGE,
    LogNormal,
    classify,
    min_energy_speed,
    swap,
    undecided,
)
from warnlink.track.state import LOG_K


def test_speed_limits_are_the_keplerian_minimum_energy_speeds() -> None:
    # nu = 2 s / (1 + s): a 10,000 km arc needs nu ~ 0.86; a quarter of the Earth, ~0.83
    s = math.sin(0.5 * math.pi / 2)
    r = R_MEAN + BURNOUT_HEIGHT_M
    assert min_energy_speed(R_MEAN * math.pi / 2) == pytest.approx(
        math.sqrt(2 * s / (1 + s) * GM_EARTH / r), rel=1e-12
    )
    assert 2.9e3 < SPEED_LIMITS[0] < 3.1e3 and 5.9e3 < SPEED_LIMITS[2] < 6.1e3
    # states at the burnout height just under / over each limit, and one higher up on the
    # same energy (a coasting object seen later), fall in the class the speed says
    up = np.array([[R_MEAN + BURNOUT_HEIGHT_M, 0.0, 0.0]])
    for c, lim in enumerate(SPEED_LIMITS):
        for dv, want in ((-10.0, c), (10.0, c + 1)):
            v = lim + dv
            assert classify(up, np.array([[0.0, v, 0.0]]))[0] == want
            r2 = up[0, 0] + 500e3
            v2 = math.sqrt(v * v + 2 * GM_EARTH * (1 / r2 - 1 / up[0, 0]))
            assert classify(np.array([[r2, 0.0, 0.0]]), np.array([[0.0, 0.0, v2]]))[0] == want


def test_undecided_prior_has_the_mixture_moments_and_covers_both_modes() -> None:
    rv = CLASSES[-1].rv
    u = undecided(rv)
    a, b = math.log(rv.median), math.log(STAGE.median)
    draws = np.r_[
        np.random.default_rng(1).normal(a, rv.log_sigma, 200_000),
        np.random.default_rng(2).normal(b, STAGE.log_sigma, 200_000),
    ]
    assert math.log(u.median) == pytest.approx(draws.mean(), abs=0.01)
    assert u.log_sigma == pytest.approx(draws.std(), rel=0.01)
    assert abs(a - math.log(u.median)) < 1.5 * u.log_sigma  # both modes within 1.5 sigma
    assert abs(b - math.log(u.median)) < 1.5 * u.log_sigma


def test_swap_equals_starting_from_the_new_prior() -> None:
    """Prior N(m0, s0^2) on ln k, a measurement of ln k + 0.5 * position with variance q:
    swapping the prior afterwards must give what the new prior would have given."""
    old, new = LogNormal(2000.0, 1.2), LogNormal(6500.0, 0.6)
    H = np.zeros((1, 10))
    H[0, LOG_K], H[0, 0] = 1.0, 0.5
    q, z = 0.3**2, -8.4

    def posterior(prior: LogNormal) -> tuple[np.ndarray, np.ndarray]:
        x = np.zeros(10)
        x[LOG_K] = prior.mean_log_k
        P = np.diag([4.0] * 9 + [prior.log_sigma**2])
        S = H @ P @ H.T + q
        K = P @ H.T / S
        return x + (K * (z - H @ x)).ravel(), P - K @ H @ P

    x_old, P_old = posterior(old)
    x_new, P_new = posterior(new)
    xs, Ps = swap(x_old[None], P_old[None], old, new)
    np.testing.assert_allclose(xs[0], x_new, atol=1e-10)
    np.testing.assert_allclose(Ps[0], P_new, atol=1e-10)
    # and back
    xb, Pb = swap(xs, Ps, new, old)
    np.testing.assert_allclose(xb[0], x_old, atol=1e-10)
    np.testing.assert_allclose(Pb[0], P_old, atol=1e-10)


def test_irbm_rv_and_its_stage_get_their_own_priors(tracked: Callable[[str], Tracked]) -> None:
    """No radar sees the IRBM's re-entry, so ln k ends where the prior put it: the RV's
    track (ahead) at the IRBM RV prior, the spent second stage's (behind) at the stage's."""
    run = tracked("irbm-northern-japan")
    burnout = next(e.t for e in run.sim.truth.events if e.kind == "burnout")
    irbm = next(c for c in CLASSES if c.name == "irbm").rv
    held: dict[str, LogNormal] = {}
    for tid, ups in run.confirmed().items():
        late = [u for u in ups if u.t > burnout + 200.0 and u.measurement_id]
        if len(late) < 20:
            continue
        obj, share = run.majority(tid)
        if obj in ("L1/RV", "L1/S2") and share > 0.8:
            u = late[-1]
            held[obj] = LogNormal(math.exp(-u.x[LOG_K]), math.sqrt(u.P[LOG_K, LOG_K]))
    assert set(held) == {"L1/RV", "L1/S2"}, held
    for obj, want in (("L1/RV", irbm), ("L1/S2", STAGE)):
        assert held[obj].median == pytest.approx(want.median, rel=0.05), obj
        assert held[obj].log_sigma == pytest.approx(want.log_sigma, rel=0.05), obj
