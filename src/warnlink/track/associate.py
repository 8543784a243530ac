"""Gating and assignment of one scan's measurements to tracks.

Gating: squared Mahalanobis distance of the innovation under either IMM model.
Assignment: global nearest neighbour (scipy linear_sum_assignment) on the negative log
likelihood of the IMM mixture, in priority tiers: confirmed tracks choose first, then
tentative ones among what is left. The tiers guard against one kind of closely spaced
objects: a tentative track born on a neighbour (a separating stage, a false alarm) can
never steal the plot of an established track, and a duplicate tentative track on an
already tracked object starves and dies.

Confirmed tracks whose gates share plots (an RV and its spent stage drifting apart at a
few m/s stay unresolved for minutes) are not given hard assignments: a coin-toss swap
would enter the state as if certain, and a filter with little process noise never
recovers from it. Joint probabilistic data association (JPDA) weighs every feasible
joint assignment of the cluster instead, and the update spreads the state's covariance
by what remains uncertain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from warnlink.formats.records import RadarEntry
from warnlink.track.models import wrap_angle

F64 = NDArray[np.float64]
BOOL = NDArray[np.bool_]
INFEASIBLE = 1e12
MAX_JOINT_EVENTS = 20000  # larger clusters fall back to GNN
CLAIM_PROBABILITY = 0.9  # a JPDA-updated track names a plot as its own from this weight


def score(
    z: F64, zhat: F64, S: F64, mu: F64, gate: float, angle_col: int = -1
) -> tuple[F64, F64, F64, F64, BOOL]:
    """Innovations (n, 2, M, m) of measurements z (n|1, M, m) against predictions zhat
    (n, 2, m), column angle_col (if >= 0) wrapped to (-pi, pi]; the inverses of S (n, 2,
    m, m) (the update needs them too); per-model log likelihoods (n, 2, M), mixture costs
    (n, M) and the gate mask (n, M) of mixture weights mu (n, 2)."""
    out: tuple[F64, F64, F64, F64, BOOL] = _score(z, zhat, S, mu, gate, angle_col)
    return out


@njit(cache=True)
def _score(
    z: F64, zhat: F64, S: F64, mu: F64, gate: float, angle_col: int
) -> tuple[F64, F64, F64, F64, BOOL]:
    """score track by track (compiled: as numpy, a dozen calls on small arrays a scan)."""
    n, k_models, m = zhat.shape
    n_plots = z.shape[1]
    nu = np.empty((n, k_models, n_plots, m))
    S_inv, loglik = np.empty_like(S), np.empty((n, k_models, n_plots))
    cost, feasible = np.empty((n, n_plots)), np.empty((n, n_plots), np.bool_)
    d2_min, logw, work = np.empty(n_plots), np.empty(k_models), np.empty((m, m))
    norm = m * math.log(2.0 * math.pi)
    for i in range(n):
        zi = z[0] if z.shape[0] == 1 else z[i]
        d2_min[:] = np.inf
        for k in range(k_models):
            inv = S_inv[i, k]
            logdet = _inverse(S[i, k], inv, work)
            for j in range(n_plots):
                v = nu[i, k, j]
                for c in range(m):
                    v[c] = zi[j, c] - zhat[i, k, c]
                if angle_col >= 0:
                    v[angle_col] = wrap_angle(v[angle_col])
                d2 = 0.0
                for c in range(m):
                    total = 0.0
                    for e in range(m):
                        total += v[e] * inv[e, c]
                    d2 += total * v[c]
                loglik[i, k, j] = -0.5 * (d2 + logdet + norm)
                d2_min[j] = min(d2_min[j], d2)
        for j in range(n_plots):
            for k in range(k_models):
                logw[k] = math.log(max(mu[i, k], 1e-300)) + loglik[i, k, j]
            top = logw.max()
            total = 0.0
            for k in range(k_models):
                total += math.exp(logw[k] - top)
            cost[i, j] = -(top + math.log(total))
            feasible[i, j] = d2_min[j] < gate
    return nu, S_inv, loglik, cost, feasible


@njit(cache=True)
def _inverse(A: F64, inv: F64, work: F64) -> float:
    """inv = A^-1 by Gauss-Jordan elimination with partial pivoting, and log |det A|
    (compiled, for the m <= 4 of a measurement: numba's LAPACK calls cost more in
    copies and checks than the arithmetic)."""
    m = A.shape[0]
    work[:] = A
    inv[:] = 0.0
    for c in range(m):
        inv[c, c] = 1.0
    logdet = 0.0
    for c in range(m):
        p = c
        for r in range(c + 1, m):
            if abs(work[r, c]) > abs(work[p, c]):
                p = r
        for e in range(m):
            work[c, e], work[p, e] = work[p, e], work[c, e]
            inv[c, e], inv[p, e] = inv[p, e], inv[c, e]
        pivot = work[c, c]
        logdet += math.log(abs(pivot))
        for e in range(m):
            work[c, e] /= pivot
            inv[c, e] /= pivot
        for r in range(m):
            f = work[r, c]
            if r != c and f != 0.0:
                for e in range(m):
                    work[r, e] -= f * work[c, e]
                    inv[r, e] -= f * inv[c, e]
    return logdet


def assign(
    cost: F64, feasible: BOOL, tiers: Sequence[NDArray[np.intp]], taken: BOOL | None = None
) -> list[tuple[int, int]]:
    """Track-measurement pairs (row, column) by GNN, one tier of rows after another;
    columns already taken (by JPDA clusters) are not offered."""
    pairs: list[tuple[int, int]] = []
    free = np.ones(cost.shape[1], bool) if taken is None else ~taken
    for rows in tiers:
        cols = np.flatnonzero(free)
        if rows.size == 0 or cols.size == 0:
            continue
        sub_ok = feasible[rows][:, cols]
        keep_r = sub_ok.any(axis=1)
        if not keep_r.any():
            continue
        r_idx, sub_ok = rows[keep_r], sub_ok[keep_r]
        sub = np.where(sub_ok, cost[r_idx][:, cols], INFEASIBLE)
        ri, ci = linear_sum_assignment(sub)
        ok = sub_ok[ri, ci]
        got = cols[ci[ok]]
        pairs.extend(zip(r_idx[ri[ok]].tolist(), got.tolist(), strict=True))
        free[got] = False
    return pairs


def jpda(
    cost: F64, feasible: BOOL, rows: NDArray[np.intp], pd: float, log_clutter: float
) -> tuple[NDArray[np.intp], F64]:
    """Association probabilities of the rows that share gated plots with another row.

    cost (n, M): negative log likelihood of each plot under each track; log_clutter: log
    spatial density of false plots. A joint event assigns each track of a cluster one of
    its gated plots or none, no plot twice; its weight is the product of pd * L / clutter
    over assigned tracks and 1 - pd over the others. Returns the clustered rows and
    their probabilities (k, M); clusters too large to enumerate are left to GNN.
    """
    rows = rows[feasible[rows].any(axis=1)]
    members, beta = _jpda(np.ascontiguousarray(cost[rows]), feasible[rows], pd, log_clutter)
    return rows[members], beta


def claimed_plots(beta: F64) -> NDArray[np.intp]:
    """The plot (k,) each JPDA-updated track reports as the one it used, -1 for none.

    The update uses every plot, weighted; a track names one only when that plot carries
    CLAIM_PROBABILITY of its weight (so no plot is named twice). An RV and its spent stage
    a few metres apart in range swap plots half the time, and naming the likelier plot
    would let the stage track's update (its impact 19 km short) stand for the RV's.
    """
    best = np.argmax(beta, axis=1)
    sure = beta[np.arange(len(beta)), best] >= CLAIM_PROBABILITY
    return np.where(sure, best, -1).astype(np.intp)


@njit(cache=True)
def _jpda(cost: F64, gated: BOOL, pd: float, log_clutter: float) -> tuple[NDArray[np.intp], F64]:
    """jpda of rows (k,) with costs (k, M) and gates (k, M): their clusters (connected
    components of two or more rows linked through common plots, by union-find, ordered by
    their lowest row), each by enumeration over only the plots it gates (compiled: as
    numpy, a dozen calls per cluster). Returns the members (rows of the input) and their
    probabilities."""
    k, M = gated.shape
    parent = np.arange(k)  # union-find; the root of a component is its lowest row
    for m in range(M):
        first = -1
        for r in range(k):
            if gated[r, m]:
                if first < 0:
                    first = r
                else:
                    a, b = _root(parent, first), _root(parent, r)
                    parent[max(a, b)] = min(a, b)
    root = np.empty(k, np.intp)
    for r in range(k):
        root[r] = _root(parent, r)
    out_rows, out_beta, n_out = np.empty(k, np.intp), np.zeros((k, M)), 0
    miss = math.log1p(-pd)
    for lead in range(k):
        members = np.flatnonzero(root == lead)
        if members.size < 2:
            continue
        cols = np.flatnonzero((gated[members].sum(axis=0)) > 0)
        ok = np.empty((members.size, cols.size), np.bool_)
        events = 1.0
        for a in range(members.size):
            for c in range(cols.size):
                ok[a, c] = gated[members[a], cols[c]]
            events *= ok[a].sum() + 1.0
        if events > MAX_JOINT_EVENTS:
            continue  # left to GNN
        # log weight of track t taking plot m, against missing it
        gain = np.empty((members.size, cols.size))
        for a in range(members.size):
            for c in range(cols.size):
                gain[a, c] = math.log(pd) - cost[members[a], cols[c]] - log_clutter
        beta = _marginals(gain, ok, miss)
        for a in range(members.size):
            out_rows[n_out] = members[a]
            for c in range(cols.size):
                out_beta[n_out, cols[c]] = beta[a, c]
            n_out += 1
    return out_rows[:n_out], out_beta[:n_out]


@njit(cache=True)
def _root(parent: NDArray[np.intp], r: int) -> int:
    """The root of r's union-find tree, halving the path on the way."""
    while parent[r] != r:
        parent[r] = parent[parent[r]]
        r = parent[r]
    return r


