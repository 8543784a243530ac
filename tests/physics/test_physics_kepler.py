"""The integrator against closed-form Keplerian arcs, and the closed forms among themselves."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar

from warnlink.geo.frames import GM_EARTH, R_MEAN
from warnlink.physics import kepler
from warnlink.physics.dynamics import PhysicsModel
from warnlink.physics.propagate import coast

VACUUM_SPHERE = PhysicsModel(earth="sphere", j2=False, rotation=False, drag=False)


def _burnout(alt: float, speed: float, gamma_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """A burnout state in a plane tilted out of the equator, heading 'up-range' at gamma."""
    r_hat = np.array([np.cos(0.4) * np.cos(1.1), np.cos(0.4) * np.sin(1.1), np.sin(0.4)])
    east = np.cross([0.0, 0.0, 1.0], r_hat)
    east /= np.linalg.norm(east)
    north = np.cross(r_hat, east)
    along = np.cos(0.7) * north + np.sin(0.7) * east
    g = np.radians(gamma_deg)
    return (R_MEAN + alt) * r_hat, speed * (np.cos(g) * along + np.sin(g) * r_hat)


@pytest.mark.parametrize(
    ("alt", "speed", "gamma_deg"),
    [(50e3, 1800.0, 45.0), (150e3, 4500.0, 35.0), (300e3, 7200.0, 22.0), (600e3, 7000.0, 84.0)],
)
def test_coast_matches_closed_form(alt: float, speed: float, gamma_deg: float) -> None:
    r0, v0 = _burnout(alt, speed, gamma_deg)
    arc = coast(0.0, r0, v0, model=VACUUM_SPHERE)[0]
    assert arc.at_surface
    psi, tof = kepler.ballistic_arc(R_MEAN + alt, speed, np.radians(gamma_deg), R_MEAN)
    flown = np.arccos(arc.r[-1] @ r0 / (np.linalg.norm(arc.r[-1]) * np.linalg.norm(r0)))
    assert abs(flown - psi) * R_MEAN < 10.0
    assert abs(arc.t[-1] - tof) < 0.01
    assert abs(np.linalg.norm(arc.r[-1]) - R_MEAN) < 0.01


def test_state_arc_predicts_the_impact_point() -> None:
    r0, v0 = _burnout(200e3, 6000.0, 30.0)
    arc = coast(0.0, r0, v0, model=VACUUM_SPHERE)[0]
    _, tof, impact, r_apo = kepler.state_arc(r0[None], v0[None], R_MEAN)
    assert np.linalg.norm(impact[0] - arc.r[-1]) < 10.0
    assert abs(tof[0] - arc.t[-1]) < 0.01
    assert abs(np.max(np.linalg.norm(arc.r, axis=1)) - r_apo[0]) < 100.0  # samples straddle it


def _speed_for_range(r1: float, r2: float, psi: float, gamma: float) -> float:
    """Speed at r1 and flight-path angle gamma whose arc falls through r2 after psi."""
    return float(
        brentq(lambda v: kepler.ballistic_arc(r1, v, gamma, r2)[0] - psi, 500.0, 10500.0, xtol=1e-9)
    )


@pytest.mark.parametrize(
    ("r1", "psi"), [(R_MEAN, 0.1), (R_MEAN + 300e3, 0.5), (R_MEAN + 100e3, 1.6)]
)
def test_minimum_energy_arc(r1: float, psi: float) -> None:
    """The closed-form optimum equals a brute-force minimum of the burnout speed."""
    best = minimize_scalar(
        lambda g: _speed_for_range(r1, R_MEAN, psi, g),
        bounds=(0.2, 1.0),
        method="bounded",
        options={"xatol": 1e-7},
    )
    assert kepler.min_energy_gamma(r1, R_MEAN, psi) == pytest.approx(best.x, abs=1e-4)
    assert kepler.min_energy_speed(r1, R_MEAN, psi) == pytest.approx(best.fun, rel=1e-7)


@pytest.mark.parametrize("psi", [0.05, 0.3, 1.0, 2.0])
def test_apogee_forms_agree(psi: float) -> None:
    apogee = kepler.min_energy_apogee(R_MEAN, psi)
    assert kepler.speed_for_apogee(R_MEAN, psi, apogee) == pytest.approx(
        kepler.min_energy_speed(R_MEAN, R_MEAN, psi), rel=1e-10
    )
    gamma = kepler.min_energy_gamma(R_MEAN, R_MEAN, psi)
    v = kepler.min_energy_speed(R_MEAN, R_MEAN, psi)
    assert kepler.apogee_radius(R_MEAN, v, gamma) - R_MEAN == pytest.approx(apogee, rel=1e-9)
    assert kepler.ballistic_arc(R_MEAN, v, gamma, R_MEAN)[0] == pytest.approx(psi, rel=1e-9)


def test_unbound_and_orbital_states_have_no_arc() -> None:
    psi, tof = kepler.ballistic_arc(R_MEAN + 300e3, [12_000.0, 7_800.0], [0.2, 0.0], R_MEAN)
    assert np.all(np.isnan(psi))
    assert np.all(np.isnan(tof))


def test_descending_crossing_matches_closed_form() -> None:
    """The closed-form crossing of a radius (track.launch back-propagates with it): state_arc's
    time and point, and conserved energy."""
    r_hat = np.array([np.cos(0.4) * np.cos(1.2), np.cos(0.4) * np.sin(1.2), np.sin(0.4)])
    east = np.cross([0.0, 0.0, 1.0], r_hat)
    east /= np.linalg.norm(east)
    r = np.stack([(R_MEAN + 300e3) * r_hat, (R_MEAN + 150e3) * r_hat])
    v = np.stack([
        6000.0 * (np.cos(0.5) * east + np.sin(0.5) * r_hat),
        3000.0 * (np.cos(0.2) * east - np.sin(0.2) * r_hat),  # already descending
    ])  # fmt: skip
    r1 = R_MEAN + 130e3
    tof, r_top, v_top = kepler.descending_crossing(r, v, r1)
    _, tof_kep, impact, _ = kepler.state_arc(r[:1], v[:1], r1)
    assert abs(tof[0] - tof_kep[0]) < 1e-6 and np.linalg.norm(r_top[0] - impact[0]) < 1e-3
    assert np.allclose(np.linalg.norm(r_top, axis=1), r1, atol=1e-3)
    energy = 0.5 * np.sum(v * v, 1) - GM_EARTH / np.linalg.norm(r, axis=1)
    energy_top = 0.5 * np.sum(v_top * v_top, 1) - GM_EARTH / r1
    assert np.allclose(energy_top, energy, rtol=1e-12)
    assert np.allclose(np.cross(r_top, v_top), np.cross(r, v), rtol=1e-12)
    assert np.all(np.einsum("ij,ij->i", r_top, v_top) < 0.0)  # descending
    arcs = coast(np.zeros(2), r, v, t_stop=tof, model=VACUUM_SPHERE)
    for i, a in enumerate(arcs):
        assert np.linalg.norm(a.r[-1] - r_top[i]) < 1.0
    bad, _, _ = kepler.descending_crossing(
        np.array([[r1 - 10e3, 0.0, 0.0], [R_MEAN + 400e3, 0.0, 0.0]]),
        np.array([[0.0, 7000.0, 0.0], [0.0, 12000.0, 0.0]]),  # inside; unbound
        r1,
    )
    assert np.isnan(bad).all()


def test_j2_offset_matches_integration() -> None:
    """J2's offset over a long vacuum coast (up to 30 km) from paired RK4 steps: to 3 m."""
    r = np.array([[R_MEAN + 800e3, 0.0, 0.0], [0.0, R_MEAN + 1200e3, 0.0]])
    v = np.array([[0.0, 6500.0, 3500.0], [-7000.0, 0.0, 1500.0]])  # perigees above 400 km
    tof = np.array([900.0, 2400.0])
    no_drag = PhysicsModel(drag=False)
    dr, dv = kepler.j2_offset(r, v, tof)
    arcs = coast(np.zeros(2), r, v, t_stop=tof, model=no_drag)
    kep = coast(np.zeros(2), r, v, t_stop=tof, model=PhysicsModel(drag=False, j2=False))
    for i in range(2):
        want_r, want_v = arcs[i].r[-1] - kep[i].r[-1], arcs[i].v[-1] - kep[i].v[-1]
        assert not arcs[i].at_surface and np.linalg.norm(want_r) > 1e3
        assert np.linalg.norm(dr[i] - want_r) < 3.0
        assert np.linalg.norm(dv[i] - want_v) < 5e-3
