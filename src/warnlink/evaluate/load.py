"""Reading a run directory and an estimates file into arrays the metrics can vectorise over.

Every problem with the input (missing file, bad line, an estimate naming a measurement the
run does not hold) is a FormatError naming the file, so the CLI can report it cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from warnlink.formats.jsonl import FormatError, iter_jsonl
from warnlink.formats.records import Estimate, GroundPoint, Label
from warnlink.formats.truth_files import read_truth
from warnlink.physics.truth import Truth

F64 = NDArray[np.float64]


@dataclass
class RunData:
    """The truth side: trajectories, events and which object caused each measurement."""

    truth: Truth
    labels: dict[str, str | None]  # measurement id -> truth object id (None: false alarm)


@dataclass
class GroundPoints:
    """Launch or impact estimates of all updates; rows without one are NaN, `has` False."""

    has: NDArray[np.bool_]  # (n,)
    t: F64  # (n,) estimated time, s
    t_sigma: F64  # (n,)
    lat: F64  # (n,) deg
    lon: F64  # (n,) deg
    cov_en: F64  # (n, 2, 2) east-north covariance, m²
    confidence: F64  # (n,) confidence of the stated ellipse


@dataclass
class EstimateTable:
    """All confirmed updates of estimates.jsonl as arrays, in file order (time order)."""

    t: F64  # (n,)
    track: NDArray[np.str_]  # (n,) track id
    measurement: list[str | None]  # (n,)
    r: F64  # (n, 3) ECEF position, m
    v: F64  # (n, 3) ECEF velocity, m/s
    cov: F64  # (n, 6, 6)
    impact: GroundPoints
    launch: GroundPoints
    deleted_at: dict[str, float]  # track id -> time of its `deleted` line
    n_lines: int  # all lines, including tentative and deleted ones

    def __len__(self) -> int:
        return len(self.t)


def _need(path: Path) -> Path:
    if not path.is_file():
        raise FormatError(path, None, "no such file")
    return path


def load_run(run_dir: Path) -> RunData:
    """Truth, events and labels of a `warnlink simulate` run directory."""
    truth = read_truth(_need(run_dir / "truth.jsonl"), _need(run_dir / "events.jsonl"))
    labels = {lab.id: lab.object for lab in iter_jsonl(_need(run_dir / "labels.jsonl"), Label)}
    return RunData(truth=truth, labels=labels)


def _ground_points(points: list[GroundPoint | None]) -> GroundPoints:
    n = len(points)
    has = np.array([p is not None for p in points], dtype=bool)
    rows = np.full((n, 8), np.nan)
    for i, p in enumerate(points):
        if p is not None:
            rows[i] = (p.t, p.t_sigma_s, p.lat_deg, p.lon_deg, *p.cov_en_m2, p.ellipse.confidence)
    cov = np.empty((n, 2, 2))
    cov[:, 0, 0], cov[:, 1, 1] = rows[:, 4], rows[:, 5]
    cov[:, 0, 1] = cov[:, 1, 0] = rows[:, 6]
    return GroundPoints(has, rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], cov, rows[:, 7])


def load_estimates(path: Path, run: RunData) -> EstimateTable:
    """Confirmed updates of an estimates file, checked against the run's measurements."""
    kept: list[Estimate] = []
    deleted: dict[str, float] = {}
    n_lines = 0
    for n_lines, est in enumerate(iter_jsonl(_need(path), Estimate), 1):
        if len(est.cov_ecef) != 36:
            raise FormatError(path, n_lines, f"cov_ecef has {len(est.cov_ecef)} numbers, not 36")
        if est.measurement is not None and est.measurement not in run.labels:
            raise FormatError(path, n_lines, f"unknown measurement {est.measurement!r}")
        if est.status == "deleted":
            deleted[est.track] = est.t
        elif est.status == "confirmed":
            kept.append(est)
    return _table(kept, deleted, n_lines)


def _table(kept: list[Estimate], deleted: dict[str, float], n_lines: int) -> EstimateTable:
    t = np.array([e.t for e in kept], dtype=float)
    order = np.argsort(t, kind="stable")
    kept = [kept[i] for i in order]
    return EstimateTable(
        t=t[order],
        track=np.array([e.track for e in kept], dtype=np.str_),
        measurement=[e.measurement for e in kept],
        r=np.array([e.ecef_m for e in kept], dtype=float).reshape(-1, 3),
        v=np.array([e.vel_mps for e in kept], dtype=float).reshape(-1, 3),
        cov=np.array([e.cov_ecef for e in kept], dtype=float).reshape(-1, 6, 6),
        impact=_ground_points([e.impact for e in kept]),
        launch=_ground_points([e.launch for e in kept]),
        deleted_at=deleted,
        n_lines=n_lines,
    )
