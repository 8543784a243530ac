"""Ground truth of a simulated scenario: object trajectories and flight events.

Trajectories are kept at the integrator's own steps (dense, with samples exactly at
staging and impact), in ECEF, and are interpolated with cubic Hermite polynomials, which
use position and velocity at both ends and so are accurate to O(dt^4) between samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]
ObjectKind = Literal["rv", "stage", "payload"]
EventKind = Literal[
    "launch", "stage_burnout", "stage_separation", "burnout", "apogee", "impact", "orbit"
]


@dataclass
class ObjectTrack:
    """One physical object from its creation (launch or separation) to impact or the end.

    `burning[i]` is true while the object's own motor thrusts after sample i; it is what
    space-based infrared can see.
    """

    object_id: str  # e.g. "L1/RV", "L1/S1", "L4/SAT"
    flight_id: str
    launch_id: str
    kind: ObjectKind
    t: F64  # (n,) scenario time, s, strictly increasing
    r: F64  # (n, 3) ECEF position, m
    v: F64  # (n, 3) ECEF velocity, m/s
    burning: NDArray[np.bool_]  # (n,)
    ended_by: Literal["impact", "orbit", "end"] = "end"

    @property
    def t_start(self) -> float:
        return float(self.t[0])

    @property
    def t_end(self) -> float:
        return float(self.t[-1])

    def state_at(self, t: ArrayLike) -> tuple[F64, F64, NDArray[np.bool_], NDArray[np.bool_]]:
        """Position, velocity, burning and exists-mask at times t (any shape).

        Outside [t_start, t_end] the object does not exist: mask False, r and v NaN.
        """
        tq = np.asarray(t, float)
        flat = tq.reshape(-1)
        alive = (flat >= self.t[0]) & (flat <= self.t[-1])
        i = np.clip(np.searchsorted(self.t, flat, side="right") - 1, 0, len(self.t) - 2)
        t0, t1 = self.t[i], self.t[i + 1]
        h = t1 - t0
        s = ((flat - t0) / h)[:, None]
        r0, r1, v0, v1 = (
            self.r[i],
            self.r[i + 1],
            self.v[i] * h[:, None],
            self.v[i + 1] * h[:, None],
        )
        s2, s3 = s * s, s * s * s
        r = (
            (2 * s3 - 3 * s2 + 1) * r0
            + (s3 - 2 * s2 + s) * v0
            + (-2 * s3 + 3 * s2) * r1
            + (s3 - s2) * v1
        )
        dr = (
            (6 * s2 - 6 * s) * r0
            + (3 * s2 - 4 * s + 1) * v0
            + (-6 * s2 + 6 * s) * r1
            + (3 * s2 - 2 * s) * v1
        )
        v = dr / h[:, None]
        r[~alive] = np.nan
        v[~alive] = np.nan
        burning = self.burning[i] & alive
        shape = tq.shape
        return (
            r.reshape(*shape, 3),
            v.reshape(*shape, 3),
            burning.reshape(shape),
            alive.reshape(shape),
        )


@dataclass(frozen=True)
class Event:
    """A flight event: launch, stage_burnout, stage_separation, burnout, apogee, impact, orbit.

    `details` carries kind-specific numbers (e.g. stage number, apogee height, orbit
    perigee and apogee heights), all SI.
    """

    t: float
    kind: EventKind
    flight_id: str
    object_id: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    details: dict[str, float] = field(default_factory=dict)


@dataclass
class Truth:
    objects: list[ObjectTrack]
    events: list[Event]

    def object(self, object_id: str) -> ObjectTrack:
        for o in self.objects:
            if o.object_id == object_id:
                return o
        raise KeyError(object_id)

    def events_of(self, kind: EventKind) -> list[Event]:
        return [e for e in self.events if e.kind == kind]
