"""Entry point of the sensor simulation: every configured sensor observing the truth."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from warnlink.physics.truth import Truth
from warnlink.scenario.model import RadarSpec, SensorSpec
from warnlink.sensors.batch import MeasurementBatch
from warnlink.sensors.infrared import observe_infrared
from warnlink.sensors.radar import observe_radar
from warnlink.sensors.scans import sample_truth, scan_times


def observe(
    sensors: Sequence[SensorSpec],
    truth: Truth,
    t_start: float,
    t_end: float,
    rng: np.random.Generator,
) -> list[MeasurementBatch]:
    """One time-ordered batch per sensor, in the order of `sensors`.

    Each sensor draws from its own child of rng (Generator.spawn), so its measurements do
    not change when another sensor sees more or fewer objects; the result is fixed by the
    seed of rng and the order of the sensors.
    """
    batches: list[MeasurementBatch] = []
    for spec, g in zip(sensors, rng.spawn(len(sensors)), strict=True):
        scans = sample_truth(truth, scan_times(t_start, t_end, spec.update_interval_s, g))
        if isinstance(spec, RadarSpec):
            batches.append(observe_radar(spec, scans, g))
        else:
            batches.append(observe_infrared(spec, scans, g))
    return batches
