"""Track-to-track association: which partners' tracks are the same object.

Two tracks of one object differ by their two errors, so their position-velocity
difference is gated with the sum of their covariances (chi-square, 6 dof); correlated
errors only make the true spread smaller, so the gate stays generous. Within the gate
the assignment is one-to-one (linear_sum_assignment): two missiles of a salvo seen by
both parties pair up as two pairs, never one pair and a merge.

The sum of covariances is widened by a fixed allowance (BIAS_POS_M, BIAS_VEL_MPS per
axis): objects a few hundred metres apart (an RV and its spent last stage, separated at
a few m/s) are unresolved to some radars, whose tracks then lie between them with
covariances that do not know it. Such a track still belongs with its partners' tracks
of the pair; missiles of a salvo, tens of kilometres apart, stay far outside.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

F64 = NDArray[np.float64]
PV = slice(0, 6)
GATE_6DOF = 30.0  # chi-square, 6 dof: P(reject a true pair) ~ 4e-5
BIAS_POS_M = 200.0
BIAS_VEL_MPS = 2.0
_BIAS = np.diag([BIAS_POS_M**2] * 3 + [BIAS_VEL_MPS**2] * 3)
_OUTSIDE = 1e9  # cost of a pair outside the gate, so the assignment may not take it


def distance2(xa: F64, Pa: F64, xb: F64, Pb: F64) -> F64:
    """Squared Mahalanobis distances (a, b) between the [r, v] of states xa (a, 10) and
    xb (b, 10), with the sums of their covariances and the allowance for bias."""
    d = xa[:, None, PV] - xb[None, :, PV]
    S = Pa[:, None, PV, PV] + Pb[None, :, PV, PV] + _BIAS
    out: F64 = np.einsum("abi,abi->ab", d, np.linalg.solve(S, d[..., None])[..., 0])
    return out


def assign(d2: F64, gate: float) -> list[tuple[int, int]]:
    """One-to-one pairs (row, column) of least total distance, all within the gate."""
    if d2.size == 0:
        return []
    cost = np.where(d2 <= gate, d2, _OUTSIDE)
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if d2[r, c] <= gate]
