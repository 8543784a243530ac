"""Stone Soup baseline: an off-the-shelf multi-target tracker on our measurement files.

Why: the tracker's speed and accuracy need an independent, well-known reference run on
exactly the same plots. Configuration (as well as Stone Soup's components allow):
- state: ECEF [x, vx, y, vy, z, vz] (Earth-fixed, so no inertial terms are modelled);
- transition: nearly constant velocity per axis (Stone Soup has no ballistic model with
  gravity, drag or Earth rotation: the ~10 m/s^2 of gravity goes into process noise);
- radar plots -> Detections with CartesianToElevationBearingRange(Rate), one model per
  radar: translation = the site's ECEF position, rotation = ECEF -> (north, west, up) of
  the site, so that Stone Soup's bearing (anticlockwise from x) is minus our azimuth
  (clockwise from north) and its elevation is ours; noise from sensors.json;
- infrared lines of sight are skipped (no bearing-only 3D model from a moving ECEF
  origin fits Stone Soup's models directly);
- EKF predictor/updater, Mahalanobis hypothesiser, GNNWith2DAssignment,
  MultiMeasurementInitiator, UpdateTimeStepsDeleter.
Usage: python bench/stonesoup_baseline.py RUN_DIR | SCENARIO.toml [...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from scoring import TrackPoints, score_tracks
from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
from stonesoup.deleter.time import UpdateTimeStepsDeleter
from stonesoup.hypothesiser.distance import DistanceHypothesiser
from stonesoup.initiator.simple import MultiMeasurementInitiator
from stonesoup.measures import Mahalanobis
from stonesoup.models.measurement.nonlinear import (
    CartesianToElevationBearingRange,
    CartesianToElevationBearingRangeRate,
)
from stonesoup.models.transition.linear import (
    CombinedLinearGaussianTransitionModel,
    ConstantVelocity,
)
from stonesoup.predictor.kalman import ExtendedKalmanPredictor
from stonesoup.tracker.simple import MultiTargetTracker
from stonesoup.types.angle import Bearing, Elevation
from stonesoup.types.array import CovarianceMatrix, StateVector
from stonesoup.types.detection import Detection
from stonesoup.types.state import GaussianState
from stonesoup.types.update import Update
from stonesoup.updater.kalman import ExtendedKalmanUpdater

from warnlink.formats.jsonl import iter_jsonl, read_json
from warnlink.formats.records import Label, Measurement, RadarEntry, RadarMeasurement
from warnlink.formats.records import SensorCatalogue as Catalogue
from warnlink.formats.truth_files import read_truth
from warnlink.geo.frames import enu_basis

# m^2/s^3: white-noise acceleration for ~10 m/s^2 of unmodelled gravity (and re-entry
# drag); on the SRBM salvo 100 fragments every track (30 for 8 objects, gates too tight
# between scans), 3000 loosens the estimates; 1000 gave one track per object.
Q_NCV = 1000.0
GATE = 5.0  # Mahalanobis distance of a missed detection
MIN_POINTS = 3  # detections to confirm a track
DELETE_STEPS = 30  # tracker time steps (distinct scan times) without update
EPOCH = datetime(2000, 1, 1)


class _Ebr(CartesianToElevationBearingRange):  # type: ignore[misc]
    """Our site rotation as a fixed matrix (_rot), instead of Stone Soup's Euler angles."""

    @property
    def rotation_matrix(self) -> np.ndarray:
        return self._rot  # type: ignore[no-any-return]


class _Ebrr(CartesianToElevationBearingRangeRate):  # type: ignore[misc]
    @property
    def rotation_matrix(self) -> np.ndarray:
        return self._rot  # type: ignore[no-any-return]


def _models(cat: Catalogue) -> dict[str, Any]:
    """One measurement model per radar, in the (north, west, up) frame of its site."""
    models: dict[str, Any] = {}
    for s in cat.sensors:
        if not isinstance(s, RadarEntry):
            continue
        e, n, u = enu_basis(s.lat_deg, s.lon_deg)
        a2 = np.radians(s.angle_sigma_deg) ** 2
        rr = s.range_rate_sigma_mps
        sig = [a2, a2, s.range_sigma_m**2] + ([] if rr is None else [rr**2])
        kw = dict(
            ndim_state=6, mapping=(0, 2, 4), noise_covar=CovarianceMatrix(np.diag(sig)),
            translation_offset=StateVector(s.ecef_m),
        )  # fmt: skip
        m = _Ebr(**kw) if rr is None else _Ebrr(**kw, velocity_mapping=(1, 3, 5))
        m._rot = np.array([n, -e, u])
        models[s.id] = m
    return models


