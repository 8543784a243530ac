"""Conservation laws of the inertial, drag-free equations of motion with J2."""

from __future__ import annotations

import numpy as np
import pytest

from warnlink.geo.frames import A_WGS84, OMEGA_EARTH
from warnlink.physics.dynamics import PhysicsModel, acceleration
from warnlink.physics.gravity import gravity, potential
from warnlink.physics.propagate import coast

INERTIAL = PhysicsModel(j2=True, rotation=False, drag=False)


@pytest.mark.parametrize(
    ("alt", "speed", "climb"),
    [(400e3, 7700.0, 0.0), (300e3, 9000.0, 0.1), (500e3, 6200.0, 0.6)],  # LEO, eccentric, lofted
)
def test_energy_and_polar_angular_momentum(alt: float, speed: float, climb: float) -> None:
    """Three hours (or to the ground): J2 keeps both v^2/2 + U and the z angular momentum."""
    r0 = np.array([A_WGS84 + alt, 0.0, 0.0])
    v0 = speed * np.array([np.sin(climb), np.cos(climb) * np.cos(1.0), np.cos(climb) * np.sin(1.0)])
    arc = coast(0.0, r0, v0, 3 * 3600.0, INERTIAL)[0]
    assert len(arc.t) > 100
    energy = 0.5 * np.sum(arc.v**2, axis=1) + potential(arc.r)
    lz = arc.r[:, 0] * arc.v[:, 1] - arc.r[:, 1] * arc.v[:, 0]
    assert np.max(np.abs(energy / energy[0] - 1.0)) < 1e-9
    assert np.max(np.abs(lz / lz[0] - 1.0)) < 1e-9
    # J2 does change the total angular momentum direction (nodal precession)
    h = np.cross(arc.r, arc.v)
    assert np.max(np.abs(h[:, 0] - h[0, 0])) > 1e3


def test_gravity_is_minus_gradient_of_potential() -> None:
    rng = np.random.default_rng(1)
    r = rng.normal(size=(20, 3))
    r *= (A_WGS84 + rng.uniform(0.0, 20e6, 20)[:, None]) / np.linalg.norm(r, axis=1)[:, None]
    step = 1.0
    grad = np.stack(
        [(potential(r + step * e) - potential(r - step * e)) / (2 * step) for e in np.eye(3)],
        axis=1,
    )
    assert np.allclose(gravity(r), -grad, rtol=1e-6, atol=1e-9)
    assert not np.allclose(gravity(r, j2=False), gravity(r), rtol=1e-4)


def test_acceleration_drag_opposes_the_air() -> None:
    """Vectorised over objects; drag acts against the velocity relative to the rotating air."""
    r = np.array(
        [[A_WGS84 + 30e3, 0.0, 0.0], [0.0, A_WGS84 + 60e3, 0.0], [A_WGS84 + 2e6, 0.0, 0.0]]
    )
    v = np.array([[100.0, 2000.0, 50.0], [-3000.0, 0.0, 1000.0], [0.0, 5000.0, 0.0]])
    beta = np.array([1000.0, 5000.0, 1000.0])
    drag = acceleration(r, v, beta) - acceleration(r, v, np.inf)
    air = v - np.cross([0.0, 0.0, OMEGA_EARTH], r)
    cos = np.einsum("ij,ij->i", drag, air) / (
        np.linalg.norm(drag, axis=1) * np.linalg.norm(air, axis=1)
    )
    assert np.allclose(cos[:2], -1.0)
    assert np.linalg.norm(drag[0]) > 1.0  # thick air at 30 km
    assert np.linalg.norm(drag[2]) < 1e-9  # none to speak of at 2000 km
    assert np.allclose(acceleration(r, v, np.inf), gravity(r))


def test_coast_dt_fine_coarser_steps_move_an_entry_by_metres_at_most() -> None:
    """coast's dt_fine: 1 s steps in the air move re-entries (beta 1500 to 20000 kg/m^2,
    3 to 7 km/s) by under half a metre, 2 s steps by under 3 m, from 0.5 s steps."""
    r_hat = np.array([np.cos(0.7), 0.0, np.sin(0.7)])
    east = np.array([0.0, 1.0, 0.0])
    r0 = np.repeat(((A_WGS84 + 150e3) * r_hat)[None], 3, 0)
    v0 = np.stack([s * (np.cos(g) * east - np.sin(g) * r_hat) for s, g in
                   [(3000.0, 0.6), (5000.0, 0.4), (7000.0, 0.3)]])  # fmt: skip
    beta = np.array([1500.0, 5000.0, 20000.0])
    fine = coast(np.zeros(3), r0, v0, beta=beta)
    for dt_fine, tol in [(1.0, 0.5), (2.0, 3.0)]:
        coarse = coast(np.zeros(3), r0, v0, beta=beta, dt_fine=dt_fine)
        for a, b in zip(fine, coarse, strict=True):
            assert a.at_surface and b.at_surface
            assert len(b.t) < len(a.t)
            assert np.linalg.norm(a.r[-1] - b.r[-1]) < tol
            assert abs(a.t[-1] - b.t[-1]) < 0.01 * tol
