"""Radar model: coverage limits on the true position, noise statistics, Pd and clutter."""

from __future__ import annotations

import numpy as np
import pymap3d
import pytest
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
    from_aer,
    line_track,
    radar,
    states,
    truth_of,
)
from warnlink.geo.frames import aer_to_enu
from warnlink.physics.truth import Truth
from warnlink.scenario.model import RadarSpec
from warnlink.sensors.batch import RadarBatch
from warnlink.sensors.observe import observe
from warnlink.sensors.radar import sector_margin_rad

TAU = 2 * np.pi


def run(spec: RadarSpec, truth: Truth, t_end: float = 600.0, seed: int = 1) -> RadarBatch:
    (batch,) = observe([spec], truth, 0.0, t_end, np.random.default_rng(seed))
    assert isinstance(batch, RadarBatch)
    return batch


def in_sector(
    az: NDArray[np.float64], start: float, end: float, tol: float = 0.0
) -> NDArray[np.bool_]:
    """Sector test written as intervals, unlike the model's modular arithmetic."""
    if start <= end:
        return (az >= start - tol) & (az <= end + tol)
    return (az >= start - tol) | (az <= end + tol)


def fleet(n: int, spec: RadarSpec, seed: int) -> Truth:
    """Slow objects inside the coverage of `spec` (el 10–60°, range 300–1500 km at t = 0)."""
    g = np.random.default_rng(seed)
    az, el = g.uniform(0, TAU, n), np.radians(g.uniform(10, 60, n))
    rng = g.uniform(300e3, 1500e3, n)
    r0 = from_aer(az, el, rng, spec.lat_deg, spec.lon_deg, spec.alt_m)
    v = g.normal(0, 50, (n, 3))
    return truth_of(
        *(
            line_track(
                f"O{k}",
                r0[k],
                v[k],
            )
            for k in range(n)
        )
    )


sectors = st.one_of(
    st.none(),
    st.tuples(st.floats(0, TAU - 1e-9), st.floats(0.1, TAU - 0.1)).map(
        lambda s: (s[0], (s[0] + s[1]) % TAU)
    ),
)


@settings(max_examples=40, deadline=None)
@given(
    lat=st.floats(-70, 70),
    lon=st.floats(-180, 180),
    alt=st.floats(10, 3000),
    mask_deg=st.floats(-2, 6),
    el_span_deg=st.floats(1, 100),
    min_range=st.floats(0, 200e3),
    range_span=st.floats(100e3, 4000e3),
    sector=sectors,
    seed=st.integers(0, 2**32 - 1),
)
def test_true_position_of_every_plot_is_covered(
    lat: float,
    lon: float,
    alt: float,
    mask_deg: float,
    el_span_deg: float,
    min_range: float,
    range_span: float,
    sector: tuple[float, float] | None,
    seed: int,
) -> None:
    mask = np.radians(mask_deg)
    max_el = min(mask + np.radians(el_span_deg), np.pi / 2)
    spec = radar(
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        elevation_mask_rad=mask,
        max_elevation_rad=max_el,
        min_range_m=min_range,
        max_range_m=min_range + range_span,
        azimuth_sector_rad=sector,
        false_alarms_per_scan=1.0,
        update_interval_s=10.0,
    )
    g = np.random.default_rng(seed)
    n = 30
    r0 = np.concatenate(
        [  # anywhere around, and near the horizon (some of these behind the Earth)
            ecef(lat + g.uniform(-25, 25, n), lon + g.uniform(-25, 25, n), g.uniform(1e3, 1e6, n)),
            from_aer(
                g.uniform(0, TAU, n),
                np.radians(g.uniform(-2, 1, n)),
                1e3 * g.uniform(50, 900, n),
                lat,
                lon,
                alt,
            ),
        ]
    )
    v = g.normal(0, 500, (2 * n, 3))
    truth = truth_of(*(line_track(f"O{k}", r0[k], v[k], t1=100.0) for k in range(2 * n)))
    batch = run(spec, truth, t_end=100.0, seed=seed)

    det = batch.truth >= 0
    r, _ = states(truth, batch.t[det], batch.truth[det])
    az, el, rng = aer(r, lat, lon, alt)
    start, end = sector or (0.0, TAU)
    assert np.all((rng >= min_range - 1e-6) & (rng <= spec.max_range_m + 1e-6))
    assert np.all((el >= mask - 1e-9) & (el <= max_el + 1e-9))
    assert np.all(in_sector(az, start, end, 1e-9))
    above_ground = pymap3d.ecef2geodetic(*r.T)[2] > 0  # an end under the surface is not hidden
    assert not np.any(earth_between(r[above_ground], lat, lon, alt))

    # Pd = 1: at every scan, every object clearly inside the coverage is reported.
    fa = ~det
    for t in np.unique(batch.t):
        alive = [k for k, o in enumerate(truth.objects) if o.t_start <= t <= o.t_end]
        r_all, _ = states(truth, np.full(len(alive), t), np.array(alive, dtype=np.int64))
        a, e, d = aer(r_all, lat, lon, alt)
        clear = (
            (d > min_range + 1.0)
            & (d < spec.max_range_m - 1.0)
            & (e > max(mask, 0.0) + 1e-6)
            & (e < max_el - 1e-6)
            & in_sector(a, start, end, -1e-6)
        )
        seen = set(batch.truth[det & (batch.t == t)])
        assert {k for k, c in zip(alive, clear, strict=True) if c} <= seen

    # False alarms are drawn inside the coverage too.
    assert np.all((batch.range_m[fa] >= min_range) & (batch.range_m[fa] <= spec.max_range_m))
    assert np.all((batch.el_rad[fa] >= mask) & (batch.el_rad[fa] <= max_el))
    assert np.all(in_sector(batch.az_rad[fa], start, end, 1e-9))
    assert np.all((batch.az_rad >= 0) & (batch.az_rad < TAU))


