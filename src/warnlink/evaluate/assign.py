"""Track-to-truth association through the measurement labels (labels.jsonl).

A tracker's own association is what is being judged, so the truth object of an update is
read from the label of the measurement that made it, not from distances: an update is
attributed to its measurement's object, and an update by a false alarm (or without a
measurement) keeps the object of the track's previous attributed update.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from warnlink.evaluate.load import EstimateTable, RunData

I64 = NDArray[np.int64]


@dataclass
class Association:
    objects: list[str]  # truth object ids, sorted; codes index this list
    tracks: list[str]  # track ids, sorted
    track_code: I64  # (n,) index into tracks of each update
    label: I64  # (n,) object code of the update's own measurement, -1 false alarm / none
    attributed: I64  # (n,) label, forward-filled within the track over false alarms; -1 none
    counts: I64  # (n_tracks, n_objects + 1) measurements per object; last column false alarms


def associate(run: RunData, est: EstimateTable) -> Association:
    """Label each update with its truth object and attribute false-alarm updates."""
    objects = sorted(o.object_id for o in run.truth.objects)
    code = {o: i for i, o in enumerate(objects)}
    tracks, track_code = np.unique(est.track, return_inverse=True)
    label = np.array(
        [-1 if m is None else code.get(run.labels[m] or "", -1) for m in est.measurement],
        dtype=np.int64,
    )
    measured = np.array([m is not None for m in est.measurement], dtype=bool)
    counts = np.zeros((len(tracks), len(objects) + 1), dtype=np.int64)
    col = np.where(label >= 0, label, len(objects))
    np.add.at(counts, (track_code[measured], col[measured]), 1)
    attributed = np.full(len(label), -1, dtype=np.int64)
    for k in range(len(tracks)):
        idx = np.flatnonzero(track_code == k)
        lab = label[idx]
        last = np.maximum.accumulate(np.where(lab >= 0, np.arange(len(lab)), -1))
        attributed[idx] = np.where(last >= 0, lab[np.maximum(last, 0)], -1)
    return Association(
        objects, [str(t) for t in tracks], track_code.astype(np.int64), label, attributed, counts
    )


def track_purity(assoc: Association) -> dict[str, dict[str, object]]:
    """Per track: dominant object, purity (share of its measurements from it), objects held.

    Purity counts false alarms in the denominator: a track fed by clutter is impure too.
    Ties for the dominant object go to the first object id in sorted order.
    """
    n_obj = len(assoc.objects)
    out: dict[str, dict[str, object]] = {}
    for k, tid in enumerate(assoc.tracks):
        row = assoc.counts[k]
        total = int(row.sum())
        dom = int(np.argmax(row[:n_obj])) if n_obj else -1
        real = n_obj > 0 and row[dom] > 0
        out[tid] = {
            "dominant_object": assoc.objects[dom] if real else None,
            "purity": float(row[dom] / total) if real and total else 0.0,
            "n_measurements": total,
            "n_false_alarms": int(row[n_obj]),
        }
    return out


def held_by(assoc: Association, min_updates: int) -> list[list[str]]:
    """For each object, the tracks that held it: at least `min_updates` of its measurements."""
    n_obj = len(assoc.objects)
    held = assoc.counts[:, :n_obj] >= min_updates
    return [[assoc.tracks[k] for k in np.flatnonzero(held[:, j])] for j in range(n_obj)]


def continuity(
    run: RunData,
    est: EstimateTable,
    assoc: Association,
    min_updates: int,
    stale_s: float,
    dt: float,
) -> dict[str, dict[str, object]]:
    """Per truth object: tracks that held it, breaks (tracks - 1) and share of life under track.

    The object is under track at a grid time when some confirmed update from one of its own
    measurements is at most `stale_s` old.
    """
    holders = held_by(assoc, min_updates)
    out: dict[str, dict[str, object]] = {}
    for j, oid in enumerate(assoc.objects):
        obj = run.truth.object(oid)
        grid = np.arange(obj.t_start, obj.t_end + 1e-9, dt)
        ut = est.t[assoc.label == j]
        i = np.searchsorted(ut, grid, side="right") - 1
        covered = (i >= 0) & (grid - ut[np.maximum(i, 0)] <= stale_s) if len(ut) else grid < 0
        out[oid] = {
            "kind": obj.kind,
            "tracks": holders[j],
            "n_tracks": len(holders[j]),
            "breaks": max(len(holders[j]) - 1, 0),
            "lifetime_share_tracked": float(covered.mean()) if len(grid) else 0.0,
        }
    return out
