"""Helpers of the fusion tests: a replayed scenario with its truth, and a hand-made
coasting track update."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from warnlink.fusion.replay import Replay
from warnlink.geo.frames import ecef_to_eci, geodetic_to_ecef
from warnlink.physics.truth import Truth
from warnlink.track.tracker import Status, TrackUpdate


@dataclass
class Replayed:
    truth: Truth
    labels: dict[str, str | None]
    run: Replay


def coasting_update(track: str, t: float, status: Status = "confirmed") -> TrackUpdate:
    """A missile 150 km up over the East Sea, climbing eastwards at 4 km/s."""
    r_ecef = geodetic_to_ecef(39.5, 130.0, 150e3)
    v_ecef = 3800.0 * np.array([-0.5, 0.8, 0.3]) / np.linalg.norm([-0.5, 0.8, 0.3])
    r, v = ecef_to_eci(t, r_ecef, v_ecef)
    x = np.concatenate([r, v, np.zeros(3), [np.log(5e-4)]])
    P = np.diag([100.0**2] * 3 + [5.0**2] * 3 + [1e-4] * 3 + [1.0])
    return TrackUpdate(t, track, status, "m1", "S1", x, P, 0.01, True, frozenset({"radar"}), 90.0)
