"""Where on the map a radar can see an object flying at a given altitude.

Computed as a signed margin in metres (positive inside) rather than a yes/no mask, so a
contour at zero is interpolated between grid points and the footprint edge is smooth
on a coarse grid.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from warnlink.geo.frames import ecef_to_enu, enu_basis, enu_to_aer, geodetic_to_ecef
from warnlink.scenario.model import RadarSpec

F64 = NDArray[np.float64]
TWO_PI = 2.0 * np.pi


def sector_margin_rad(az: ArrayLike, sector: tuple[float, float]) -> F64:
    """Angle from az to the nearer sector edge (clockwise from `from` to `to`), + inside.

    Works for sectors that wrap through north, e.g. (5.5, 0.8).
    """
    a = np.asarray(az, float)
    start, end = sector
    span = np.mod(end - start, TWO_PI)
    into = np.mod(a - start, TWO_PI)  # clockwise angle past the start edge
    inside = into <= span
    margin_in = np.minimum(into, span - into)
    margin_out = np.minimum(into - span, TWO_PI - into)
    return np.asarray(np.where(inside, margin_in, -margin_out), float)


def radar_margin_m(radar: RadarSpec, lon_deg: ArrayLike, lat_deg: ArrayLike, alt_m: float) -> F64:
    """Signed distance-like margin (m) of points at alt_m to the radar's coverage limits.

    Each limit becomes metres: range limits directly; angular ones (elevation mask and
    ceiling, azimuth sector) times the distance at which the angle is seen. The minimum over
    limits is >= 0 exactly where the radar covers the point. Earth blockage is the
    elevation mask itself (the radar frame is the local geodetic one).
    """
    lon, lat = np.broadcast_arrays(np.asarray(lon_deg, float), np.asarray(lat_deg, float))
    site = geodetic_to_ecef(radar.lat_deg, radar.lon_deg, radar.alt_m)
    basis = enu_basis(radar.lat_deg, radar.lon_deg)
    enu = ecef_to_enu(geodetic_to_ecef(lat, lon, np.full(lat.shape, alt_m)), site, basis)
    az, el, rng = enu_to_aer(enu)
    margins = [
        radar.max_range_m - rng,
        rng - radar.min_range_m,
        (el - radar.elevation_mask_rad) * rng,
        (radar.max_elevation_rad - el) * rng,
    ]
    if radar.azimuth_sector_rad is not None:
        margins.append(sector_margin_rad(az, radar.azimuth_sector_rad) * rng * np.cos(el))
    return np.asarray(np.minimum.reduce(margins), float)
