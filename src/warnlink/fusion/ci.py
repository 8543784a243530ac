"""Covariance intersection: fusing estimates whose cross-correlations are unknown.

Partners' tracks of one missile share its process noise (the same unmodelled thrust and
drag) and templates, so their errors are correlated by an unknown amount; a Kalman-style
combination would then be over-confident. Covariance intersection,
P^-1 = sum_i w_i P_i^-1 with w on the simplex, is consistent for every admissible
cross-correlation. The weights minimise the log-determinant of a chosen block of P (the
position-velocity block for track states: what the impact depends on), so the result is
never larger in that measure than the best input (each input is a vertex of the simplex).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize, minimize_scalar

F64 = NDArray[np.float64]
_TOL = 1e-6  # weight resolution of the search


def _information(P: F64) -> F64:
    """Inverse of a covariance, symmetrised (pseudo-inverse if singular)."""
    P = 0.5 * (P + P.T)
    try:
        out = np.linalg.inv(P)
    except np.linalg.LinAlgError:
        out = np.linalg.pinv(P, hermitian=True)
    return np.asarray(0.5 * (out + out.T), float)


def fuse(w: F64, means: Sequence[F64], infos: Sequence[F64]) -> tuple[F64, F64]:
    """Mean and covariance of the weighted information sum."""
    Y = sum(wi * Yi for wi, Yi in zip(w, infos, strict=True))
    y = sum(wi * Yi @ xi for wi, Yi, xi in zip(w, infos, means, strict=True))
    P = np.linalg.inv(np.asarray(Y, float))
    P = 0.5 * (P + P.T)
    return np.asarray(P @ y, float), np.asarray(P, float)


def covariance_intersection(
    means: Sequence[F64], covs: Sequence[F64], block: slice | None = None
) -> tuple[F64, F64, F64]:
    """Fused mean, covariance and the weights (one per input) of covariance intersection.

    block: the rows and columns whose log-determinant the weights minimise (all if None).
    One input is returned unchanged, with weight 1.
    """
    n = len(means)
    means = [np.asarray(m, float) for m in means]
    covs = [np.asarray(c, float) for c in covs]
    if n == 1:
        return means[0], covs[0], np.ones(1)
    infos = [_information(c) for c in covs]
    sel = block or slice(None)

    def cost(w: F64) -> float:
        Y = sum(wi * Yi for wi, Yi in zip(w, infos, strict=True))
        try:
            P = np.linalg.inv(np.asarray(Y, float))[sel, sel]
        except np.linalg.LinAlgError:
            return float("inf")
        sign, logdet = np.linalg.slogdet(P)
        return float(logdet) if sign > 0 else float("inf")

    vertices = [cost(np.eye(n)[i]) for i in range(n)]
    best = np.eye(n)[int(np.argmin(vertices))]
    if n == 2:
        res = minimize_scalar(
            lambda a: cost(np.array([a, 1.0 - a])), bounds=(0.0, 1.0), method="bounded",
            options={"xatol": _TOL},
        )  # fmt: skip
        w = np.array([res.x, 1.0 - res.x])
    else:

        def soft(z: F64) -> F64:
            e = np.exp(z - z.max())
            return np.asarray(e / e.sum(), float)

        res = minimize(lambda z: cost(soft(z)), np.zeros(n), method="Nelder-Mead")
        w = soft(np.asarray(res.x, float))
    if cost(w) > min(vertices):  # the search may stop short of a vertex optimum
        w = best
    x, P = fuse(w, means, infos)
    return x, P, w
