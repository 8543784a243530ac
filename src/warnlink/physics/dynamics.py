"""Equations of motion of unpowered objects in ECI: gravity, and drag on air-relative velocity.

Everything is vectorised over rows (N, 3) so that a whole batch (a salvo, its spent
stages, the targeting solver's perturbed trajectories, a tracker's particles) moves in
one set of numpy calls. Thrust is added by warnlink.physics.ascent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from warnlink.geo.frames import OMEGA_EARTH, R_MEAN, ecef_to_geodetic
from warnlink.physics.atmosphere import density
from warnlink.physics.gravity import gravity

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class PhysicsModel:
    """Which physics to include. The default is the full model used for ground truth.

    The simplified variants exist so that closed-form results (Kepler) can be checked:
    "sphere" is a sphere of radius R_MEAN, which is also the impact surface.
    """

    earth: Literal["wgs84", "sphere"] = "wgs84"
    j2: bool = True
    rotation: bool = True
    drag: bool = True

    @property
    def omega(self) -> float:
        """Earth's rotation rate in this model (rad/s)."""
        return OMEGA_EARTH if self.rotation else 0.0


FULL_PHYSICS = PhysicsModel()


def height(r: ArrayLike, model: PhysicsModel) -> F64:
    """Height (m) above the model's surface of ECI or ECEF positions (..., 3).

    Rotation about the polar axis leaves the height unchanged, so no frame change is needed.
    """
    r = np.asarray(r, float)
    if model.earth == "sphere":
        return np.asarray(np.linalg.norm(r, axis=-1) - R_MEAN, float)
    return ecef_to_geodetic(r)[2]


def air_velocity(r: F64, v: F64, model: PhysicsModel) -> F64:
    """Velocity relative to the co-rotating atmosphere, v - omega x r."""
    w = model.omega
    if w == 0.0:
        return v
    out = np.array(v, float, copy=True)
    out[..., 0] += w * r[..., 1]
    out[..., 1] -= w * r[..., 0]
    return out


def drag_acceleration(r: F64, v: F64, h: F64, inv_beta: F64, model: PhysicsModel) -> F64:
    """Drag -rho |v_air| v_air / (2 beta), with inv_beta = Cd A / m (m^2/kg, 0 = none).

    The speed is summed per component: a reduction over the short last axis costs more
    than the arithmetic on the tracker's small batches.
    """
    if not model.drag:
        return np.zeros_like(v)
    va = air_velocity(r, v, model)
    vx, vy, vz = va[..., 0], va[..., 1], va[..., 2]
    speed = np.sqrt(vx * vx + vy * vy + vz * vz)
    k: F64 = -0.5 * density(h) * inv_beta * speed
    return k[..., None] * va


def acceleration(
    r: ArrayLike,
    v: ArrayLike,
    beta: ArrayLike = np.inf,
    model: PhysicsModel = FULL_PHYSICS,
) -> F64:
    """Acceleration (m/s^2) of unpowered objects at ECI positions r and velocities v (N, 3).

    beta is the ballistic coefficient m/(Cd A) in kg/m^2, per object or shared; inf means
    no drag (a vacuum coast).
    """
    r, v = np.asarray(r, float), np.asarray(v, float)
    inv_beta = 1.0 / np.broadcast_to(np.asarray(beta, float), r.shape[:-1])
    return gravity(r, model.j2) + drag_acceleration(r, v, height(r, model), inv_beta, model)
