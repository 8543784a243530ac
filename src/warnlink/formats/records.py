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


class Ellipse(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A confidence ellipse on the ground, in the local east-north plane of its centre."""

    semi_major_m: float
    semi_minor_m: float
    orientation_deg: float  # azimuth of the semi-major axis, clockwise from north, [0, 180)
    confidence: float  # probability mass inside, e.g. 0.95


class GroundPoint(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An estimated launch or impact: where and when, with uncertainty."""

    t: float  # launch or impact time, scenario s
    t_sigma_s: float
    lat_deg: float
    lon_deg: float
    cov_en_m2: tuple[float, float, float]  # east variance, north variance, east-north covariance
    ellipse: Ellipse


class Orbit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    perigee_alt_m: float
    apogee_alt_m: float
    probability: float  # share of the state distribution that does not come down


class Estimate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One update of a track: its state and its warning estimates (docs/formats.md)."""

    t: float
    track: str
    status: Literal["tentative", "confirmed", "deleted"]
    measurement: str | None  # id of the measurement of this update; null for a deletion
    sensor: str | None
    phase: Literal["boost", "ballistic", "orbital"]
    boost_probability: float
    ecef_m: Vec3
    vel_mps: Vec3
    cov_ecef: list[float]  # 6x6 position-velocity covariance (m, m/s), row-major, 36 numbers
    ballistic_coefficient_kg_m2: float | None
    heading_deg: float | None  # ground-track azimuth, clockwise from north
    heading_sigma_deg: float | None
    launch: GroundPoint | None
    impact: GroundPoint | None  # null when orbital or not yet estimable
    orbit: Orbit | None
    sources: list[str]  # sensor types that have fed this track: "radar", "infrared"
    predicted_from_t: float | None = None  # time of the state launch/impact/orbit come from
