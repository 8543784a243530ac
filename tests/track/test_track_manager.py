"""Initiation from single plots, and false alarms that must never make confirmed tracks."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np

from warnlink.formats.measurement_files import sensor_catalogue
from warnlink.formats.records import (
    InfraredEntry,
    InfraredMeasurement,
    Measurement,
    RadarEntry,
    RadarMeasurement,
    SensorCatalogue,
    vec3,
)
from warnlink.geo.frames import ecef_to_eci, enu_basis, geodetic_to_ecef
from warnlink.physics.dynamics import FULL_PHYSICS, height
from warnlink.scenario.load import load_scenario
from warnlink.sensors.infrared import earth_disc_los, perturb, unit
from warnlink.track.manager import TrackerConfig, infrared_initial, radar_initial
from warnlink.track.models import infrared_los, radar_h
from warnlink.track.tracker import Tracker

ROOT = Path(__file__).resolve().parents[2]


def _catalogue() -> SensorCatalogue:
    sc = load_scenario(ROOT / "scenarios" / "srbm-salvo-east-sea.toml")
    return sensor_catalogue(sc.sensors, sc.epoch)


def test_radar_initiation_inverts_the_plot() -> None:
    lat, lon = 38.0, 130.2
    site = geodetic_to_ecef(lat, lon, 25.0)
    t = 100.0
    r = geodetic_to_ecef(39.3, 128.5, 120e3)
    v = np.array([1500.0, 300.0, -200.0])
    ri, vi = ecef_to_eci(t, r, v)
    x_true = np.concatenate([ri, vi, np.zeros(4)])
    basis = enu_basis(lat, lon)
    z = radar_h(x_true[None], t, site, basis, True)[0]
    sig = np.array([20.0, 1e-3, 1e-3, 1.0])
    x, P = radar_initial(TrackerConfig(), t, (lat, lon), site, sig, z)
    assert np.allclose(x[:3], ri, atol=1e-3)
    z_back = radar_h(x[None], t, site, basis, True)[0]
    assert np.allclose(z_back, z, atol=1e-6)  # range rate too: the prior is along the LOS
    # the position covariance is the plot's: about 20 m along the line, 1 mrad across
    sd = np.sqrt(np.linalg.eigvalsh(P[:3, :3]))
    assert np.allclose(
        sorted(sd), sorted([20.0, 1e-3 * z[0], 1e-3 * z[0] * np.cos(z[2])]), rtol=1e-6
    )
    assert np.all(np.linalg.eigvalsh(P) > 0)


def test_infrared_initiation_on_the_altitude_shell() -> None:
    cfg = TrackerConfig()
    sat = geodetic_to_ecef(0.0, 105.0, 35786e3)
    target = geodetic_to_ecef(39.2, 125.9, cfg.ir_shell_alt_m)
    los = (target - sat) / np.linalg.norm(target - sat)
    init = infrared_initial(cfg, 80.0, sat, los, 30e-6)
    assert init is not None
    x, _ = init
    assert abs(float(height(x[:3], FULL_PHYSICS)) - cfg.ir_shell_alt_m) < 1.0
    assert np.allclose(infrared_los(x[None], 80.0, sat)[0], los, atol=1e-12)
    # a line of sight that misses the Earth gives no track
    assert infrared_initial(cfg, 80.0, sat, -los, 30e-6) is None


def test_false_alarms_alone_never_confirm() -> None:
    """Ten minutes of uniform clutter from every sensor, 20 times the shipped rates."""
    cat = _catalogue()
    rng = np.random.default_rng(7)
    plots: list[Measurement] = []
    n = 0
    for s in cat.sensors:
        phase = rng.uniform(0, s.update_interval_s)
        for t in np.arange(phase, 600.0, s.update_interval_s):
            for _ in range(rng.poisson(20 * s.false_alarms_per_scan)):
                n += 1
                plots.append(_clutter(s, float(t), f"c{n}", rng))
    plots.sort(key=lambda m: m.t)
    tracker = Tracker(cat)
    updates = tracker.process(plots) + tracker.finish()
    assert len(plots) > 2000
    assert not [u for u in updates if u.status == "confirmed"]


def _clutter(
    s: RadarEntry | InfraredEntry, t: float, mid: str, rng: np.random.Generator
) -> Measurement:
    if isinstance(s, RadarEntry):
        a0, a1 = s.azimuth_sector_deg or (0.0, 360.0)
        width = (a1 - a0) % 360.0 or 360.0
        return RadarMeasurement(
            id=mid,
            t=t,
            sensor=s.id,
            range_m=rng.uniform(s.min_range_m, s.max_range_m),
            az_deg=(a0 + rng.uniform(0, width)) % 360.0,
            el_deg=rng.uniform(s.elevation_mask_deg, s.max_elevation_deg),
            range_rate_mps=None if s.range_rate_sigma_mps is None else rng.uniform(-3e3, 3e3),
        )
    sat = np.asarray(s.ecef_m)
    ground = geodetic_to_ecef(rng.uniform(-60, 60), s.lon_deg + rng.uniform(-60, 60), 0.0)
    los = (ground - sat) / np.linalg.norm(ground - sat)
    return InfraredMeasurement(
        id=mid,
        t=t,
        sensor=s.id,
        los=(float(los[0]), float(los[1]), float(los[2])),
        sensor_ecef_m=s.ecef_m,
    )


def _slv_infrared() -> SensorCatalogue:
    """The two infrared satellites of the shipped satellite-launch scenario."""
    sc = load_scenario(ROOT / "scenarios" / "slv-okinawa.toml")
    cat = sensor_catalogue(sc.sensors, sc.epoch)
    return msgspec.structs.replace(
        cat, sensors=[s for s in cat.sensors if isinstance(s, InfraredEntry)]
    )


def _frames(cat: SensorCatalogue, t0: float, t1: float) -> list[tuple[float, InfraredEntry]]:
    """Every frame of the satellites in [t0, t1): lockstep, 30 ms apart (the worst case for
    a stereo confirmation: both views of one moment)."""
    out = []
    for k, s in enumerate(cat.sensors):
        assert isinstance(s, InfraredEntry)
        out += [(float(t), s) for t in np.arange(t0, t1, s.update_interval_s) + 0.03 * k]
    return sorted(out, key=lambda f: f[0])


def _booster_plots(
    cat: SensorCatalogue, frames: list[tuple[float, InfraredEntry]], rng: np.random.Generator
) -> list[Measurement]:
    """Noisy lines of sight to a booster climbing at 1.2 km/s (and 0.8 km/s southwards)
    from 20 km at t = 50 s over the Yellow Sea."""
    plots: list[Measurement] = []
    for t, s in frames:
        dt = t - 50.0
        r = geodetic_to_ecef(39.0 - 0.8 * dt / 111.0, 124.7, 20e3 + 1200.0 * dt + 15.0 * dt * dt)
        sat = np.asarray(s.ecef_m)
        los = perturb(unit((r - sat)[None]), s.los_sigma_rad, rng)[0]
        plots.append(
            InfraredMeasurement(
                id=f"b{len(plots)}", t=t, sensor=s.id, los=vec3(los), sensor_ecef_m=s.ecef_m
            )
        )
    return plots


def _first_confirmed(plots: list[Measurement], cat: SensorCatalogue) -> float | None:
    tracker = Tracker(cat)
    ups = tracker.process(plots)
    return min((u.t for u in ups if u.status == "confirmed"), default=None)


def test_two_satellites_confirm_a_booster_at_the_third_plot() -> None:
    """Seen from two satellites the booster is confirmed by its third plot; seen by one
    it takes the full M of N (four plots)."""
    cat = _slv_infrared()
    frames = _frames(cat, 50.0, 70.0)
    plots = _booster_plots(cat, frames, np.random.default_rng(3))
    times = sorted(m.t for m in plots)
    assert _first_confirmed(plots, cat) == times[2]  # 50.0 (GEO1), 50.03 (GEO2), 52.0
    one = [m for m in plots if m.sensor == cat.sensors[0].id]
    assert _first_confirmed(one, cat) == sorted(m.t for m in one)[3]


def test_infrared_false_alarms_from_two_satellites_never_confirm() -> None:
    """Clutter drawn as the sensor model draws it (uniform over the Earth's disc), 20
    times the shipped rate, in frames taken at the same moment by both satellites: pairs
    of false plots may pass each other's gate, but none gets the third hit."""
    cat = _slv_infrared()
    rng = np.random.default_rng(11)
    plots: list[Measurement] = []
    for t, s in _frames(cat, 0.0, 1200.0):
        sat = np.asarray(s.ecef_m)
        for los in earth_disc_los(sat, rng.poisson(20 * s.false_alarms_per_scan), rng):
            plots.append(
                InfraredMeasurement(
                    id=f"c{len(plots)}", t=t, sensor=s.id, los=vec3(los), sensor_ecef_m=s.ecef_m
                )
            )
    assert len(plots) > 1500
    tracker = Tracker(cat)
    updates = tracker.process(plots) + tracker.finish()
    assert not [u for u in updates if u.status == "confirmed"]
    seen_by: dict[str, set[str | None]] = {}
    for u in updates:
        seen_by.setdefault(u.track_id, set()).add(u.sensor_id)
    stereo = [k for k, v in seen_by.items() if len(v - {None}) == 2]
    assert stereo  # false pairs did pass the gate: the stereo rule was put to the test
