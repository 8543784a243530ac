"""Impact-point CRLB: an efficient estimator's Monte Carlo error must meet the bound.

The noisy measurements come from the simulator's own radar model (true_plots, add_noise),
not from the bound's measurement function; the estimator is a batch Gauss-Newton
maximum-likelihood fit of the state at t_ref, re-linearised at every iterate, whose
impact-point error on a short arc should approach the CRLB (ratio ~ 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from warnlink.evaluate import crlb
from warnlink.evaluate.crlb import (
    bound,
    impact_bound,
    information_bound,
    jacobians,
    measure,
    observations,
    propagate,
    residual,
)
from warnlink.formats.measurement_files import measurement_records, sensor_catalogue
from warnlink.geo.frames import ecef_to_eci, ecef_to_geodetic, enu_basis
from warnlink.physics.vehicles import VEHICLES
from warnlink.scenario.load import load_scenario
from warnlink.scenario.model import RadarSpec
from warnlink.sensors.infrared import perpendicular_basis
from warnlink.sensors.radar import add_noise, true_plots
from warnlink.sim.run import Simulation, simulate, write_run

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "srbm-salvo-east-sea.toml"
OID = "S1-1/RV"
ARC_S = 60.0  # short arc after t_ref: a few hundred detections, bound of ~100s of m
TRIALS = 300


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate(load_scenario(SCENARIO))


def test_bound_from_run_dir_matches_simulation_and_shrinks(sim: Simulation, tmp_path: Path) -> None:
    times = np.arange(100.0, 600.0, 20.0)
    mem = impact_bound(sim, OID, times)
    write_run(sim, tmp_path)
    disk = impact_bound(tmp_path, OID, times)
    assert mem.t_ref == disk.t_ref
    fin = np.isfinite(mem.rms_m)
    assert fin.sum() > 10 and np.all(np.diff(mem.rms_m[fin]) <= 1e-9)
    np.testing.assert_allclose(disk.rms_m[fin], mem.rms_m[fin], rtol=2e-3)
    # the nominal coast from the truth state at t_ref lands where the truth landed
    assert np.linalg.norm(mem.impact_ecef - sim.truth.object(OID).r[-1]) < 1.0
    # an unknown beta (with a prior) can only loosen the bound
    loose = impact_bound(sim, OID, times, beta_log_sigma=0.3)
    assert np.all(loose.rms_m[fin] >= mem.rms_m[fin] * (1 - 1e-6))


def test_difference_steps_do_not_matter(sim: Simulation, monkeypatch: pytest.MonkeyPatch) -> None:
    times = np.array([200.0, 300.0, 450.0, 480.0])
    ref = impact_bound(sim, OID, times).rms_m
    for f in (0.25, 4.0):
        monkeypatch.setattr(crlb, "STEP_POS_M", 20.0 * f)
        monkeypatch.setattr(crlb, "STEP_VEL_MPS", 0.02 * f)
        np.testing.assert_allclose(impact_bound(sim, OID, times).rms_m, ref, rtol=1e-3)


def test_infrared_rows_are_tangent_plane_coordinates() -> None:
    sat = np.array([[0.0, 0.0, 42e6]])
    obs = crlb.Observations(
        np.zeros(1), np.zeros(1, bool), sat, np.eye(3)[None], np.array([[1.0, 1.0, 0, 0]]),
        np.zeros((1, 4)), np.array(["IR"]),
    )  # fmt: skip
    r = np.array([[1e5, 2e5, 0.0]])
    u = (r - sat) / np.linalg.norm(r - sat)
    e1, e2 = perpendicular_basis(u)
    h0 = measure(obs, r, np.zeros((1, 3)), u)
    h1 = measure(obs, r + 3.0 * e1 - 2.0 * e2 + 50.0 * u, np.zeros((1, 3)), u)
    rho = np.linalg.norm(r - sat) + 50.0
    np.testing.assert_allclose(h0[0, :2], 0.0, atol=1e-15)
    np.testing.assert_allclose(h1[0, :2], [3.0 / rho, -2.0 / rho], rtol=1e-9)


def test_linear_case_matches_the_regression_variance() -> None:
    """z_k = p + v t_k + noise: the bound on p + v T + c u, with u seen only through its
    N(0, s^2) prior, is the textbook sigma^2 (1/n + (T - mean t)^2 / S_tt) + c^2 s^2,
    counting exactly the measurements with t_k <= t (none or one: no bound)."""
    t_obs = np.arange(0.0, 10.0, 0.5)
    sigma, T, c, s = 3.0, 40.0, 250.0, 0.4
    H = np.zeros((len(t_obs), 4, 3))
    H[:, 0, 0], H[:, 0, 1] = 1.0, t_obs
    inv_var = np.zeros((len(t_obs), 4))
    inv_var[:, 0] = sigma**-2
    G = np.array([[1.0, T, c]])
    prior = np.diag([0.0, 0.0, s**-2])
    times = np.array([-1.0, 0.2, t_obs[6], t_obs[-1]])
    cov, k = information_bound(t_obs, H, inv_var, G, times, prior)
    assert list(k) == [0, 1, 7, len(t_obs)]
    assert np.all(np.isinf(cov[:2]))
    for i in (2, 3):
        tt = t_obs[: k[i]]
        want = sigma**2 * (1 / len(tt) + (T - tt.mean()) ** 2 / np.sum((tt - tt.mean()) ** 2))
        np.testing.assert_allclose(cov[i, 0, 0], want + (c * s) ** 2, rtol=1e-9)


def test_beta_prior_adds_its_own_spread_above_the_air(sim: Simulation) -> None:
    """Above the air the detections say nothing of beta, so the bound with a log-beta
    prior of sigma s must be the beta-known bound plus s^2 g g' (g: impact per ln beta)."""
    meas, labels = measurement_records(sim.batches)
    cat = sensor_catalogue(sim.scenario.sensors, sim.scenario.epoch)
    obs = observations(meas, labels, cat, OID)
    obs = obs.take((obs.t >= 230.0) & (obs.t <= 330.0))  # above 150 km: truth 226-335 s
    track = sim.truth.object(OID)
    t_ref, beta = float(obs.t[0]), VEHICLES["srbm"].payload_beta
    known = bound(track, obs, t_ref, beta, [obs.t[-1]]).cov_en[0]
    g = jacobians(track, obs, t_ref, beta, True)[1][:, -1]
    assert np.linalg.norm(g) > 1e3  # the impact does depend on beta (m per unit ln beta)
    for s in (0.3, 1.2):
        with_prior = bound(track, obs, t_ref, beta, [obs.t[-1]], beta_log_sigma=s).cov_en[0]
        np.testing.assert_allclose(with_prior, known + s**2 * np.outer(g, g), rtol=1e-3)