@njit(cache=True)
def _marginals(gain: F64, ok: BOOL, miss: float) -> F64:
    """Sum of the normalised weights of the joint events in which track t takes plot m
    (T, M). An event gives each track one of its gated plots or none, no plot twice; it
    is walked depth first (compiled: a cluster's events are many small steps), twice:
    once for the largest log weight, once to sum the weights scaled by it."""
    T, M = gain.shape
    beta = np.zeros((T, M))
    pick = np.empty(T, np.int64)  # each track's current choice: -1 none, else a plot
    used = np.zeros(M, np.bool_)
    logw = np.zeros(T + 1)  # of the choices of tracks before t
    top, total = -np.inf, 0.0
    for second in (False, True):
        t, pick[0] = 0, -2  # -2: not yet tried
        while t >= 0:
            if pick[t] >= 0:
                used[pick[t]] = False
            m = pick[t] + 1  # -2 -> -1 (none); else the next free gated plot
            while m >= 0 and m < M and not (ok[t, m] and not used[m]):
                m += 1
            if m == M:
                t -= 1  # this track's choices are exhausted
                continue
            pick[t] = m
            if m < 0:
                logw[t + 1] = logw[t] + miss
            else:
                used[m] = True
                logw[t + 1] = logw[t] + gain[t, m]
            if t + 1 < T:
                t += 1
                pick[t] = -2
            elif not second:
                top = max(top, float(logw[T]))
            else:
                w = math.exp(logw[T] - top)
                total += w
                for k in range(T):
                    if pick[k] >= 0:
                        beta[k, pick[k]] += w
    return beta / total


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
