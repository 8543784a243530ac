"""GOSPA (alpha = 2) and OSPA between finite sets of points, and their time series.

GOSPA with alpha = 2 splits into localisation, missed and false terms, which says *why*
a tracker scores badly (Rahmathullah, García-Fernández, Svensson 2017). OSPA uses the
same optimal assignment and is given for comparison with older results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Gospa:
    """GOSPA distance and its p-th power parts: gospa**p == loc**p + c**p/2 (missed + false)."""

    gospa: float
    localisation: float  # (sum of assigned distances**p) ** (1/p)
    missed: int  # truth points left unassigned (or assigned beyond c)
    false: int  # estimated points left unassigned (or assigned beyond c)
    ospa: float


def _points(x: F64) -> F64:
    """Points as rows; a flat array is a set of scalars."""
    a = np.asarray(x, float)
    return a[:, None] if a.ndim == 1 else a


def gospa(truth: F64, est: F64, c: float, p: float = 2.0) -> Gospa:
    """GOSPA (alpha = 2) and OSPA between point sets truth (m, d) and est (n, d)."""
    truth, est = _points(truth), _points(est)
    m, n = len(truth), len(est)
    if m == 0 or n == 0:
        g = (c**p / 2 * (m + n)) ** (1 / p)
        return Gospa(g, 0.0, m, n, c if m + n else 0.0)
    d = np.linalg.norm(truth[:, None, :] - est[None, :, :], axis=-1)
    cost = np.minimum(d, c) ** p
    rows, cols = linear_sum_assignment(cost)
    near = d[rows, cols] < c
    loc_p = float(np.sum(d[rows, cols][near] ** p))
    n_pairs = int(near.sum())
    missed, false = m - n_pairs, n - n_pairs
    g = (loc_p + c**p / 2 * (missed + false)) ** (1 / p)
    ospa = ((float(cost[rows, cols].sum()) + c**p * abs(m - n)) / max(m, n)) ** (1 / p)
    return Gospa(g, loc_p ** (1 / p), missed, false, ospa)


def gospa_series(
    truth: F64,
    truth_alive: NDArray[np.bool_],
    est: F64,
    est_alive: NDArray[np.bool_],
    c: float,
    p: float,
) -> dict[str, F64]:
    """GOSPA at each grid time; inputs are (objects, times, 3) positions with alive masks."""
    n_t = truth.shape[1] if truth.ndim == 3 else est.shape[1]
    out = {k: np.zeros(n_t) for k in ("gospa", "localisation", "missed", "false", "ospa")}
    for i in range(n_t):
        g = gospa(truth[truth_alive[:, i], i], est[est_alive[:, i], i], c, p)
        for k in out:
            out[k][i] = getattr(g, k)
    return out
