"""Tracker updates to estimate records (docs/formats.md, estimates.jsonl).

Launch, impact and orbit are predicted from a track's state at most once per
`predict_interval_s` of scenario time: propagating sigma points to the ground costs
milliseconds, a filter update microseconds, and the prediction barely moves within a
second. Every update still carries a prediction from its own track's state, made at this
update or at most one interval before (`predicted_from_t` says which), never from a
later state. Predictions of all tracks due in a batch are made in one vectorised call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from warnlink.formats.records import Estimate, GroundPoint, Orbit, vec3
from warnlink.geo.frames import eci_to_ecef
from warnlink.track.launch import LaunchEstimator
from warnlink.track.predict import predict_impacts
from warnlink.track.state import LOG_K, eci_to_ecef_jacobian
from warnlink.track.tracker import TrackUpdate

BOOST_PHASE = 0.5  # boost probability above which the phase is called boost
ORBITAL_PHASE = 0.5  # orbit probability above which the phase is called orbital
K_OBSERVABLE = 0.5  # 1-sigma of ln k below which a ballistic coefficient is reported


@dataclass(frozen=True)
class Prediction:
    t: float
    impact: GroundPoint | None
    orbit: Orbit | None
    launch: GroundPoint | None
    heading_deg: float | None
    heading_sigma_deg: float | None


class EstimateMaker:
    """Keeps each track's latest prediction and launch memory across batches."""

    def __init__(self, confidence: float = 0.95, predict_interval_s: float = 1.0) -> None:
        self.confidence = confidence
        self.predict_interval_s = predict_interval_s
        self.launch = LaunchEstimator(confidence)
        self.latest: dict[str, Prediction] = {}

    def _predict(self, updates: Sequence[TrackUpdate]) -> None:
        """Predict for the first update of each track whose last prediction is stale."""
        due: dict[str, TrackUpdate] = {}
        for u in updates:
            last = self.latest.get(u.track_id)
            stale = last is None or u.t - last.t >= self.predict_interval_s
            if u.status == "confirmed" and stale and u.track_id not in due:
                due[u.track_id] = u
        if not due:
            return
        batch = list(due.values())
        impacts = predict_impacts(
            np.array([u.t for u in batch]),
            np.stack([u.x for u in batch]),
            np.stack([u.P for u in batch]),
            confidence=self.confidence,
            # while the motor may still relight, where it comes down is not yet known
            boost_probability=np.array([u.boost_probability if u.coasting else 1.0 for u in batch]),
        )
        for u, (impact, orbit) in zip(batch, impacts, strict=True):
            launch, heading, heading_sigma = self.launch.update(
                u.track_id, u.t, u.x, u.P, u.boost_probability, u.t_first
            )
            self.latest[u.track_id] = Prediction(u.t, impact, orbit, launch, heading, heading_sigma)

    def records(self, updates: Sequence[TrackUpdate]) -> list[Estimate]:
        if not updates:
            return []
        self._predict(updates)
        t = np.array([u.t for u in updates])
        x = np.stack([u.x for u in updates])
        P = np.stack([u.P for u in updates])
        r, v = eci_to_ecef(t, x[:, :3], x[:, 3:6])
        jac = eci_to_ecef_jacobian(t)
        cov = jac @ P[:, :6, :6] @ np.transpose(jac, (0, 2, 1))
        out = []
        for i, u in enumerate(updates):
            pred = self.latest.get(u.track_id) if u.status == "confirmed" else None
            if pred is not None and pred.t > u.t:
                pred = None  # only from this state or an earlier one
            if u.status == "deleted":
                self.latest.pop(u.track_id, None)
                self.launch.forget(u.track_id)
            log_k_sigma = float(np.sqrt(max(u.P[LOG_K, LOG_K], 0.0)))
            orbital = (
                pred is not None
                and pred.orbit is not None
                and pred.orbit.probability > ORBITAL_PHASE
            )
            out.append(
                Estimate(
                    t=u.t,
                    track=u.track_id,
                    status=u.status,
                    measurement=u.measurement_id,
                    sensor=u.sensor_id,
                    phase=(
                        "orbital"
                        if orbital
                        else "boost"
                        if u.boost_probability > BOOST_PHASE
                        else "ballistic"
                    ),
                    boost_probability=float(u.boost_probability),
                    ecef_m=vec3(r[i]),
                    vel_mps=vec3(v[i]),
                    cov_ecef=[float(c) for c in cov[i].ravel()],
                    ballistic_coefficient_kg_m2=(
                        float(np.exp(-u.x[LOG_K])) if log_k_sigma < K_OBSERVABLE else None
                    ),
                    heading_deg=pred.heading_deg if pred else None,
                    heading_sigma_deg=pred.heading_sigma_deg if pred else None,
                    launch=pred.launch if pred else None,
                    impact=pred.impact if pred else None,
                    orbit=pred.orbit if pred else None,
                    sources=sorted(u.sources),
                    predicted_from_t=pred.t if pred else None,
                )
            )
        return out
