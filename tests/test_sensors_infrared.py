"""Space-based infrared: what it sees (burning, high, not behind the Earth), noise, clutter."""

from __future__ import annotations

import numpy as np
import pymap3d
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import stats

from test_sensors_support import (
    aer,
    assert_binomial,
    assert_poisson_counts,
    assert_sigma,
    earth_between,
    ecef,
    infrared,
    line_track,
    states,
    truth_of,
)
from warnlink.physics.truth import Truth
from warnlink.scenario.model import InfraredSpec
from warnlink.sensors.batch import InfraredBatch
from warnlink.sensors.observe import observe

F64 = NDArray[np.float64]
A_WGS84 = 6378137.0


def run(spec: InfraredSpec, truth: Truth, t_end: float, seed: int = 1) -> InfraredBatch:
    (batch,) = observe([spec], truth, 0.0, t_end, np.random.default_rng(seed))
    assert isinstance(batch, InfraredBatch)
    return batch


def unit(x: F64) -> F64:
    return np.asarray(x / np.linalg.norm(x, axis=-1, keepdims=True))


def sat_of(spec: InfraredSpec) -> F64:
    return ecef(spec.sat_lat_deg, spec.sat_lon_deg, spec.sat_alt_m)


def plumes(n: int, seed: int, t_end: float) -> Truth:
    """Static burning objects in full view of a GEO satellite over 40° E."""
    g = np.random.default_rng(seed)
    r = ecef(g.uniform(20, 40, n), g.uniform(30, 50, n), g.uniform(100e3, 500e3, n))
    return truth_of(*(line_track(f"O{k}", r[k], np.zeros(3), t1=t_end) for k in range(n)))


def test_sees_only_burning_objects_above_min_altitude() -> None:
    spec = infrared(min_altitude_m=50e3)
    up = ecef(30.0, 40.0, 1.0) - ecef(30.0, 40.0, 0.0)
    r0, v = ecef(30.0, 40.0, 0.0), 1000.0 * up
    truth = truth_of(
        line_track("burning", r0, v, t1=300.0),
        line_track("cold", r0, v, t1=300.0, burning=False),
        line_track("burnout", r0, v, t1=300.0, n=7, burning=[1, 1, 1, 0, 0, 0, 0]),  # at 150 s
    )
    batch = run(spec, truth, t_end=300.0)
    r, _ = states(truth, batch.t, batch.truth)
    assert np.all(pymap3d.ecef2geodetic(*r.T)[2] >= spec.min_altitude_m)
    assert set(batch.truth) == {0, 2}
    for k, (t0, t1) in [(0, (50.0, 300.0)), (2, (50.0, 150.0))]:
        t = batch.t[batch.truth == k]
        assert t.min() - t0 < 1.0 and t1 - t.max() < 1.0  # every scan in between:
        assert np.allclose(np.diff(t), spec.update_interval_s)


@settings(max_examples=40, deadline=None)
@given(
    sat_lat=st.floats(-60, 60),
    sat_lon=st.floats(-180, 180),
    sat_alt=st.floats(500e3, 40_000e3),
    seed=st.integers(0, 2**32 - 1),
)
def test_nothing_behind_the_earth_is_seen(
    sat_lat: float, sat_lon: float, sat_alt: float, seed: int
) -> None:
    spec = infrared(sat_lat_deg=sat_lat, sat_lon_deg=sat_lon, sat_alt_m=sat_alt)
    g = np.random.default_rng(seed)
    n = 60
    lat = np.degrees(np.arcsin(g.uniform(-1, 1, n)))
    r = ecef(lat, g.uniform(-180, 180, n), g.uniform(1e3, 1000e3, n))
    truth = truth_of(*(line_track(f"O{k}", r[k], np.zeros(3), t1=10.0) for k in range(n)))
    batch = run(spec, truth, t_end=10.0, seed=seed)  # one scan
    hidden = earth_between(r, sat_lat, sat_lon, sat_alt)
    assert set(batch.truth) == set(np.flatnonzero(~hidden))


def test_angular_noise_matches_sigma() -> None:
    spec = infrared()
    truth = plumes(20, seed=3, t_end=150.0)
    batch = run(spec, truth, t_end=150.0)
    assert batch.t.size == 3000
    r, _ = states(truth, batch.t, batch.truth)
    u = unit(r - sat_of(spec))
    e1 = unit(np.cross(u, [0.3, -0.5, 0.8]))  # any basis: the noise is isotropic
    e2 = np.cross(u, e1)
    m = batch.los
    along = np.einsum("ij,ij->i", m, u)
    gnomonic = np.concatenate([np.einsum("ij,ij->i", m, e) / along for e in (e1, e2)])
    assert_sigma(gnomonic, spec.los_sigma_rad)
    assert np.allclose(np.linalg.norm(m, axis=1), 1.0)
    assert np.all(batch.sensor_ecef_m == sat_of(spec))


def test_detection_fraction_matches_pd() -> None:
    truth = plumes(20, seed=4, t_end=150.0)
    visible = run(infrared(), truth, t_end=150.0).t.size
    assert visible == 3000
    assert_binomial(run(infrared(detection_probability=0.6), truth, 150.0).t.size, visible, 0.6)


def test_false_alarms_are_poisson_and_uniform_over_the_earth_disc() -> None:
    rate = 1.5
    spec = infrared(false_alarms_per_scan=rate, update_interval_s=0.5)
    batch = run(spec, plumes(1, seed=5, t_end=1000.0), t_end=1000.0)  # the object marks scans
    scans, scan_of = np.unique(batch.t, return_inverse=True)
    assert scans.size == 2000
    fa = batch.truth == -1
    assert_poisson_counts(np.bincount(scan_of[fa], minlength=scans.size), rate)

    sat = sat_of(spec)
    los = batch.los[fa]
    az, el, _ = aer(sat + 1e6 * los, spec.sat_lat_deg, spec.sat_lon_deg, spec.sat_alt_m)
    _, _, hit = pymap3d.los.lookAtSpheroid(
        np.radians(spec.sat_lat_deg),
        np.radians(spec.sat_lon_deg),
        spec.sat_alt_m,
        az,
        el + np.pi / 2,
        deg=False,
    )
    assert not np.any(np.isnan(hit))
    # Uniform in solid angle within the disc: 1 - cos(off-centre angle) is uniform.
    cos_off = los @ -unit(sat)
    cos_rim = np.sqrt(1 - (A_WGS84 / np.linalg.norm(sat)) ** 2)
    assert stats.kstest((1 - cos_off) / (1 - cos_rim), "uniform").pvalue > 1e-3
