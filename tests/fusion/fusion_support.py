"""Helpers of the fusion tests: the pictures a party makes from a replay, with or without
its partners' reports, and a hand-made coasting track update."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from warnlink.evaluate.pictures import PictureRow
from warnlink.fusion.fuser import FusedTrack, Fuser
from warnlink.fusion.replay import Replay
from warnlink.geo.frames import ecef_to_eci, geodetic_to_ecef
from warnlink.physics.truth import Truth
from warnlink.track.tracker import Status, TrackUpdate


@dataclass
class Replayed:
    truth: Truth
    labels: dict[str, str | None]
    run: Replay

    def launch_t(self, obj: str) -> float:
        return next(e.t for e in self.truth.events if e.kind == "launch" and e.object_id == obj)


def pictures(run: Replay, party: str, sharing: bool) -> list[tuple[float, list[FusedTrack]]]:
    """A party's picture after every batch: fed every party's reports, or only its own."""
    fuser = Fuser(party)
    out = []
    for t, reports in run.batches:
        for r in reports:
            if sharing or r.party == party:
                fuser.add(r)
        out.append((t, fuser.picture(t)))
    return out


def rows(pics: Iterable[tuple[float, list[FusedTrack]]]) -> list[PictureRow]:
    return [
        PictureRow(f.t, f.contributors, f.estimate.launch, f.estimate.impact)
        for _, pic in pics
        for f in pic
    ]


def coasting_update(track: str, t: float, status: Status = "confirmed") -> TrackUpdate:
    """A missile 150 km up over the East Sea, climbing eastwards at 4 km/s."""
    r_ecef = geodetic_to_ecef(39.5, 130.0, 150e3)
    v_ecef = 3800.0 * np.array([-0.5, 0.8, 0.3]) / np.linalg.norm([-0.5, 0.8, 0.3])
    r, v = ecef_to_eci(t, r_ecef, v_ecef)
    x = np.concatenate([r, v, np.zeros(3), [np.log(5e-4)]])
    P = np.diag([100.0**2] * 3 + [5.0**2] * 3 + [1e-4] * 3 + [1.0])
    return TrackUpdate(t, track, status, "m1", "S1", x, P, 0.01, True, frozenset({"radar"}), 90.0)
