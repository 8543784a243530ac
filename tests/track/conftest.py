"""Shared fixtures of the tracker tests: a shipped scenario simulated and tracked once."""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from warnlink.formats.measurement_files import measurement_records, sensor_catalogue
from warnlink.formats.records import Measurement
from warnlink.geo.frames import ecef_to_eci
from warnlink.scenario.load import load_scenario
from warnlink.sim.run import Simulation, simulate
from warnlink.track.tracker import Tracker, TrackUpdate
from worker_cache import shared_cache

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Tracked:
    """A simulation, its measurements with their truth labels, and the tracker's output."""

    sim: Simulation
    measurements: list[Measurement]
    label: dict[str, str | None]
    updates: list[TrackUpdate]
    by_track: dict[str, list[TrackUpdate]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        groups: dict[str, list[TrackUpdate]] = collections.defaultdict(list)
        for u in self.updates:
            groups[u.track_id].append(u)
        self.by_track = dict(groups)

    def confirmed(self) -> dict[str, list[TrackUpdate]]:
        return {k: v for k, v in self.by_track.items() if any(u.status == "confirmed" for u in v)}

    def objects(self, track: str) -> collections.Counter[str | None]:
        return collections.Counter(
            self.label[u.measurement_id] for u in self.by_track[track] if u.measurement_id
        )

    def majority(self, track: str) -> tuple[str | None, float]:
        """The object behind most of a track's measurements and its share (the purity)."""
        counts = self.objects(track)
        obj, n = counts.most_common(1)[0]
        return obj, n / sum(counts.values())

    def first_detection(self, obj: str) -> float:
        return min(m.t for m in self.measurements if self.label[m.id] == obj)

    def last_detection(self, obj: str) -> float:
        return max(m.t for m in self.measurements if self.label[m.id] == obj)

    def nees(self, track: str, obj: str) -> tuple[np.ndarray, np.ndarray]:
        """Times and NEES (6 dof, ECI position-velocity) of a track's confirmed updates."""
        o = self.sim.truth.object(obj)
        ts, out = [], []
        for u in self.by_track[track]:
            if u.measurement_id is None or u.status != "confirmed":
                continue
            r, v, _, alive = o.state_at(u.t)
            if not alive:
                continue
            ri, vi = ecef_to_eci(u.t, r, v)
            e = u.x[:6] - np.concatenate([ri, vi])
            ts.append(u.t)
            out.append(float(e @ np.linalg.solve(u.P[:6, :6], e)))
        return np.array(ts), np.array(out)


def run_tracker(path: Path) -> Tracked:
    scenario = load_scenario(path)
    sim = simulate(scenario)
    measurements, labels = measurement_records(sim.batches)
    tracker = Tracker(sensor_catalogue(scenario.sensors, scenario.epoch))
    updates = tracker.process(measurements) + tracker.finish()
    return Tracked(sim, measurements, {lb.id: lb.object for lb in labels}, updates)


@pytest.fixture(scope="session")
def tracked(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Callable[[str], Tracked]:
    """Tracked runs of shipped scenarios by file stem, each computed once per test session.

    Under pytest-xdist the workers share one run through a locked pickle in the session's
    temporary directory, so that a scenario is not tracked once per worker.
    """
    return shared_cache(
        tmp_path_factory,
        worker_id,
        "track",
        lambda stem: run_tracker(ROOT / "scenarios" / f"{stem}.toml"),
    )
