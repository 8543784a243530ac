"""One scoring of track accuracy for every tracker in the benchmarks, so figures compare.

Each track is assigned to the truth object that caused most of its measurements (labels);
its error is over all of its updates, against the truth interpolated at each update.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from warnlink.physics.truth import Truth


@dataclass
class TrackPoints:
    labels: list[str | None]  # truth object behind each update's measurement
    t: np.ndarray  # (n,) scenario s
    ecef_m: np.ndarray  # (n, 3)


def score_tracks(tracks: list[TrackPoints], truth: Truth) -> dict[str, Any]:
    objs = {o.object_id: o for o in truth.objects}
    err2: dict[str, list[np.ndarray]] = defaultdict(list)
    per_obj: Counter[str] = Counter()
    n_false = 0
    for tr in tracks:
        best, _ = Counter(tr.labels).most_common(1)[0] if tr.labels else (None, 0)
        if best is None:
            n_false += 1
            continue
        per_obj[best] += 1
        r, _, _, alive = objs[best].state_at(tr.t)
        err2[objs[best].kind].append(np.sum((tr.ecef_m - r)[alive] ** 2, axis=1))
    e2 = np.concatenate([np.concatenate(v) for v in err2.values()] or [np.array([np.nan])])
    return {
        "tracks on truth objects / objects tracked / false tracks": [
            sum(per_obj.values()),
            len(per_obj),
            n_false,
        ],
        "position RMS error of track updates_m": round(float(np.sqrt(np.mean(e2))), 1),
        "position median error_m": round(float(np.sqrt(np.median(e2))), 1),
        "position RMS error by object kind_m": {
            k: round(float(np.sqrt(np.mean(np.concatenate(v)))), 1) for k, v in err2.items()
        },
    }
