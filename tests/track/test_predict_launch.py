"""Launch point and time, and heading, against the simulated truth of shipped scenarios."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chi2

from warnlink.formats.records import GroundPoint
from warnlink.geo.frames import ecef_to_eci, enu_basis, geodetic_to_ecef
from warnlink.physics.flight import fly
from warnlink.physics.truth import Event, Truth
from warnlink.scenario.load import load_scenario
from warnlink.track.launch import LaunchEstimator, heading
from warnlink.track.launch_templates import DECIMALS, fly_templates, read_templates, templates

SCENARIOS = Path(__file__).parents[2] / "scenarios"
P0 = np.diag([100.0**2] * 3 + [3.0**2] * 3 + [1.0] * 3 + [1e-8])


@pytest.fixture(scope="module")
def irbm() -> Truth:
    return fly(load_scenario(SCENARIOS / "irbm-northern-japan.toml").flights())


def _state(truth: Truth, oid: str, t: float) -> np.ndarray:
    r, v, _, _ = truth.object(oid).state_at(np.array([t]))
    ri, vi = ecef_to_eci(np.array([t]), r, v)
    return np.asarray(np.r_[ri[0], vi[0], 0.0, 0.0, 0.0, 0.0], float)


def _launch(truth: Truth, flight: str) -> Event:
    return next(e for e in truth.events_of("launch") if e.flight_id == flight)


def _error(gp: GroundPoint, ev: Event) -> tuple[float, float]:
    """Distance (m) and squared Mahalanobis distance of the truth from the estimate."""
    d = geodetic_to_ecef(ev.lat_deg, ev.lon_deg, 0.0) - geodetic_to_ecef(gp.lat_deg, gp.lon_deg, 0)
    en = enu_basis(gp.lat_deg, gp.lon_deg)[:2] @ d
    c = np.array([[gp.cov_en_m2[0], gp.cov_en_m2[2]], [gp.cov_en_m2[2], gp.cov_en_m2[1]]])
    return float(np.linalg.norm(d)), float(en @ np.linalg.solve(c, en))


@pytest.mark.parametrize("after", [40.0, 80.0, 120.0])
def test_boost_phase_launch_within_3_km(irbm: Truth, after: float) -> None:
    ev = _launch(irbm, "L1")
    t = ev.t + after
    gp, hd, hs = LaunchEstimator().update("T1", t, _state(irbm, "L1/RV", t), P0, 0.95, t)
    assert gp is not None and hd is not None and hs is not None
    dist, m2 = _error(gp, ev)
    assert dist < 3e3
    assert m2 < chi2.ppf(0.95, 2)
    assert abs(gp.t - ev.t) < 2.0 * gp.t_sigma_s


@pytest.mark.parametrize("after", [250.0, 600.0, 1000.0])
def test_post_burnout_launch_holds_truth(irbm: Truth, after: float) -> None:
    ev = _launch(irbm, "L1")
    t = ev.t + after
    gp, _, _ = LaunchEstimator().update("T1", t, _state(irbm, "L1/RV", t), P0, 0.02, t)
    assert gp is not None
    dist, m2 = _error(gp, ev)
    assert m2 < chi2.ppf(0.95, 2) and dist < 15e3
    assert abs(gp.t - ev.t) < 2.0 * gp.t_sigma_s and gp.t_sigma_s < 20.0


def test_lofted_icbm_is_held_by_the_wide_uncertainty() -> None:
    """A steeply lofted flight (the shipped scenario): held by the stated uncertainty."""
    truth = fly(load_scenario(SCENARIOS / "icbm-lofted-hokkaido.toml").flights())
    ev = _launch(truth, "L1")
    t = ev.t + 400.0
    gp, _, _ = LaunchEstimator().update("T", t, _state(truth, "L1/RV", t), P0, 0.0, t)
    assert gp is not None
    _, m2 = _error(gp, ev)
    assert m2 < chi2.ppf(0.95, 2)
    assert abs(gp.t - ev.t) < 2.0 * gp.t_sigma_s


def test_memory_keeps_boost_estimate_and_refreshes_ballistic(irbm: Truth) -> None:
    ev = _launch(irbm, "L1")
    est = LaunchEstimator()
    t1, t2 = ev.t + 60.0, ev.t + 400.0
    boost, _, _ = est.update("A", t1, _state(irbm, "L1/RV", t1), P0, 0.9, t1)
    later, _, _ = est.update("A", t2, _state(irbm, "L1/RV", t2), P0, 0.0, t1)
    assert later is boost
    first, _, _ = est.update("B", t2, _state(irbm, "L1/RV", t2), P0, 0.0, t2)
    again, _, _ = est.update("B", t2 + 1.0, _state(irbm, "L1/RV", t2 + 1.0), P0, 0.0, t2)
    assert again is first  # not redone within REFRESH_S
    assert first is not None and first.t <= t2
    est.forget("A")
    assert est.update("A", t2, _state(irbm, "L1/RV", t2), P0, 0.0, t2)[0] is not boost


def test_heading_and_its_sigma(irbm: Truth) -> None:
    t = _launch(irbm, "L1").t + 400.0
    x = _state(irbm, "L1/RV", t)
    hd, hs = heading(t, x, P0)
    assert 70.0 < hd < 100.0  # launched at azimuth 77 deg, turning right with the Earth
    r, v, _, _ = irbm.object("L1/RV").state_at(np.array([t]))
    lat = np.degrees(np.arcsin(r[0, 2] / np.linalg.norm(r[0])))
    lon = np.degrees(np.arctan2(r[0, 1], r[0, 0]))
    en = enu_basis(lat, lon)[:2] @ v[0]
    assert abs(hd - np.degrees(np.arctan2(en[0], en[1])) % 360.0) < 0.5
    assert np.isclose(hs, np.degrees(3.0 / np.hypot(*en)), rtol=0.05)


def test_no_launch_from_a_state_that_never_climbed() -> None:
    """A slow object low down (debris, a false track) matches no burnout: no estimate."""
    r = geodetic_to_ecef(38.0, 130.0, 10e3)
    east = enu_basis(38.0, 130.0)[0]
    ri, vi = ecef_to_eci(0.0, r, 100.0 * east)  # 100 m/s east over the ground
    x = np.r_[ri, vi, 0.0, 0.0, 0.0, 0.0]
    gp, hd, _ = LaunchEstimator().update("D", 0.0, x, P0, 0.0, 0.0)
    assert gp is None and hd is not None and abs(hd - 90.0) < 1.0


def test_state_uncertainty_widens_the_estimate(irbm: Truth) -> None:
    ev = _launch(irbm, "L1")
    t = ev.t + 400.0
    x = _state(irbm, "L1/RV", t)
    sharp, _, _ = LaunchEstimator().update("S", t, x, P0, 0.0, t)
    loose_p = np.diag([2e3**2] * 3 + [40.0**2] * 3 + [1.0] * 3 + [1e-8])
    loose, _, _ = LaunchEstimator().update("L", t, x, loose_p, 0.0, t)
    assert sharp is not None and loose is not None
    assert loose.ellipse.semi_major_m > 1.3 * sharp.ellipse.semi_major_m
    assert _error(loose, ev)[1] < chi2.ppf(0.95, 2)


def test_templates_span_classes_and_profiles() -> None:
    tpl = templates()
    assert len(tpl.bo) >= 40
    assert set(np.unique(tpl.flight)) == set(range(len(tpl.bo)))
    h, speed = tpl.bo[:, 0], tpl.bo[:, 1]
    assert h.min() < 50e3 and h.max() > 400e3  # srbm to lofted icbm burnouts
    assert speed.min() < 2e3 and speed.max() > 7e3
    assert np.all(np.diff(tpl.powered[:, 4][tpl.flight == 0]) > 0)  # time since launch


def test_shipped_templates_match_a_fresh_flight() -> None:
    """data/templates.json is the template flights flown now, to its rounding (else rerun
    `python -m warnlink.track.launch_templates`)."""
    shipped, fresh = read_templates(), fly_templates()
    assert shipped is not None
    assert np.array_equal(shipped.flight, fresh.flight)
    tol = 0.51 * 10.0 ** -np.array(DECIMALS, float)
    assert np.all(np.abs(shipped.powered - fresh.powered) <= tol)
    assert np.all(np.abs(shipped.bo - fresh.bo) <= tol)
    assert templates() is not None
