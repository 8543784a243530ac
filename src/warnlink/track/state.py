"""The track state convention shared by the filter, the track manager and the predictor.

State vector, ECI (warnlink.geo.frames: equal to ECEF at scenario t = 0, not rotating), SI:

    x = [rx, ry, rz, vx, vy, vz, ax, ay, az, ln k]

- r, v: position and inertial velocity;
- a: thrust acceleration (specific force of the motor), zero once the motor has burnt out;
- ln k: log of the inverse ballistic coefficient k = Cd·A/m in m²/kg (an RV of beta
  8000 kg/m² has k = 1.25e-4, a tumbling spent stage ~3e-3), estimated because drag
  shapes the re-entry and so the impact point. In logs because k is positive and known
  only to a factor until the air is reached: a Gaussian in k would put sigma points at
  negative drag, and clipping them biases the predicted impact.

Tracks are held in batches (arrays with a leading track axis) so that a whole scan is
predicted and updated with numpy at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from warnlink.geo.frames import OMEGA_EARTH, rot_z

F64 = NDArray[np.float64]

N_STATE = 10
POS = slice(0, 3)
VEL = slice(3, 6)
ACC = slice(6, 9)
LOG_K = 9


@dataclass
class StateBatch:
    """Means and covariances of n tracks at their own times."""

    t: F64  # (n,) scenario time, s
    x: F64  # (n, 10)
    P: F64  # (n, 10, 10)
    boost_probability: F64  # (n,) IMM probability of the powered-flight model


def eci_to_ecef_jacobian(t: F64) -> F64:
    """Linear map (n, 6, 6) from ECI [r, v] to ECEF [r, v] at times t, for covariances."""
    rot = rot_z(-OMEGA_EARTH * np.asarray(t, float))  # (n, 3, 3)
    w = np.array([[0.0, -OMEGA_EARTH, 0.0], [OMEGA_EARTH, 0.0, 0.0], [0.0, 0.0, 0.0]])
    n = rot.shape[0]
    j = np.zeros((n, 6, 6))
    j[:, :3, :3] = rot
    j[:, 3:, 3:] = rot
    j[:, 3:, :3] = -np.einsum("ij,njk->nik", w, rot)  # v_ecef = R v_eci - w x (R r_eci)
    return j
