"""Space-based infrared: lines of sight from a satellite fixed in ECEF to burning objects.

An object is seen when it burns, its geodetic altitude is at least min_altitude_m (below
that the plume is lost in the atmosphere and clutter) and the straight line of sight does
not pass through the WGS84 ellipsoid.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from warnlink.geo.frames import A_WGS84, ecef_to_geodetic, geodetic_to_ecef
from warnlink.scenario.model import InfraredSpec
from warnlink.sensors.batch import InfraredBatch
from warnlink.sensors.earth import hidden_by_earth, ray_hits_earth
from warnlink.sensors.scans import Scans, false_alarm_scans, report_order

F64 = NDArray[np.float64]


def unit(x: F64) -> F64:
    return np.asarray(x / np.linalg.norm(x, axis=-1, keepdims=True), dtype=np.float64)


def perpendicular_basis(u: F64) -> tuple[F64, F64]:
    """Two unit vectors (n, 3) completing unit vectors u (n, 3) to right-handed bases."""
    ref = np.where(np.abs(u[:, 2:]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = unit(np.cross(u, ref))
    return e1, np.cross(u, e1)


def perturb(los: F64, sigma: float, g: np.random.Generator) -> F64:
    """Isotropic angular noise: u + σ(n1·e1 + n2·e2), re-normalised, n1, n2 ~ N(0, 1).

    So the gnomonic (tangent-plane) coordinates of the result about the truth are exactly
    σ·n; the angular error is atan(σ|n|) ≈ σ|n|.
    """
    e1, e2 = perpendicular_basis(los)
    n = sigma * g.standard_normal((los.shape[0], 2))
    return unit(los + n[:, :1] * e1 + n[:, 1:] * e2)


def earth_disc_los(sat: F64, n: int, g: np.random.Generator) -> F64:
    """n lines of sight uniform in solid angle over the Earth's disc seen from sat.

    Drawn uniformly in the cone that just holds the sphere of the equatorial radius, and
    redrawn where they miss the ellipsoid (a fraction of about the flattening, near the
    limb), so they are exactly uniform over the ellipsoid's disc.
    """
    centre = -unit(sat[None, :])
    e1, e2 = perpendicular_basis(centre)
    cos_half = np.sqrt(1.0 - min(A_WGS84 / float(np.linalg.norm(sat)), 1.0) ** 2)
    out = np.zeros((0, 3))
    while out.shape[0] < n:
        m = n - out.shape[0]
        cos_t = 1.0 - g.random(m) * (1.0 - cos_half)
        phi = g.uniform(0.0, 2.0 * np.pi, m)[:, None]
        sin_t = np.sqrt(1.0 - cos_t**2)[:, None]
        d = cos_t[:, None] * centre + sin_t * (np.cos(phi) * e1 + np.sin(phi) * e2)
        out = np.concatenate([out, d[ray_hits_earth(sat, d)]])
    return out


def observe_infrared(spec: InfraredSpec, scans: Scans, g: np.random.Generator) -> InfraredBatch:
    """All reports of one infrared sensor over its scans: detections and false alarms."""
    sat = geodetic_to_ecef(spec.sat_lat_deg, spec.sat_lon_deg, spec.sat_alt_m)
    visible = (
        scans.burning
        & (ecef_to_geodetic(scans.r)[2] >= spec.min_altitude_m)
        & ~hidden_by_earth(sat, scans.r)
    )
    idx = np.flatnonzero(visible)
    idx = idx[g.random(idx.size) < spec.detection_probability]
    los = perturb(unit(scans.r[idx] - sat), spec.los_sigma_rad, g)
    fa_scan = false_alarm_scans(scans.t.size, spec.false_alarms_per_scan, g)
    scan = np.concatenate([scans.scan[idx], fa_scan])
    order = report_order(scan, g)
    return InfraredBatch(
        sensor_id=spec.id,
        t=scans.t[scan[order]],
        los=np.concatenate([los, earth_disc_los(sat, fa_scan.size, g)])[order],
        sensor_ecef_m=np.tile(sat, (scan.size, 1)),
        truth=np.concatenate([scans.obj[idx], np.full(fa_scan.size, -1, np.int64)])[order],
        objects=scans.objects,
    )
