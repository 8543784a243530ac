"""Propagation of given unpowered objects: the entry point for tests and the tracker."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from warnlink.physics.ascent import Guidance
from warnlink.physics.dynamics import F64, FULL_PHYSICS, PhysicsModel
from warnlink.physics.integrate import DT_FINE, ENDED_SURFACE, Batch, run


@dataclass
class Arc:
    """A coasting object's samples in ECI, and whether it ended at the surface."""

    t: F64
    r: F64
    v: F64
    at_surface: bool


def coast(
    t0: ArrayLike,
    r: ArrayLike,
    v: ArrayLike,
    t_stop: ArrayLike = np.inf,
    model: PhysicsModel = FULL_PHYSICS,
    beta: ArrayLike = np.inf,
    dt_fine: float = DT_FINE,
) -> list[Arc]:
    """Propagate unpowered objects from ECI states (N, 3) at times t0 to t_stop or the surface.

    beta is the ballistic coefficient (kg/m^2, inf for none). Objects start wherever they
    are: one below the surface only stops if it climbs above and falls back. dt_fine is
    the step (s) in the air; predictions that need speed more than the last metre may
    coarsen it.
    """
    r, v = np.atleast_2d(np.asarray(r, float)), np.atleast_2d(np.asarray(v, float))
    n = len(r)
    col = np.ones((n, 1))

    def rows(x: ArrayLike) -> F64:
        return np.broadcast_to(np.asarray(x, float), (n,)).astype(float)

    batch = Batch(
        t0=rows(t0), y0=np.concatenate([r, v], axis=1), live=np.ones(n, bool),
        t_stop=rows(t_stop), stop_at_surface=np.ones(n, bool),
        seg_start=rows(t0)[:, None], seg_end=np.inf * col, thrust=0.0 * col, mass0=col,
        mdot=0.0 * col, cda=(1.0 / rows(beta))[:, None], child=-np.ones((n, 1), np.intp),
        guidance=Guidance(r, r, rows(0.0), rows(1.0), rows(0.0), rows(1.0)),  # never thrusts
    )  # fmt: skip
    res = run(batch, model, dt_fine)
    arcs = []
    for i in range(n):
        t, y, _ = res.row(i)
        arcs.append(Arc(t, y[:, :3], y[:, 3:], bool(res.ended[i] == ENDED_SURFACE)))
    return arcs