@pytest.mark.slow
def test_monte_carlo_mle_meets_the_bound(sim: Simulation) -> None:
    meas, labels = measurement_records(sim.batches)
    obs = observations(
        meas, labels, sensor_catalogue(sim.scenario.sensors, sim.scenario.epoch), OID
    )
    track = sim.truth.object(OID)
    t_burn = next(e.t for e in sim.truth.events_of("burnout") if e.flight_id == track.flight_id)
    obs = obs.take(obs.t >= t_burn)
    t_ref = float(obs.t[obs.radar][0])
    obs = obs.take((obs.t >= t_ref) & (obs.t <= t_ref + ARC_S))
    assert obs.radar.all() and len(obs.t) > 100
    beta = VEHICLES["srbm"].payload_beta
    crlb = bound(track, obs, t_ref, beta, [obs.t[-1]])
    assert np.isfinite(crlb.rms_m[0])

    # Noisy measurements by the simulator's radar model, TRIALS draws at once per radar.
    g = np.random.default_rng(7)
    r_true, v_true, _, _ = track.state_at(obs.t)
    z = np.zeros((TRIALS, len(obs.t), 4))
    specs = {s.id: s for s in sim.scenario.sensors if isinstance(s, RadarSpec)}
    for sid, spec in specs.items():
        sel = obs.sensor == sid
        az, el, rng, rate, _ = true_plots(spec, r_true[sel], v_true[sel])
        noisy = add_noise(spec, *(np.tile(a, TRIALS) for a in (az, el, rng, rate)), g)
        az_n, el_n, rng_n, rate_n = (a.reshape(TRIALS, -1) for a in noisy)
        z[:, sel] = np.stack([rng_n, az_n, el_n, rate_n], axis=-1)

    # Batch Gauss-Newton from the truth, all trials together; Jacobians by differences.
    ri, vi = ecef_to_eci(t_ref, *(a[0] for a in track.state_at(np.array([t_ref]))[:2]))
    x = np.tile(np.r_[ri, vi], (TRIALS, 1))
    step = np.array([20.0] * 3 + [0.02] * 3)
    for _ in range(4):
        pert = np.concatenate([x[:, None, :], x[:, None, :] + np.diag(step)], axis=1)
        r, v, _ = propagate(t_ref, pert.reshape(-1, 6), beta, obs.t, t_stop=obs.t[-1])
        h = measure(obs, r, v).reshape(TRIALS, 7, len(obs.t), 4)
        dh = h[:, 1:] - h[:, :1]
        dh[..., 1] = np.angle(np.exp(1j * dh[..., 1]))
        jac = np.moveaxis(dh / step[:, None, None], 1, -1)  # (T, n, 4, 6)
        res = residual(obs, h[:, 0], z)
        w = obs.inv_var
        a = np.einsum("tnci,nc,tncj->tij", jac, w, jac)
        b = np.einsum("tnci,nc,tnc->ti", jac, w, res)
        x = x + np.linalg.solve(a, b[..., None])[..., 0]
    _, _, imp = propagate(t_ref, x, beta, np.array([t_ref]))
    en = enu_basis(*ecef_to_geodetic(crlb.impact_ecef)[:2])[:2]
    err = (imp - crlb.impact_ecef) @ en.T
    mc_rms = float(np.sqrt(np.mean(np.sum(err**2, axis=1))))
    ratio = mc_rms / float(crlb.rms_m[0])
    print(f"CRLB {crlb.rms_m[0]:.1f} m, Monte Carlo MLE {mc_rms:.1f} m, ratio {ratio:.3f}")
    assert 0.9 <= ratio <= 1.2


