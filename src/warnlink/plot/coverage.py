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
from warnlink.sensors.radar import coverage_margin_m

F64 = NDArray[np.float64]


def radar_margin_m(radar: RadarSpec, lon_deg: ArrayLike, lat_deg: ArrayLike, alt_m: float) -> F64:
    """Signed margin (m) of points at alt_m to the radar's coverage, >= 0 where it sees.

    The sensor model's own coverage_margin_m, so the map shows what the simulated radar
    does. Earth blockage is the elevation mask itself for masks >= 0.
    """
    lon, lat = np.broadcast_arrays(np.asarray(lon_deg, float), np.asarray(lat_deg, float))
    site = geodetic_to_ecef(radar.lat_deg, radar.lon_deg, radar.alt_m)
    basis = enu_basis(radar.lat_deg, radar.lon_deg)
    enu = ecef_to_enu(geodetic_to_ecef(lat, lon, np.full(lat.shape, alt_m)), site, basis)
    az, el, rng = enu_to_aer(enu)
    return coverage_margin_m(radar, az, el, rng)
