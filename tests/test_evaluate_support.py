"""Shared helpers of the evaluation tests (no tests here): a real simulated run and
synthetic tracker output drawn from its truth with a known error distribution.

Ground offsets are placed with pymap3d (not warnlink.geo) so the evaluator's own geometry
is checked against an independent implementation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pymap3d
from numpy.typing import NDArray
from scipy import stats

from warnlink.formats.jsonl import iter_jsonl, write_jsonl
from warnlink.formats.records import Ellipse, Estimate, GroundPoint, Label, Measurement, vec3
from warnlink.formats.truth_files import read_truth
from warnlink.physics.truth import Event, Truth
from warnlink.scenario.load import load_scenario
from warnlink.sim.run import simulate, write_run

F64 = NDArray[np.float64]
ROOT = Path(__file__).resolve().parents[1]
SALVO = ROOT / "scenarios" / "srbm-salvo-east-sea.toml"

# Actual error distributions of the synthetic tracker.
STATE_SIGMA = np.array([150.0, 250.0, 100.0, 15.0, 10.0, 20.0])
STATE_CORR = 0.3  # between each position axis and its velocity axis
IMPACT_COV = np.array([[3000.0**2, 0.4 * 3000 * 1500], [0.4 * 3000 * 1500, 1500.0**2]])
LAUNCH_COV = np.array([[800.0**2, 0.0], [0.0, 500.0**2]])
IMPACT_AFTER_S = 60.0  # impact estimates only from this long after launch


def state_cov() -> F64:
    corr = np.eye(6)
    for i in range(3):
        corr[i, i + 3] = corr[i + 3, i] = STATE_CORR
    return corr * np.outer(STATE_SIGMA, STATE_SIGMA)


def write_salvo_run(out: Path) -> Path:
    """Simulate the shipped salvo scenario into `out` and return it."""
    write_run(simulate(load_scenario(SALVO)), out)
    return out


def object_measurements(run_dir: Path) -> dict[str, list[tuple[str, float]]]:
    """Measurement ids and times of each truth object, in time order."""
    labels = iter_jsonl(run_dir / "labels.jsonl", Label)
    meas: Iterator[Measurement] = iter_jsonl(
        run_dir / "measurements.jsonl",
        Measurement,  # type: ignore[arg-type]
    )
    out: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for m, lab in zip(meas, labels, strict=True):
        if lab.object is not None:
            out[lab.object].append((m.id, m.t))
    return out


def ellipse_of(cov: F64, confidence: float) -> Ellipse:
    vals, vecs = np.linalg.eigh(cov)  # ascending; coordinates (east, north)
    k = float(stats.chi2.ppf(confidence, 2))
    east, north = vecs[:, 1]
    return Ellipse(
        semi_major_m=float(np.sqrt(vals[1] * k)),
        semi_minor_m=float(np.sqrt(vals[0] * k)),
        orientation_deg=float(np.degrees(np.arctan2(east, north)) % 180.0),
        confidence=confidence,
    )


@dataclass
class Synth:
    """A synthetic tracker: errors drawn from the actual covariances, stated ones scaled."""

    truth: Truth
    rng: np.random.Generator
    stated_scale: float = 1.0  # stated covariance = actual * this (0.5: understated 2x)
    confidence: float = 0.95

    def event(self, kind: str, oid: str) -> Event:
        return next(e for e in self.truth.events if e.kind == kind and e.object_id == oid)

    def ground_points(self, ev: Event, cov: F64, t_sigma: float, n: int) -> list[GroundPoint]:
        """n independent estimates of the event's place and time."""
        en = self.rng.multivariate_normal(np.zeros(2), cov, size=n)
        lat, lon, _ = pymap3d.enu2geodetic(en[:, 0], en[:, 1], 0.0, ev.lat_deg, ev.lon_deg, 0.0)
        dt = self.rng.normal(0.0, t_sigma, size=n)
        stated = cov * self.stated_scale
        ellipse = ellipse_of(stated, self.confidence)
        cov_en = (float(stated[0, 0]), float(stated[1, 1]), float(stated[0, 1]))
        return [
            GroundPoint(
                t=ev.t + float(dt[i]),
                t_sigma_s=t_sigma * float(np.sqrt(self.stated_scale)),
                lat_deg=float(lat[i]),
                lon_deg=float(lon[i]),
                cov_en_m2=cov_en,
                ellipse=ellipse,
            )
            for i in range(n)
        ]

    def track(self, track_id: str, updates: list[tuple[str, float, str]]) -> list[Estimate]:
        """Confirmed updates of one track; each is (measurement id, time, truth object)."""
        cov = state_cov()
        stated = [float(x) for x in (cov * self.stated_scale).ravel()]
        n = len(updates)
        noise = self.rng.multivariate_normal(np.zeros(6), cov, size=n)
        out = []
        for oid in sorted({u[2] for u in updates}):
            rows = [i for i, u in enumerate(updates) if u[2] == oid]
            t = np.array([updates[i][1] for i in rows])
            r, v, _, _ = self.truth.object(oid).state_at(t)
            launch = self.event("launch", oid)
            launches = self.ground_points(launch, LAUNCH_COV, 1.0, len(rows))
            impacts = self.ground_points(self.event("impact", oid), IMPACT_COV, 2.0, len(rows))
            for k, i in enumerate(rows):
                out.append(
                    Estimate(
                        t=float(t[k]),
                        track=track_id,
                        status="confirmed",
                        measurement=updates[i][0],
                        sensor=None,
                        phase="ballistic",
                        boost_probability=0.0,
                        ecef_m=vec3(r[k] + noise[i, :3]),
                        vel_mps=vec3(v[k] + noise[i, 3:]),
                        cov_ecef=stated,
                        ballistic_coefficient_kg_m2=None,
                        heading_deg=None,
                        heading_sigma_deg=None,
                        launch=launches[k],
                        impact=impacts[k] if t[k] - launch.t >= IMPACT_AFTER_S else None,
                        orbit=None,
                        sources=["radar"],
                    )
                )
        return sorted(out, key=lambda e: e.t)


def rv_tracks(run_dir: Path, synth: Synth) -> list[Estimate]:
    """One clean track per RV, updated by every measurement of that RV, in time order."""
    per_object = object_measurements(run_dir)
    records: list[Estimate] = []
    for oid in sorted(o.object_id for o in synth.truth.objects if o.kind == "rv"):
        updates = [(mid, t, oid) for mid, t in per_object[oid]]
        records += synth.track(f"T-{oid}", updates)
    return sorted(records, key=lambda e: e.t)


def write_estimates(path: Path, records: list[Estimate]) -> Path:
    write_jsonl(path, records)
    return path


def truth_of(run_dir: Path) -> Truth:
    return read_truth(run_dir / "truth.jsonl", run_dir / "events.jsonl")
