"""Process and measurement models against the simulator's physics and frame conversions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from warnlink.geo.frames import (
    ecef_to_eci,
    ecef_to_enu,
    eci_to_ecef,
    enu_basis,
    enu_to_aer,
    geodetic_to_ecef,
)
from warnlink.physics.flight import fly
from warnlink.physics.truth import Truth
from warnlink.physics.vehicles import VEHICLES
from warnlink.scenario.load import load_scenario
from warnlink.track.models import (
    BALLISTIC,
    BOOST,
    ProcessNoise,
    infrared_los,
    process_noise,
    propagate,
    radar_h,
    tangent_basis,
    tangent_coords,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def salvo_truth() -> Truth:
    return fly(load_scenario(ROOT / "scenarios" / "srbm-salvo-east-sea.toml").flights()[:1])


def _eci_state(truth: Truth, obj: str, t: float, k: float) -> np.ndarray:
    r, v, _, _ = truth.object(obj).state_at(t)
    ri, vi = ecef_to_eci(t, r, v)
    return np.concatenate([ri, vi, np.zeros(3), [np.log(k)]])


@pytest.mark.parametrize(("t0", "t1"), [(150.0, 250.0), (300.0, 470.0)])
def test_ballistic_propagation_follows_the_truth(salvo_truth: Truth, t0: float, t1: float) -> None:
    """Coast and re-entry with the truth's beta: the models are the truth's own physics."""
    k = 1.0 / VEHICLES["srbm"].payload_beta
    x0 = _eci_state(salvo_truth, "S1-1/RV", t0, k)
    x1 = propagate(x0[None], np.array([t1 - t0]), np.zeros(1))[0]
    want = _eci_state(salvo_truth, "S1-1/RV", t1, k)
    assert np.linalg.norm(x1[:3] - want[:3]) < 20.0
    assert np.linalg.norm(x1[3:6] - want[3:6]) < 0.5
    # many short midpoint steps (the gaps between scans) agree with long RK4 steps
    x = x0[None]
    for _ in range(int((t1 - t0) / 0.25)):
        x = propagate(x, np.array([0.25]), np.zeros(1))
    assert np.linalg.norm(x[0, :3] - x1[:3]) < 5.0


def test_thrust_acts_only_in_the_boost_model() -> None:
    x = np.array([[7e6, 0.0, 0.0, 0.0, 7e3, 0.0, 0.0, 10.0, 0.0, 0.0]] * 2)
    out = propagate(x, np.array([2.0, 2.0]), np.array([1.0, 0.0]))
    assert out[0, 4] - out[1, 4] == pytest.approx(20.0, rel=1e-5)


@pytest.mark.parametrize("model", [BOOST, BALLISTIC])
def test_process_noise_is_symmetric_positive(model: int) -> None:
    Q = process_noise(np.array([0.1, 1.0, 10.0]), np.full(3, float(model == BOOST)), ProcessNoise())
    assert np.allclose(Q, np.swapaxes(Q, 1, 2))
    w = np.linalg.eigvalsh(Q)
    assert (w >= -1e-12 * np.abs(w).max()).all()


def test_radar_model_matches_frames_and_range_rate() -> None:
    rng = np.random.default_rng(1)
    site_lat, site_lon = 38.0, 130.0
    basis = enu_basis(site_lat, site_lon)
    site = geodetic_to_ecef(site_lat, site_lon, 25.0)
    t = 321.0
    r_ecef = geodetic_to_ecef(40.0, 131.0, 150e3) + rng.normal(0, 1e4, (5, 3))
    v_ecef = rng.normal(0, 2e3, (5, 3))
    ri, vi = ecef_to_eci(t, r_ecef, v_ecef)
    x = np.concatenate([ri, vi, np.zeros((5, 4))], axis=1)
    z = radar_h(x, t, site, basis, True)
    az, el, rng_ = enu_to_aer(ecef_to_enu(r_ecef, site, basis))
    assert np.allclose(z[:, 0], rng_, atol=1e-6)
    assert np.allclose(np.mod(z[:, 1], 2 * np.pi), az, atol=1e-12)
    assert np.allclose(z[:, 2], el, atol=1e-12)
    # range rate: derivative of the range along the Earth-relative motion
    dt = 1e-2
    ranges = []
    for h in (-dt, dt):
        r2, _ = eci_to_ecef(t + h, ri + vi * h, vi)
        ranges.append(enu_to_aer(ecef_to_enu(r2, site, basis))[2])
    assert np.allclose(z[:, 3], (ranges[1] - ranges[0]) / (2 * dt), atol=1e-3)


def test_infrared_model_and_tangent_coordinates() -> None:
    sat = np.array([-1.09e7, 4.07e7, 0.0])
    t = 50.0
    r_ecef = np.array([[-3.0e6, 4.0e6, 4.1e6]])
    ri, vi = ecef_to_eci(t, r_ecef, np.zeros((1, 3)))
    x = np.concatenate([ri, vi, np.zeros((1, 4))], axis=1)
    u = infrared_los(x, t, sat)
    want = (r_ecef - sat) / np.linalg.norm(r_ecef - sat)
    assert np.allclose(u, want, atol=1e-12)
    basis = tangent_basis(u)
    assert np.allclose(np.einsum("nkc,nc->nk", basis, u), 0.0, atol=1e-12)
    # a line of sight turned by (a, b) in the tangent plane has gnomonic coordinates (a, b)
    m = u[0] + 1e-4 * basis[0, 0] - 2e-4 * basis[0, 1]
    m /= np.linalg.norm(m)
    assert np.allclose(tangent_coords(m, u[0], basis[0]), [1e-4, -2e-4], atol=1e-12)
