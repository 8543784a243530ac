"""Earth gravity: point mass plus the J2 zonal term, in any frame sharing Earth's axis.

J2 is the only term that matters over a missile flight (tens of km over an ICBM range);
higher harmonics move an impact by tens of metres at most. Both the acceleration and the
potential are given so that energy conservation can be checked against each other.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from warnlink.geo.frames import A_WGS84, GM_EARTH, J2_EARTH

F64 = NDArray[np.float64]

_J2_FACTOR = 1.5 * J2_EARTH * A_WGS84 * A_WGS84


def gravity(r: ArrayLike, j2: bool = True) -> F64:
    """Gravitational acceleration (m/s^2) at positions r (..., 3), z along Earth's axis.

    Written per component (no reductions over the short last axis, no stacking): the
    tracker calls this on a few hundred rows at a time, where numpy call overhead rules.
    """
    p: F64 = np.asarray(r, float)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    z2 = z * z
    r2 = x * x + y * y + z2
    a = -GM_EARTH / (r2 * np.sqrt(r2))
    if not j2:
        return a[..., None] * p
    k = _J2_FACTOR / r2
    zz5 = 5.0 * (z2 / r2)
    f_xy = a * (1.0 + k * (1.0 - zz5))
    out = np.empty_like(p)
    np.multiply(x, f_xy, out=out[..., 0])
    np.multiply(y, f_xy, out=out[..., 1])
    np.multiply(z, a * (1.0 + k * (3.0 - zz5)), out=out[..., 2])
    return out


def potential(r: ArrayLike, j2: bool = True) -> F64:
    """Gravitational potential energy per unit mass (J/kg, negative) at positions r (..., 3)."""
    p: F64 = np.asarray(r, float)
    r2: F64 = np.einsum("...i,...i->...", p, p)
    u = -GM_EARTH / np.sqrt(r2)
    if not j2:
        return u
    zz = p[..., 2] * p[..., 2] / r2
    return u * (1.0 - 0.5 * J2_EARTH * A_WGS84 * A_WGS84 / r2 * (3.0 * zz - 1.0))
