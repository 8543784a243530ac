"""Bringing shared tracks to a common time with the tracker's own prediction.

Reports arrive at their origins' update times, seconds apart; association and fusion
need them at one time. The tracker's IMM prediction (both flight models, their process
noise, the boost probability carried forward) is used rather than a separate model, so
an aligned report is exactly what its origin would have predicted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from warnlink.fusion.report import SharedTrack
from warnlink.track import imm
from warnlink.track.manager import TrackerConfig
from warnlink.track.models import BOOST
from warnlink.track.state import N_STATE

F64 = NDArray[np.float64]


def states(reports: Sequence[SharedTrack]) -> tuple[F64, F64, F64]:
    """States (n, 10), covariances (n, 10, 10) and boost probabilities (n,) as sent."""
    x = np.array([r.state_eci for r in reports], float).reshape(-1, N_STATE)
    P = np.array([r.cov_eci for r in reports], float).reshape(-1, N_STATE, N_STATE)
    return x, P, np.array([r.boost_probability for r in reports], float)


def align(reports: Sequence[SharedTrack], t: float, cfg: TrackerConfig) -> tuple[F64, F64, F64]:
    """States, covariances and boost probabilities of reports (all at or before t) at t.

    A report at t is passed through unchanged. A coasting report may not relight (its
    origin's tracker has dropped the boost model), as in the origin's own prediction.
    """
    x, P, pb = states(reports)
    dt = t - np.array([r.t for r in reports], float)
    go = np.flatnonzero(dt > 0.0)
    if go.size:
        mu = np.stack([pb[go], 1.0 - pb[go]], axis=1)
        since = np.array([np.inf if reports[i].coasting else 0.0 for i in go.tolist()])
        xs = np.repeat(x[go, None], 2, axis=1)
        Ps = np.repeat(P[go, None], 2, axis=1)
        x1, P1, mu1 = imm.predict(xs, Ps, mu, dt[go], cfg.noise, cfg.switching, since)
        x[go], P[go] = imm.combine(x1, P1, mu1)
        pb[go] = mu1[:, BOOST]
    return x, P, pb
