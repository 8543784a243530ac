"""Gating and assignment of one scan's measurements to tracks.

Gating: squared Mahalanobis distance of the innovation under either IMM model.
Assignment: global nearest neighbour (scipy linear_sum_assignment) on the negative log
likelihood of the IMM mixture, in priority tiers: confirmed tracks choose first, then
tentative ones among what is left. The tiers are the guard against closely spaced objects
that defeats plain GNN here: a tentative track born on a neighbour (a separating stage, a
false alarm) can never steal the plot of an established track, and a duplicate tentative
track on an already tracked object starves and dies.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from warnlink.formats.records import RadarEntry
from warnlink.track.ukf import log_likelihood

F64 = NDArray[np.float64]
BOOL = NDArray[np.bool_]
INFEASIBLE = 1e12


def innovations(z: F64, zhat: F64, angle_cols: Sequence[int]) -> F64:
    """Innovations (n, 2, M, m) of measurements z (n|1, M, m) against predictions (n, 2, m);
    the columns in angle_cols are wrapped to (-pi, pi]."""
    nu = z[:, None, :, :] - zhat[:, :, None, :]
    for c in angle_cols:
        nu[..., c] = np.mod(nu[..., c] + np.pi, 2.0 * np.pi) - np.pi
    return nu


def score(nu: F64, S: F64, mu: F64, gate: float) -> tuple[F64, F64, BOOL]:
    """Per-model log likelihoods (n, 2, M), mixture costs (n, M) and the gate mask (n, M)."""
    d2, loglik = log_likelihood(nu, S)
    logw = np.log(np.maximum(mu, 1e-300))[:, :, None] + loglik
    top = logw.max(axis=1)
    cost = -(top + np.log(np.exp(logw - top[:, None, :]).sum(axis=1)))
    return loglik, cost, d2.min(axis=1) < gate


def assign(cost: F64, feasible: BOOL, tiers: Sequence[NDArray[np.intp]]) -> list[tuple[int, int]]:
    """Track-measurement pairs (row, column) by GNN, one tier of rows after another."""
    pairs: list[tuple[int, int]] = []
    free = np.ones(cost.shape[1], bool)
    for rows in tiers:
        cols = np.flatnonzero(free)
        if rows.size == 0 or cols.size == 0:
            continue
        sub_ok = feasible[np.ix_(rows, cols)]
        keep_r = sub_ok.any(axis=1)
        if not keep_r.any():
            continue
        r_idx, sub_ok = rows[keep_r], sub_ok[keep_r]
        sub = np.where(sub_ok, cost[np.ix_(r_idx, cols)], INFEASIBLE)
        ri, ci = linear_sum_assignment(sub)
        for a, b in zip(ri, ci, strict=True):
            if sub_ok[a, b]:
                pairs.append((int(r_idx[a]), int(cols[b])))
                free[cols[b]] = False
    return pairs


def wrap(a: F64) -> F64:
    """Angles to (-pi, pi]."""
    out: F64 = np.mod(a + np.pi, 2.0 * np.pi) - np.pi
    return out


def radar_covers(s: RadarEntry, zb: F64, margin: F64) -> NDArray[np.bool_]:
    """Whether [range, az, el] (n, 3) lie inside the radar's instrumented volume, widened
    by margin (n,) metres (in range, and as an angle at the range)."""
    rng, az, el = zb[:, 0], np.degrees(zb[:, 1]) % 360.0, np.degrees(zb[:, 2])
    ang = np.degrees(margin / np.maximum(rng, 1.0))
    ok = (rng >= s.min_range_m - margin) & (rng <= s.max_range_m + margin)
    ok &= (el >= s.elevation_mask_deg - ang) & (el <= s.max_elevation_deg + ang)
    if s.azimuth_sector_deg is not None:
        a0, a1 = s.azimuth_sector_deg
        ok &= (az - a0 + ang) % 360.0 <= (a1 - a0) % 360.0 + 2 * ang
    return np.asarray(ok, bool)
