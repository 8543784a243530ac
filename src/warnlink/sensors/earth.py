"""Earth blockage of straight lines of sight by the WGS84 ellipsoid (terrain ignored).

Both tests work in coordinates scaled by (1/a, 1/a, 1/b), where the ellipsoid is the
unit sphere: the map is linear, so lines stay straight and the test is a quadratic.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from warnlink.geo.frames import A_WGS84, B_WGS84

F64 = NDArray[np.float64]
_SCALE = np.array([1.0 / A_WGS84, 1.0 / A_WGS84, 1.0 / B_WGS84])


def hidden_by_earth(origin: F64, targets: F64) -> NDArray[np.bool_]:
    """Whether the segment from origin (3,) to each target (n, 3) passes inside the ellipsoid.

    Only the segment's interior counts, so an end point on or just under the surface (a
    site at sea level, an object at impact) does not hide itself.
    """
    p = origin * _SCALE
    d = (targets - origin) * _SCALE
    s = -(d @ p) / np.maximum(np.einsum("ij,ij->i", d, d), np.finfo(float).tiny)
    closest = p + s[:, None] * d
    inside = np.einsum("ij,ij->i", closest, closest) < 1.0
    return np.asarray((s > 0.0) & (s < 1.0) & inside, dtype=np.bool_)


def ray_hits_earth(origin: F64, directions: F64) -> NDArray[np.bool_]:
    """Whether rays from origin (3,), outside the ellipsoid, along directions (n, 3) hit it."""
    p = origin * _SCALE
    d = directions * _SCALE
    b = d @ p
    return np.asarray(
        (b < 0.0) & (b * b >= np.einsum("ij,ij->i", d, d) * (p @ p - 1.0)), dtype=np.bool_
    )
