"""Covariance intersection: fusing estimates whose cross-correlations are unknown.

Partners' tracks of one missile share its process noise (the same unmodelled thrust and
drag) and templates, so their errors are correlated by an unknown amount; a Kalman-style
combination would then be over-confident. Covariance intersection,
P^-1 = sum_i w_i P_i^-1 with w on the simplex, is consistent for every admissible
cross-correlation. The weights minimise the log-determinant of a chosen block of P (for
track states [r, v, ln k]: what the impact depends on), so the result is
never larger in that measure than the best input (each input is a vertex of the simplex,
and the search starts from the vertices).

The search is batched: a lattice on the simplex, then a pattern search moving weight
between pairs of inputs with halving steps; every candidate set is one numpy call.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
Index = NDArray[np.intp]
LATTICE = 10  # the first search's weights are multiples of 1/LATTICE
REFINE = 10  # halvings of the pattern search's step: resolution 1/(LATTICE 2^REFINE)


def _information(P: F64) -> F64:
    """Inverse of a covariance, symmetrised (pseudo-inverse if singular)."""
    P = 0.5 * (P + P.T)
    try:
        out = np.linalg.inv(P)
    except np.linalg.LinAlgError:
        out = np.linalg.pinv(P, hermitian=True)
    return np.asarray(0.5 * (out + out.T), float)


@lru_cache(maxsize=8)
def _lattice(n: int) -> F64:
    """Weights (k, n) on the simplex in steps of 1/LATTICE, vertices first."""
    rows = []
    for bars in itertools.combinations(range(LATTICE + n - 1), n - 1):
        edges = (-1, *bars, LATTICE + n - 1)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(n)])
    out = np.array(rows, float) / LATTICE
    order = np.argsort(-out.max(axis=1), kind="stable")
    return np.asarray(out[order], float)


@lru_cache(maxsize=8)
def _moves(n: int) -> F64:
    """Directions (n(n-1), n) that move weight from one input to another."""
    eye = np.eye(n)
    return np.array([eye[i] - eye[j] for i in range(n) for j in range(n) if i != j])


def _costs(W: F64, infos: F64, rest: Index) -> F64:
    """Log-determinant of the chosen block of the fused covariance for weights W (k, n),
    inf where the fused information is not positive definite.

    With Y the fused information and r the rows outside the block, the block of Y^-1 is
    the inverse of Y's Schur complement, so its log-determinant is
    logdet Y_rr - logdet Y: two batched determinants, no inverse.
    """
    Y = np.einsum("kn,nij->kij", W, infos)
    sign, logdet = np.linalg.slogdet(Y)
    out = np.where(sign > 0, -logdet, np.inf)
    if len(rest):
        sign_r, logdet_r = np.linalg.slogdet(Y[:, rest][:, :, rest])
        out = np.where(sign_r > 0, out + logdet_r, np.inf)
    return np.asarray(out, float)


def weights(infos: F64, block: Index | None = None) -> F64:
    """Covariance-intersection weights (n,) of informations (n, d, d) that minimise the
    log-determinant of the block of the fused covariance."""
    n = len(infos)
    every = np.arange(infos.shape[1])
    rest = every[:0] if block is None else np.setdiff1d(every, block)
    W = _lattice(n)
    c = _costs(W, infos, rest)
    best = int(np.argmin(c))  # ties go to the first: a vertex
    w, cw = W[best], c[best]
    step = 1.0 / LATTICE
    moves = _moves(n)
    for _ in range(REFINE):
        step *= 0.5
        cand = w + step * moves
        cand = cand[(cand >= 0.0).all(axis=1)]
        if len(cand):
            cc = _costs(cand, infos, rest)
            i = int(np.argmin(cc))
            if cc[i] < cw:
                w, cw = cand[i], cc[i]
    return np.asarray(w, float)


def covariance_intersection(
    means: Sequence[F64], covs: Sequence[F64], block: Index | None = None
) -> tuple[F64, F64, F64]:
    """Fused mean, covariance and the weights (one per input) of covariance intersection.

    block: the rows and columns whose log-determinant the weights minimise (all if None).
    An input whose weight is 1 is returned unchanged.
    """
    x = np.asarray(means, float)
    P = np.asarray(covs, float)
    n = len(x)
    if n == 1:
        return x[0], P[0], np.ones(1)
    infos = np.array([_information(c) for c in P])
    w = weights(infos, block)
    top = int(np.argmax(w))
    if w[top] == 1.0:
        return x[top], P[top], w
    Pf = np.linalg.inv(np.einsum("n,nij->ij", w, infos))
    Pf = 0.5 * (Pf + Pf.T)
    xf = Pf @ np.einsum("n,nij,nj->i", w, infos, x)
    return np.asarray(xf, float), np.asarray(Pf, float), w