def test_detections_before_t_ref_count_as_if_t_ref_were_earlier(sim: Simulation) -> None:
    """The information of a detection does not depend on where the state is taken: the
    bound from detections parameterised at t_a (coast forward) must equal the bound from
    the same detections parameterised at a later t_b, those before t_b counted back through
    the variational Phi. Over re-entry, so drag and ln beta take part."""
    meas, labels = measurement_records(sim.batches)
    cat = sensor_catalogue(sim.scenario.sensors, sim.scenario.epoch)
    track = sim.truth.object(OID)
    flight = next(f for f in sim.scenario.flights() if f.id == track.flight_id)
    t_burn = next(e.t for e in sim.truth.events_of("burnout") if e.flight_id == track.flight_id)
    ascent = crlb.Ascent.of(flight.vehicle_class, flight.time_s, t_burn)
    obs = observations(meas, labels, cat, OID)
    obs = obs.take((obs.t >= 400.0) & (obs.t <= 470.0))  # below 100 km, in the air
    beta = VEHICLES["srbm"].payload_beta
    t_a, t_b, times = float(obs.t[0]), float(obs.t[len(obs.t) // 2]), [obs.t[-1]]
    for s in (None, 0.6):
        at_a = bound(track, obs, t_a, beta, times, s).cov_en[0]
        at_b = bound(track, obs, t_b, beta, times, s, ascent)
        assert at_b.n_used[0] == len(obs.t)
        np.testing.assert_allclose(at_b.cov_en[0], at_a, rtol=2e-3)


def test_boost_detections_tighten_the_bound_and_a_known_program_most(
    sim: Simulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting the boost can only add information; knowing the thrust program adds more
    than knowing its form; the recovered thrust is the schedule's thrust / mass."""
    times = np.arange(150.0, 500.0, 25.0)
    late = impact_bound(sim, OID, times, beta_log_sigma=0.6, boost=False)
    full = impact_bound(sim, OID, times, beta_log_sigma=0.6)
    assert full.t_ref == late.t_ref and np.all(full.n_used > late.n_used)
    fin = np.isfinite(late.rms_m)
    assert fin.sum() > 5 and np.all(full.rms_m[fin] <= late.rms_m[fin] * (1 + 1e-6))
    assert full.rms_m[fin][0] < 0.95 * late.rms_m[fin][0]  # the boost matters early on
    monkeypatch.setattr(crlb, "THRUST_LOG_SIGMA", 1e-6)
    monkeypatch.setattr(crlb, "STEERING_SIGMA_RAD", 1e-6)
    known = impact_bound(sim, OID, times, beta_log_sigma=0.6)
    assert np.all(known.rms_m[fin] <= full.rms_m[fin] * (1 + 1e-6))

    track = sim.truth.object(OID)
    flight = next(f for f in sim.scenario.flights() if f.id == track.flight_id)
    t_burn = next(e.t for e in sim.truth.events_of("burnout") if e.flight_id == track.flight_id)
    ascent = crlb.Ascent.of(flight.vehicle_class, flight.time_s, t_burn)
    i = ascent.burns[0]
    t = np.linspace(ascent.starts[i] + 5.0, ascent.ends[i] - 5.0, 7)
    r, v = ecef_to_eci(t, *track.state_at(t)[:2])
    k, _ = ascent.inverse_beta(t)
    thrust = crlb._truth_acceleration(track, t) - crlb.acceleration(r, v, 1.0 / k)
    np.testing.assert_allclose(
        np.linalg.norm(thrust, axis=1), ascent.thrust_n[i] / ascent.mass(t, ascent.segment(t)),
        rtol=1e-3,
    )  # fmt: skip
