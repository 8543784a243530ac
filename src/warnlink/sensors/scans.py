"""Scan schedules and the truth sampled at them, shared by the radar and infrared models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from warnlink.physics.truth import Truth

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Scans:
    """Every object alive at every scan of one sensor, one row per (scan, object).

    Flattened so that a sensor model handles all its scans of all objects in one numpy pass.
    """

    t: F64  # (m,) scan times
    objects: list[str]  # object ids, indexed by `obj`
    scan: I64  # (n,) index into t
    obj: I64  # (n,) index into objects
    r: F64  # (n, 3) ECEF position
    v: F64  # (n, 3) ECEF velocity
    burning: NDArray[np.bool_]  # (n,)


def scan_times(t_start: float, t_end: float, interval: float, rng: np.random.Generator) -> F64:
    """t_start + phase + k·interval within [t_start, t_end], phase ~ U[0, interval).

    The random phase keeps sensors with equal intervals from scanning in lockstep; times
    are computed by multiplication, not accumulation, so the spacing is exact.
    """
    phase = rng.uniform(0.0, interval)
    n = max(int(np.floor((t_end - t_start - phase) / interval)) + 1, 0)
    t = t_start + phase + interval * np.arange(n, dtype=float)
    return t[t <= t_end]


def sample_truth(truth: Truth, t: F64) -> Scans:
    """Sample each object only at the scans within its life, so no NaN rows are made."""
    scan, obj = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    r, v, burning = [np.zeros((0, 3))], [np.zeros((0, 3))], [np.zeros(0, bool)]
    for k, track in enumerate(truth.objects):
        lo = int(np.searchsorted(t, track.t_start, side="left"))
        hi = int(np.searchsorted(t, track.t_end, side="right"))
        rk, vk, bk, _ = track.state_at(t[lo:hi])
        scan.append(np.arange(lo, hi, dtype=np.int64))
        obj.append(np.full(hi - lo, k, dtype=np.int64))
        r.append(rk)
        v.append(vk)
        burning.append(bk)
    return Scans(
        t=t,
        objects=[o.object_id for o in truth.objects],
        scan=np.concatenate(scan),
        obj=np.concatenate(obj),
        r=np.concatenate(r),
        v=np.concatenate(v),
        burning=np.concatenate(burning),
    )


def false_alarm_scans(n_scans: int, rate: float, rng: np.random.Generator) -> I64:
    """Scan index of each false alarm, with Poisson(rate) of them per scan."""
    return np.repeat(np.arange(n_scans, dtype=np.int64), rng.poisson(rate, n_scans))


def report_order(scan: I64, rng: np.random.Generator) -> I64:
    """Permutation sorting reports by scan, randomly within a scan.

    Random within a scan so that a report's place tells nothing of its truth (false
    alarms are not always last, objects not in truth order).
    """
    return np.lexsort((rng.random(scan.size), scan)).astype(np.int64)
