"""Launch and impact errors of pictures: the estimates a party holds at each time, from
its own tracks or from fused system tracks, against the truth.

A picture's track has no measurement of its own (a system track is made of several
parties' tracks), so it is attributed through its contributors: to the truth object
behind most of the measurements that fed them (their labels). Errors and ellipse
coverage are those of evaluate.metrics, per RV.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from warnlink.evaluate.load import _ground_points
from warnlink.evaluate.metrics import PointSeries, _point_errors
from warnlink.formats.records import GroundPoint
from warnlink.physics.truth import Truth

Key = tuple[str, str]  # (party, track)


@dataclass(frozen=True)
class PictureRow:
    """One track of a picture at time t, and the (party, track) pairs it is made of."""

    t: float
    contributors: Sequence[Key]
    launch: GroundPoint | None
    impact: GroundPoint | None


def attribute(
    contributors: Sequence[Key],
    fed_by: Mapping[Key, Sequence[str]],
    labels: Mapping[str, str | None],
) -> str | None:
    """The truth object behind most measurements of the contributors (None: false tracks)."""
    counts = Counter(labels[m] for k in contributors for m in fed_by.get(k, ()))
    counts.pop(None, None)
    return counts.most_common(1)[0][0] if counts else None


def point_errors(
    rows: Sequence[PictureRow],
    fed_by: Mapping[Key, Sequence[str]],
    labels: Mapping[str, str | None],
    truth: Truth,
    kind: Literal["impact", "launch"] = "impact",
) -> dict[str, PointSeries]:
    """Per RV: errors of every row attributed to it that holds a `kind` point, in row order."""
    events = {(e.kind, e.object_id): e for e in truth.events}
    owner = [attribute(r.contributors, fed_by, labels) for r in rows]
    gp = _ground_points([r.impact if kind == "impact" else r.launch for r in rows])
    t = np.array([r.t for r in rows], float)
    out = {}
    for obj in sorted({o for o in owner if o is not None}):
        true, launch = events.get((kind, obj)), events.get(("launch", obj))
        if true is None or launch is None or truth.object(obj).kind != "rv":
            continue
        idx = np.array([i for i, o in enumerate(owner) if o == obj], np.int64)
        out[obj] = _point_errors(gp, idx, true, launch.t, t)[0]
    return out
