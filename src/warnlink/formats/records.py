"""Records of the simulator's output files; the contract is docs/formats.md.

msgspec structs so that writing a million measurements is fast and reading them back
is validated field by field (wrong type, missing field) with the line number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec
import numpy as np
from numpy.typing import NDArray

Vec3 = tuple[float, float, float]


def vec3(a: Sequence[float] | NDArray[np.float64]) -> Vec3:
    """A 3-vector as plain floats, the form msgspec writes as a JSON array."""
    return float(a[0]), float(a[1]), float(a[2])


class TruthSample(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    t: float
    object: str
    flight: str
    launch: str
    kind: Literal["rv", "stage", "payload"]
    ecef_m: Vec3
    vel_mps: Vec3
    lat_deg: float
    lon_deg: float
    alt_m: float
    burning: bool


class EventRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    t: float
    kind: Literal[
        "launch", "stage_burnout", "stage_separation", "burnout", "apogee", "impact", "orbit"
    ]
    flight: str
    object: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    details: dict[str, float] = {}


class RadarMeasurement(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="radar", tag_field="type"
):
    id: str
    t: float
    sensor: str
    range_m: float
    az_deg: float
    el_deg: float
    range_rate_mps: float | None = None


class InfraredMeasurement(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="infrared", tag_field="type"
):
    id: str
    t: float
    sensor: str
    los: Vec3
    sensor_ecef_m: Vec3


Measurement = RadarMeasurement | InfraredMeasurement


class Label(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which truth object caused a measurement (null: a false alarm). Evaluation only."""

    id: str
    object: str | None


class RadarEntry(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="radar", tag_field="type"
):
    id: str
    party: str
    platform: Literal["ground", "ship"]
    lat_deg: float
    lon_deg: float
    alt_m: float
    ecef_m: Vec3
    min_range_m: float
    max_range_m: float
    elevation_mask_deg: float
    max_elevation_deg: float
    azimuth_sector_deg: tuple[float, float] | None
    range_sigma_m: float
    angle_sigma_deg: float
    range_rate_sigma_mps: float | None
    update_interval_s: float
    detection_probability: float
    false_alarms_per_scan: float


class InfraredEntry(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="infrared", tag_field="type"
):
    id: str
    party: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    ecef_m: Vec3
    los_sigma_rad: float
    update_interval_s: float
    detection_probability: float
    false_alarms_per_scan: float
    min_altitude_m: float


SensorEntry = RadarEntry | InfraredEntry


class SensorCatalogue(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    epoch: str
    sensors: list[SensorEntry]


class Manifest(msgspec.Struct, frozen=True):
    """What a simulation run directory holds and how it was made."""

    warnlink_version: str
    scenario: str
    epoch: str
    seed: int
    t_end: float
    files: dict[str, str]
    counts: dict[str, int]
