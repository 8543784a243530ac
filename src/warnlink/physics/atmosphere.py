"""US Standard Atmosphere 1976 density, 0-1000 km geometric height.

Below 86 km the standard is defined by seven layers of linear molecular-scale temperature
in geopotential height, so density follows exactly from the hydrostatic equation. Above,
the standard comes from diffusion equations per species; we use its published densities
(NOAA-S/T 76-1562, Table I) interpolated with a cubic spline in log density, which
agrees with independent implementations to about 1 % (the log density is far too
curved for linear interpolation: 5 %). The spline is sampled once on a 250 m grid so
that the integrator only pays for a linear table look-up.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.interpolate import CubicSpline

F64 = NDArray[np.float64]

R0_US76 = 6356766.0  # m, radius defining geopotential height
G0 = 9.80665  # m/s^2
M0 = 28.9644  # kg/kmol, sea-level mean molecular weight
R_STAR = 8314.32  # J/(kmol K), the 1976 value of the gas constant
Z_LAYERS_TOP = 86000.0  # m geometric (84,852 m geopotential)
Z_TOP = 1000e3

# Layer bases: geopotential height (m'), molecular-scale temperature gradient (K/m').
_H_BASE = np.array([0.0, 11000.0, 20000.0, 32000.0, 47000.0, 51000.0, 71000.0])
_LAPSE = np.array([-0.0065, 0.0, 0.001, 0.0028, 0.0, -0.0028, -0.002])
_GMR = G0 * M0 / R_STAR


def _layer_bases() -> tuple[F64, F64]:
    """Base temperatures and pressures, chained from sea level as the standard does."""
    t, p = [288.15], [101325.0]
    for k in range(len(_H_BASE) - 1):
        dh, lapse, tb = _H_BASE[k + 1] - _H_BASE[k], _LAPSE[k], t[-1]
        t_top = tb + lapse * dh
        p.append(
            p[-1] * (np.exp(-_GMR * dh / tb) if lapse == 0 else (tb / t_top) ** (_GMR / lapse))
        )
        t.append(t_top)
    return np.array(t), np.array(p)


_T_BASE, _P_BASE = _layer_bases()


def _layered_density(z: F64) -> F64:
    h = R0_US76 * z / (R0_US76 + z)
    k = np.searchsorted(_H_BASE, h, side="right") - 1
    lapse, tb, pb = _LAPSE[k], _T_BASE[k], _P_BASE[k]
    dh = h - _H_BASE[k]
    t = tb + lapse * dh
    safe = np.where(lapse == 0.0, 1.0, lapse)
    p = pb * np.where(lapse == 0.0, np.exp(-_GMR * dh / tb), (tb / t) ** (_GMR / safe))
    return np.asarray(p * M0 / (R_STAR * t), float)


# Published densities above 86 km: geometric height (km), kg/m^3.
_UPPER_KM = np.array(
    [86, 90, 95, 100, 105, 110, 115, 120, 125, 130, 140, 150, 160, 170, 175, 180, 190, 200,
     250, 300, 350, 400, 450, 500, 600, 700, 750, 800, 900, 1000],
    dtype=float,
)  # fmt: skip
_UPPER_RHO = np.array(
    [6.958e-6, 3.416e-6, 1.393e-6, 5.604e-7, 2.325e-7, 9.708e-8, 4.289e-8, 2.222e-8,
     1.291e-8, 8.152e-9, 3.831e-9, 2.076e-9, 1.233e-9, 7.815e-10, 6.339e-10, 5.194e-10,
     3.581e-10, 2.541e-10, 6.073e-11, 1.916e-11, 7.014e-12, 2.803e-12, 1.184e-12,
     5.215e-13, 1.137e-13, 3.070e-14, 1.788e-14, 1.136e-14, 5.759e-15, 3.561e-15]
)  # fmt: skip
_GRID_Z = np.arange(Z_LAYERS_TOP, Z_TOP + 1.0, 250.0)
# The table starts from the layered model's own 86 km value (the published 6.958e-6 is
# rounded), so density is continuous and monotonic across the junction.
_GRID_LN_RHO = CubicSpline(
    _UPPER_KM * 1e3,
    np.log(np.r_[_layered_density(np.array([Z_LAYERS_TOP])), _UPPER_RHO[1:]]),
)(_GRID_Z)
# Above 1000 km: continue with the density scale height at the top of the table.
_TOP_SLOPE = (_GRID_LN_RHO[-1] - _GRID_LN_RHO[-2]) / (_GRID_Z[-1] - _GRID_Z[-2])


def _segment_table() -> tuple[F64, F64]:
    """Breaks (geometric m) and per-segment coefficients of ln density, for density().

    On every segment ln rho = a + b log1p(c s) + e s, with s the offset from the segment's
    base of its own coordinate z / (1 + g z): geopotential height in a layer (g = 1/R0;
    the exact hydrostatic solution, b = c = 0 where isothermal, e = 0 elsewhere),
    geometric height (g = 0) in the 250 m table (the same linear interpolation as
    np.interp) and above it. One sorted
    look-up and a dozen elementwise operations then serve every height, which matters
    for the tracker's many small batches. Index 0 (below sea level) continues the first
    layer downwards, as the standard's own tables do to -5 km.
    """
    lapse, safe = _LAPSE, np.where(_LAPSE == 0.0, 1.0, _LAPSE)
    ln_rho_b = np.log(_P_BASE * M0 / (R_STAR * _T_BASE))
    layer = np.stack(
        [
            ln_rho_b,
            np.where(lapse == 0.0, 0.0, -(_GMR / safe + 1.0)),
            lapse / _T_BASE,
            np.where(lapse == 0.0, -_GMR / _T_BASE, 0.0),
            _H_BASE,
            np.full_like(_H_BASE, 1.0 / R0_US76),  # geopotential coordinate
        ]
    )
    layer = np.concatenate([layer[:, :1], layer], axis=1)
    slope = np.diff(_GRID_LN_RHO) / np.diff(_GRID_Z)
    n = _GRID_Z.size
    upper = np.stack(
        [_GRID_LN_RHO, np.zeros(n), np.zeros(n), np.r_[slope, _TOP_SLOPE], _GRID_Z, np.zeros(n)]
    )
    z_layer = R0_US76 * _H_BASE / (R0_US76 - _H_BASE)
    return np.r_[z_layer, _GRID_Z], np.concatenate([layer, upper], axis=1)


_BREAKS_Z, _SEGMENTS = _segment_table()


def density_segments() -> tuple[F64, F64]:
    """density()'s breaks (n,) and segment coefficients (n + 1, 6) [a, b, c, e, base, g],
    one row a segment: for the tracker's compiled flight model, so that one table serves
    both (copies; density itself keeps its own)."""
    return _BREAKS_Z.copy(), np.ascontiguousarray(_SEGMENTS.T)


def density(z_m: ArrayLike) -> F64:
    """Air density (kg/m^3) at geometric heights z_m (m), any shape.

    Heights below sea level use the first layer down to -5 km (and are clamped there, for
    the few metres an impact refinement may dig); above 1000 km the top scale height is
    extrapolated, so density stays positive and decreasing.
    """
    # the upper bound only keeps z = inf finite (density 0) in the look-up's arithmetic
    z = np.minimum(np.maximum(np.asarray(z_m, float), -5000.0), 1e300)
    a, b, c, e, base, g = np.take(_SEGMENTS, _BREAKS_Z.searchsorted(z, "right"), axis=1)
    s = z / (1.0 + g * z) - base
    return np.asarray(np.exp(a + b * np.log1p(c * s) + e * s), float)