def test_objects_behind_the_horizon_are_not_seen() -> None:
    """A mast radar with a negative mask sees down to its horizon dip (0.18° at 30 m)."""
    spec = radar(lat_deg=0.0, lon_deg=0.0, alt_m=30.0, elevation_mask_rad=np.radians(-1.0))
    el = np.radians([-0.1, -0.3, -0.9])
    r = from_aer(np.pi / 2, el, 200e3, 0.0, 0.0, 30.0)
    truth = truth_of(*(line_track(f"O{k}", r[k], np.zeros(3)) for k in range(3)))
    batch = run(spec, truth)
    assert set(batch.truth) == {0}


def test_noise_matches_the_configured_sigmas() -> None:
    spec = radar()
    truth = fleet(20, spec, seed=5)
    batch = run(spec, truth)
    assert batch.t.size == 20 * 300
    r, v = states(truth, batch.t, batch.truth)
    site = (spec.lat_deg, spec.lon_deg, spec.alt_m)
    az, el, rng = aer(r, *site)
    h = 1e-2
    rate = (aer(r + h * v, *site)[2] - aer(r - h * v, *site)[2]) / (2 * h)
    assert_sigma(batch.range_m - rng, spec.range_sigma_m)
    assert_sigma(np.angle(np.exp(1j * (batch.az_rad - az))), spec.angle_sigma_rad)
    assert_sigma(batch.el_rad - el, spec.angle_sigma_rad)
    assert_sigma(batch.range_rate_mps - rate, 5.0)


def test_detection_fraction_matches_pd() -> None:
    spec, truth = radar(detection_probability=0.7), fleet(20, radar(), seed=6)
    visible = run(radar(), truth, seed=2).t.size  # same scans: the phase is drawn first
    assert visible > 5000
    assert_binomial(run(spec, truth, seed=2).t.size, visible, 0.7)


def test_false_alarms_are_poisson_and_uniform_over_the_coverage() -> None:
    rate, sector = 2.5, (np.radians(300.0), np.radians(40.0))
    spec = radar(
        false_alarms_per_scan=rate,
        azimuth_sector_rad=sector,
        min_range_m=50e3,
        elevation_mask_rad=np.radians(2.0),
        update_interval_s=0.5,
    )
    marker = from_aer(0.0, np.radians(30.0), 800e3, spec.lat_deg, spec.lon_deg, spec.alt_m)
    batch = run(spec, truth_of(line_track("O", marker, np.zeros(3), t1=1000.0)), t_end=1000.0)
    scans, scan_of = np.unique(batch.t, return_inverse=True)
    assert scans.size == 2000
    fa = batch.truth == -1
    assert_poisson_counts(np.bincount(scan_of[fa], minlength=scans.size), rate)
    uniform = stats.uniform.cdf
    for values, lo, hi in [
        (batch.range_m[fa], 50e3, spec.max_range_m),
        (np.mod(batch.az_rad[fa] - sector[0], TAU), 0.0, TAU - sector[0] + sector[1]),
        (batch.el_rad[fa], spec.elevation_mask_rad, spec.max_elevation_rad),
        (batch.range_rate_mps[fa], -3000.0, 3000.0),
    ]:
        assert stats.kstest(values, uniform, args=(lo, hi - lo)).pvalue > 1e-3


def test_values_stay_valid_overhead_and_range_rate_is_nan_unless_measured() -> None:
    """Past the zenith the elevation folds back with az + π: the direction is kept."""
    spec = radar(
        angle_sigma_rad=0.05,
        range_sigma_m=2e3,
        max_elevation_rad=np.pi / 2,
        range_rate_sigma_mps=None,
    )
    r = from_aer(0.0, np.pi / 2, 3e3, 35.0, 40.0, 100.0)
    batch = run(spec, truth_of(line_track("O", r, np.zeros(3))))
    assert np.all(np.abs(batch.el_rad) <= np.pi / 2)
    assert np.all((batch.az_rad >= 0) & (batch.az_rad < TAU))
    assert np.all(batch.range_m >= 0)
    assert np.all(np.isnan(batch.range_rate_mps))
    up = aer_to_enu(batch.az_rad, batch.el_rad, 1.0)[:, 2]
    assert np.all(up > np.cos(6 * spec.angle_sigma_rad))
    assert np.any(np.abs(np.angle(np.exp(1j * batch.az_rad))) > 2.0)  # some folded


def test_sector_of_a_whole_turn_is_all_round() -> None:
    truth = fleet(20, radar(), seed=8)
    everywhere = run(radar(), truth).t.size
    assert run(radar(azimuth_sector_rad=(1.0, 1.0 + TAU)), truth).t.size == everywhere


def test_sector_margin_wraps_through_north() -> None:
    spec = radar(azimuth_sector_rad=(np.radians(300.0), np.radians(60.0)))
    m = sector_margin_rad(np.radians([0.0, 310.0, 50.0, 90.0, 180.0, 290.0]), spec)
    assert list(m > 0) == [True, True, True, False, False, False]
    assert m[0] == pytest.approx(np.radians(60.0))
    assert m[3] == pytest.approx(np.radians(-30.0))
    assert m[5] == pytest.approx(np.radians(-10.0))
