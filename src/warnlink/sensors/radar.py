"""Radar plots (range, azimuth, elevation, range rate) of the truth, with noise and clutter.

Geometry is straight-line in the radar's local geodetic (ENU) frame: elevation is taken
from the site's horizontal plane, so the Earth's curvature is already in it (far objects
sink below the horizon). There is no atmospheric refraction (no 4/3-Earth radius), so the
radio horizon is the geometric one.
An object is visible when its true position is within [min_range, max_range], within
[elevation mask, max elevation], inside the azimuth sector and not behind the WGS84
ellipsoid (which matters only for a negative mask). Noise is added after that test, so a
reported (noisy) value may fall just outside those limits; the true one never does.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from warnlink.geo.frames import enu_basis, enu_to_aer, geodetic_to_ecef
from warnlink.scenario.model import RadarSpec
from warnlink.sensors.batch import RadarBatch
from warnlink.sensors.earth import hidden_by_earth
from warnlink.sensors.scans import Scans, false_alarm_scans, report_order

F64 = NDArray[np.float64]
TAU = 2.0 * np.pi
FALSE_ALARM_MAX_RANGE_RATE_MPS = 3000.0


def wrap_angle(a: F64) -> F64:
    """Angles into [0, 2π); np.mod alone can round a tiny negative angle up to 2π."""
    w = np.mod(a, TAU)
    return np.where(w < TAU, w, 0.0)


def sector(spec: RadarSpec) -> tuple[float, float]:
    """Start and clockwise width of the azimuth sector; (0, 2π) when all round.

    Ends a whole turn apart, e.g. (0, 2π), also mean all round, not an empty sector.
    """
    ends = spec.azimuth_sector_rad
    if ends is None or abs(ends[1] - ends[0]) >= TAU - 1e-9:
        return 0.0, TAU
    return ends[0] % TAU, (ends[1] - ends[0]) % TAU


def sector_margin_rad(az: ArrayLike, spec: RadarSpec) -> F64:
    """Angle from az to the nearer edge of the azimuth sector, positive inside.

    The sector runs clockwise from `from` to `to` and may wrap through north.
    """
    a = np.asarray(az, float)
    start, width = sector(spec)
    if width >= TAU:
        return np.full(a.shape, np.inf)
    into = np.mod(a - start, TAU)  # clockwise angle past the start edge
    inside = into <= width
    return np.asarray(
        np.where(inside, np.minimum(into, width - into), -np.minimum(into - width, TAU - into)),
        float,
    )


def coverage_margin_m(spec: RadarSpec, az: F64, el: F64, rng: F64) -> F64:
    """Signed margin (m) of true az/el/range to the radar's limits: >= 0 exactly when seen.

    Each limit becomes metres (angles times the distance at which they are seen), so the
    one function decides visibility here and draws smooth footprint edges on a coarse
    grid in the plots. Earth blockage is separate (hidden_by_earth).
    """
    margins = [
        spec.max_range_m - rng,
        rng - spec.min_range_m,
        (el - spec.elevation_mask_rad) * rng,
        (spec.max_elevation_rad - el) * rng,
    ]
    if sector(spec)[1] < TAU:
        margins.append(sector_margin_rad(az, spec) * rng * np.cos(el))
    return np.asarray(np.minimum.reduce(margins), float)


def true_plots(spec: RadarSpec, r: F64, v: F64) -> tuple[F64, F64, F64, F64, NDArray[np.bool_]]:
    """Azimuth, elevation, range, range rate and visibility of ECEF states (n, 3)."""
    site = geodetic_to_ecef(spec.lat_deg, spec.lon_deg, spec.alt_m)
    az, el, rng = enu_to_aer((r - site) @ enu_basis(spec.lat_deg, spec.lon_deg).T)
    # d(range)/dt; the clamp only avoids 0/0 for an object exactly at the site.
    rate = np.einsum("ij,ij->i", r - site, v) / np.maximum(rng, 1e-9)
    visible = (coverage_margin_m(spec, az, el, rng) >= 0.0) & ~hidden_by_earth(site, r)
    return az, el, rng, rate, visible


def add_noise(
    spec: RadarSpec, az: F64, el: F64, rng: F64, rate: F64, g: np.random.Generator
) -> tuple[F64, F64, F64, F64]:
    """Independent Gaussian noise on each coordinate, kept to valid spherical values.

    Azimuth noise is in the azimuth angle itself (its cross-range size shrinks as cos el).
    Unclipped, so unbiased: azimuth is wrapped into [0, 2π); an elevation pushed past the
    zenith is folded back (el → π − el, az → az + π), which is the same direction; a
    negative range (true range within a few sigma of the site) is reflected to |range|.
    """
    noise = g.standard_normal((4, az.size))
    el_n = el + spec.angle_sigma_rad * noise[1]
    over = np.abs(el_n) > np.pi / 2
    el_n = np.where(over, np.copysign(np.pi, el_n) - el_n, el_n)
    az_n = wrap_angle(az + spec.angle_sigma_rad * noise[0] + np.where(over, np.pi, 0.0))
    rng_n = np.abs(rng + spec.range_sigma_m * noise[2])
    sigma_rate = spec.range_rate_sigma_mps
    rate_n = rate + sigma_rate * noise[3] if sigma_rate is not None else np.full(az.size, np.nan)
    return az_n, el_n, rng_n, rate_n


def false_plots(spec: RadarSpec, n: int, g: np.random.Generator) -> tuple[F64, F64, F64, F64]:
    """Clutter uniform in range, in azimuth over the sector and in elevation over the band."""
    start, width = sector(spec)
    az = wrap_angle(start + width * g.random(n))
    el = g.uniform(spec.elevation_mask_rad, spec.max_elevation_rad, n)
    rng = g.uniform(spec.min_range_m, spec.max_range_m, n)
    rate = (
        g.uniform(-FALSE_ALARM_MAX_RANGE_RATE_MPS, FALSE_ALARM_MAX_RANGE_RATE_MPS, n)
        if spec.range_rate_sigma_mps is not None
        else np.full(n, np.nan)
    )
    return az, el, rng, rate


def observe_radar(spec: RadarSpec, scans: Scans, g: np.random.Generator) -> RadarBatch:
    """All plots of one radar over its scans: detections of visible objects and clutter."""
    az, el, rng, rate, visible = true_plots(spec, scans.r, scans.v)
    idx = np.flatnonzero(visible)
    idx = idx[g.random(idx.size) < spec.detection_probability]
    plots = add_noise(spec, az[idx], el[idx], rng[idx], rate[idx], g)
    fa_scan = false_alarm_scans(scans.t.size, spec.false_alarms_per_scan, g)
    clutter = false_plots(spec, fa_scan.size, g)
    scan = np.concatenate([scans.scan[idx], fa_scan])
    order = report_order(scan, g)
    az_all, el_all, rng_all, rate_all = (
        np.concatenate(pair)[order] for pair in zip(plots, clutter, strict=True)
    )
    return RadarBatch(
        sensor_id=spec.id,
        t=scans.t[scan[order]],
        range_m=rng_all,
        az_rad=az_all,
        el_rad=el_all,
        range_rate_mps=rate_all,
        truth=np.concatenate([scans.obj[idx], np.full(fa_scan.size, -1, np.int64)])[order],
        objects=scans.objects,
    )
