"""The call-lean kernels of the tracker's hot path against plain restatements of the same
formulas: their rewriting for speed must change results only by round-off."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from warnlink.geo.frames import A_WGS84, GM_EARTH, J2_EARTH, OMEGA_EARTH, rot_z
from warnlink.physics import atmosphere
from warnlink.physics.dynamics import FULL_PHYSICS, air_velocity
from warnlink.physics.gravity import gravity
from warnlink.track import models
from warnlink.track.models import BALLISTIC, BOOST, ProcessNoise
from warnlink.track.state import ACC, LOG_K, N_STATE, POS, VEL

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
    got = models.derivative(x, thrust)
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
        assert np.allclose(models.process_noise(dt, model, q), want, rtol=RTOL, atol=0.0)


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
