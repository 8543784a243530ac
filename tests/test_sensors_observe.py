"""observe(): one batch per sensor, exact scan spacing, object lifetimes, determinism."""

from __future__ import annotations

import numpy as np

from test_sensors_support import ecef, infrared, line_track, radar, truth_of
from warnlink.physics.truth import Truth
from warnlink.scenario.model import SensorSpec
from warnlink.sensors.batch import InfraredBatch, MeasurementBatch, RadarBatch
from warnlink.sensors.observe import observe

SENSORS: tuple[SensorSpec, ...] = (
    radar(id="R1", update_interval_s=0.7, false_alarms_per_scan=2.0),
    radar(id="R2", update_interval_s=0.7, range_rate_sigma_mps=None),
    infrared(id="IR1", update_interval_s=1.3, false_alarms_per_scan=1.0),
)


def scene() -> Truth:
    """A burning object seen by all three sensors for all of [0, 100], and one alive 10–20 s."""
    r = ecef(36.0, 41.0, 200e3)
    return truth_of(
        line_track("always", r, np.zeros(3), t0=0.0, t1=100.0),
        line_track("brief", r, np.zeros(3), t0=10.0, t1=20.0),
    )


def run(seed: int, t_start: float = 3.0, t_end: float = 100.0) -> list[MeasurementBatch]:
    return observe(SENSORS, scene(), t_start, t_end, np.random.default_rng(seed))


def test_one_time_ordered_batch_per_sensor_with_truth_indices() -> None:
    batches = run(1)
    assert [b.sensor_id for b in batches] == ["R1", "R2", "IR1"]
    assert [type(b) for b in batches] == [RadarBatch, RadarBatch, InfraredBatch]
    for b in batches:
        assert np.all(np.diff(b.t) >= 0)
        assert b.objects == ["always", "brief"]
        assert set(b.truth) <= {-1, 0, 1}
        brief = b.t[b.truth == 1]
        assert brief.size > 0 and np.all((brief >= 10.0) & (brief <= 20.0))
    r2 = batches[1]
    assert isinstance(r2, RadarBatch)
    assert np.all(np.isnan(r2.range_rate_mps)) and np.any(r2.truth == 0)


def test_scans_are_spaced_by_the_update_interval_with_a_random_phase() -> None:
    first = []
    for spec, b in zip(SENSORS, run(2), strict=True):
        scans = np.unique(b.t[b.truth == 0])  # Pd = 1: the object is in every scan
        dt = spec.update_interval_s
        assert np.allclose(np.diff(scans), dt, rtol=0, atol=1e-9)
        assert 3.0 <= scans[0] < 3.0 + dt and 100.0 - dt < scans[-1] <= 100.0
        assert np.all(np.isin(b.t, scans))  # false alarms come at scan times too
        first.append(scans[0])
    assert first[0] != first[1]  # equal intervals, yet not in lockstep


def test_deterministic_per_seed() -> None:
    def flat(batches: list[MeasurementBatch]) -> list[np.ndarray]:
        return [
            np.asarray(v) for b in batches for v in vars(b).values() if isinstance(v, np.ndarray)
        ]

    same = zip(flat(run(7)), flat(run(7)), strict=True)
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in same)
    assert not np.array_equal(run(7)[0].t, run(8)[0].t)


def test_empty_window_and_empty_truth() -> None:
    assert all(b.t.size == 0 for b in run(3, t_start=50.0, t_end=40.0))
    batches = observe(SENSORS, truth_of(), 0.0, 100.0, np.random.default_rng(3))
    assert all(np.all(b.truth == -1) for b in batches)
    assert batches[0].t.size > 0
