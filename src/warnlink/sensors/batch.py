"""Columnar measurements of one sensor, the output of the sensor models.

Columnar (numpy arrays) so that whole scans of many objects are made at once; the file
writer in warnlink.formats turns batches into the JSON Lines contract of docs/formats.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


@dataclass
class RadarBatch:
    """Plots of one radar. Angles in the radar's local geodetic frame (ENU at the site).

    `range_rate_mps` is NaN where the radar measures no range rate. `truth` holds the
    index into `objects` of the object that caused each plot, -1 for a false alarm;
    it is for evaluation only and never reaches a tracker.
    """

    sensor_id: str
    t: F64  # (n,) scenario time, s, non-decreasing
    range_m: F64  # (n,)
    az_rad: F64  # (n,) clockwise from true north, [0, 2pi)
    el_rad: F64  # (n,)
    range_rate_mps: F64  # (n,), NaN if not measured
    truth: NDArray[np.int64]  # (n,)
    objects: list[str]  # object ids indexed by `truth`


@dataclass
class InfraredBatch:
    """Line-of-sight reports of one space-based infrared sensor.

    `los` is the ECEF unit vector from the satellite to the object; `sensor_ecef_m` the
    satellite's ECEF position at each report (it may move in general).
    """

    sensor_id: str
    t: F64  # (n,)
    los: F64  # (n, 3)
    sensor_ecef_m: F64  # (n, 3)
    truth: NDArray[np.int64]  # (n,)
    objects: list[str]


MeasurementBatch = RadarBatch | InfraredBatch
