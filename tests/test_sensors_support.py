"""Shared helpers of the sensor tests (no tests here): synthetic truth, specs, statistics.

Reference geometry comes from pymap3d, not from warnlink.geo, so that the tests check
the sensor models against an independent implementation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pymap3d
import pymap3d.los
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from warnlink.physics.truth import ObjectTrack, Truth
from warnlink.scenario.model import InfraredSpec, RadarSpec

F64 = NDArray[np.float64]
GEO_ALT_M = 35_786e3


def line_track(
    object_id: str,
    r0: ArrayLike,
    v: ArrayLike,
    t0: float = 0.0,
    t1: float = 600.0,
    burning: ArrayLike = True,
    n: int = 5,
) -> ObjectTrack:
    """Uniform straight-line motion (which Hermite interpolation reproduces exactly)."""
    t = np.linspace(t0, t1, n)
    vel = np.asarray(v, float)
    return ObjectTrack(
        object_id=object_id,
        flight_id=object_id,
        launch_id=object_id,
        kind="rv",
        t=t,
        r=np.asarray(r0, float) + (t - t0)[:, None] * vel,
        v=np.tile(vel, (n, 1)),
        burning=np.broadcast_to(np.asarray(burning, bool), (n,)).copy(),
    )


def truth_of(*tracks: ObjectTrack) -> Truth:
    return Truth(objects=list(tracks), events=[])


def radar(**changes: Any) -> RadarSpec:
    base = RadarSpec(
        id="R1",
        party="AA",
        platform="ground",
        lat_deg=35.0,
        lon_deg=40.0,
        alt_m=100.0,
        max_range_m=3000e3,
        elevation_mask_rad=0.0,
        range_sigma_m=50.0,
        angle_sigma_rad=2e-3,
        update_interval_s=2.0,
        detection_probability=1.0,
        false_alarms_per_scan=0.0,
        max_elevation_rad=np.radians(85.0),
        range_rate_sigma_mps=5.0,
    )
    return dataclasses.replace(base, **changes)


def infrared(**changes: Any) -> InfraredSpec:
    base = InfraredSpec(
        id="IR1",
        party="AA",
        sat_lat_deg=0.0,
        sat_lon_deg=40.0,
        sat_alt_m=GEO_ALT_M,
        los_sigma_rad=1e-4,
        update_interval_s=1.0,
        detection_probability=1.0,
        false_alarms_per_scan=0.0,
        min_altitude_m=0.0,
    )
    return dataclasses.replace(base, **changes)


def ecef(lat_deg: ArrayLike, lon_deg: ArrayLike, alt_m: ArrayLike) -> F64:
    return np.stack(pymap3d.geodetic2ecef(lat_deg, lon_deg, alt_m), axis=-1)


def aer(r: F64, lat: float, lon: float, alt: float) -> tuple[F64, F64, F64]:
    """Reference azimuth, elevation (rad) and range of ECEF points seen from a site."""
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    az, el, rng = pymap3d.ecef2aer(x, y, z, np.radians(lat), np.radians(lon), alt, deg=False)
    return np.asarray(az), np.asarray(el), np.asarray(rng)


def from_aer(
    az: ArrayLike, el: ArrayLike, rng: ArrayLike, lat: float, lon: float, alt: float
) -> F64:
    """Reference ECEF points (..., 3) at azimuth, elevation (rad) and range from a site."""
    x, y, z = pymap3d.aer2ecef(az, el, rng, np.radians(lat), np.radians(lon), alt, deg=False)
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def earth_between(r: F64, lat: float, lon: float, alt: float) -> NDArray[np.bool_]:
    """Whether the Earth ellipsoid blocks the line from a site (alt > 0) to points r (n, 3)."""
    az, el, rng = aer(r, lat, lon, alt)
    tilt = el + np.pi / 2  # from nadir
    _, _, hit = pymap3d.los.lookAtSpheroid(
        np.radians(lat), np.radians(lon), alt, az, tilt, deg=False
    )
    return np.asarray(np.asarray(hit) < rng - 1.0)


def states(truth: Truth, t: F64, idx: NDArray[np.int64]) -> tuple[F64, F64]:
    """True ECEF position and velocity of object idx[i] at t[i]."""
    r, v = np.empty((t.size, 3)), np.empty((t.size, 3))
    for k, track in enumerate(truth.objects):
        m = idx == k
        r[m], v[m], _, _ = track.state_at(t[m])
    return r, v


def chi2_p(z: F64) -> float:
    """Two-sided p-value of sum(z²) under z ~ N(0, 1) iid."""
    q = float(np.sum(z**2))
    return float(2 * min(stats.chi2.cdf(q, z.size), stats.chi2.sf(q, z.size)))


def assert_sigma(residuals: F64, sigma: float, alpha: float = 1e-3) -> None:
    """The residuals fit sigma, and the sample is large enough to reject sigma off by 10%."""
    assert chi2_p(residuals / sigma) > alpha
    assert chi2_p(residuals / (1.1 * sigma)) < alpha
    assert chi2_p(residuals / (0.9 * sigma)) < alpha


def assert_binomial(successes: int, trials: int, p: float, alpha: float = 1e-3) -> None:
    assert stats.binomtest(successes, trials, p).pvalue > alpha


def assert_poisson_counts(counts: NDArray[np.int64], rate: float, alpha: float = 1e-3) -> None:
    """The total matches the rate, and the dispersion index that of a Poisson process."""
    total, n = int(counts.sum()), counts.size
    assert (
        min(stats.poisson.cdf(total, rate * n), stats.poisson.sf(total - 1, rate * n)) > alpha / 2
    )
    dispersion = float(np.sum((counts - counts.mean()) ** 2) / counts.mean())
    assert min(stats.chi2.cdf(dispersion, n - 1), stats.chi2.sf(dispersion, n - 1)) > alpha / 2