def _scans(run_dir: Path, models: dict[str, Any]) -> tuple[list[Any], int, int]:
    """Detections grouped by time, with the label kept in metadata (for scoring only)."""
    labels = {lab.id: lab.object for lab in iter_jsonl(run_dir / "labels.jsonl", Label)}
    groups: dict[float, set[Detection]] = defaultdict(set)
    n_radar = n_ir = 0
    path = run_dir / "measurements.jsonl"
    for m in iter_jsonl(path, Measurement):  # type: ignore[arg-type]
        if not isinstance(m, RadarMeasurement):
            n_ir += 1
            continue
        n_radar += 1
        z = [Elevation(np.radians(m.el_deg)), Bearing(-np.radians(m.az_deg)), m.range_m]
        if m.range_rate_mps is not None:
            z.append(m.range_rate_mps)
        ts = EPOCH + timedelta(seconds=m.t)
        det = Detection(
            StateVector(z), timestamp=ts, measurement_model=models[m.sensor],
            metadata={"label": labels[m.id]},
        )  # fmt: skip
        groups[m.t].add(det)
    scans = [(EPOCH + timedelta(seconds=t), groups[t]) for t in sorted(groups)]
    return scans, n_radar, n_ir


def _tracker(scans: list[Any]) -> MultiTargetTracker:
    transition = CombinedLinearGaussianTransitionModel([ConstantVelocity(Q_NCV)] * 3)
    predictor = ExtendedKalmanPredictor(transition)
    updater = ExtendedKalmanUpdater(measurement_model=None)
    hyp = DistanceHypothesiser(predictor, updater, Mahalanobis(), missed_distance=GATE)
    assoc = GNNWith2DAssignment(hyp)
    deleter = UpdateTimeStepsDeleter(DELETE_STEPS)
    prior = GaussianState(StateVector(np.zeros(6)), CovarianceMatrix(np.diag([0, 3e3**2] * 3)))
    initiator = MultiMeasurementInitiator(
        prior, deleter, assoc, updater, measurement_model=None, min_points=MIN_POINTS
    )
    return MultiTargetTracker(
        initiator=initiator, deleter=deleter, detector=scans, data_associator=assoc,
        updater=updater,
    )  # fmt: skip


def run_stonesoup(run_dir: Path, max_s: float | None = None) -> dict[str, Any]:
    """Track a run directory's radar plots with Stone Soup; speed and accuracy vs truth.

    Each track is assigned to the truth object that caused most of its detections (labels);
    the error is over all of its updates. max_s stops the run after that much wall time.
    """
    cat = read_json(run_dir / "sensors.json", Catalogue)
    models = _models(cat)
    scans, n_radar, n_ir = _scans(run_dir, models)
    tracker = _tracker(scans)
    all_tracks: set[Any] = set()
    done = 0
    t0 = time.perf_counter()
    for _, tracks in tracker:
        all_tracks |= tracks
        done += 1
        if max_s is not None and time.perf_counter() - t0 > max_s:
            break
    wall = time.perf_counter() - t0
    n_done = sum(len(s[1]) for s in scans[:done])
    truth = read_truth(run_dir / "truth.jsonl", run_dir / "events.jsonl")
    points = []
    for track in all_tracks:
        ups = [s for s in track.states if isinstance(s, Update)]
        points.append(
            TrackPoints(
                labels=[u.hypothesis.measurement.metadata.get("label") for u in ups],
                t=np.array([(u.timestamp - EPOCH).total_seconds() for u in ups]),
                ecef_m=np.array([np.asarray(u.state_vector, float)[[0, 2, 4], 0] for u in ups]),
            )
        )
    return {
        "radar measurements processed / total": [n_done, n_radar],
        "infrared measurements skipped": n_ir,
        "wall_s": round(wall, 2),
        "measurements_per_s": round(n_done / wall, 1),
        "tracks (confirmed, any time)": len(all_tracks),
        **score_tracks(points, truth),
    }


def main(args: list[str]) -> int:
    from warnlink.scenario.load import load_scenario
    from warnlink.sim.run import simulate, write_run

    for arg in args:
        path = Path(arg)
        if path.suffix == ".toml":
            out = Path(tempfile.mkdtemp(prefix="ss-"))
            write_run(simulate(load_scenario(path)), out)
            path = out
        print(path.name if arg.endswith(".toml") else arg, run_stonesoup(path), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
