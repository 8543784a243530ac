"""Synthetic estimates for the alerting tests: states and impacts placed where wanted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from warnlink.alert.policy import AlertPolicy, policy_from_dict
from warnlink.formats.records import Estimate, GroundPoint, vec3
from warnlink.geo.frames import enu_basis, geodetic_to_ecef
from warnlink.track.ellipse import ground_point


@dataclass
class TrackedRun:
    """A simulated and tracked run: its directory, estimates and epoch."""

    directory: Path
    estimates_path: Path
    estimates: list[Estimate]
    epoch: datetime


EPOCH = datetime(2022, 10, 3, 22, 22, tzinfo=UTC)
AKITA = (39.72, 140.10)  # Akita city, inside JP-05
IWATE = (39.70, 141.15)  # Morioka, inside JP-03
SEA_OF_JAPAN_EEZ = (40.0, 137.0)  # about 230 km west of Akita's coast
PACIFIC_FAR = (39.6, 163.0)  # where the IRBM of the shipped scenario falls
PYONGYANG = (39.2, 125.67)


def policy(**overrides: object) -> AlertPolicy:
    """A Japanese authority in three languages, quick to reassess."""
    base: dict[str, object] = {
        "party": "JP", "countries": ["JP"], "sender": "test@warnlink.example",
        "sender_name": "消防庁 / FDMA test", "languages": ["ja-JP", "en-US", "ko-KR"],
        "utc_offset": "+09:00", "reassess_interval_s": 0.0,
    }  # fmt: skip
    base.update(overrides)
    return policy_from_dict(base)


def impact(lat: float, lon: float, t: float, sigma_m: float = 3e3) -> GroundPoint:
    return ground_point(t, 2.0, lat, lon, np.diag([sigma_m**2, (0.6 * sigma_m) ** 2]), 0.95)


def state_estimate(
    t: float,
    lat: float,
    lon: float,
    alt_m: float,
    vel_enu_mps: tuple[float, float, float],
    track: str = "T1",
    sigma_m: float = 50.0,
    sigma_v: float = 1.0,
    impact_point: GroundPoint | None = None,
    launch: GroundPoint | None = None,
    boost_probability: float = 0.0,
    heading: tuple[float, float] | None = None,
    status: str = "confirmed",
) -> Estimate:
    """An estimate from a geodetic position and an east-north-up velocity."""
    r = geodetic_to_ecef(lat, lon, alt_m)
    v = np.asarray(vel_enu_mps, float) @ enu_basis(lat, lon)
    cov = np.diag([sigma_m**2] * 3 + [sigma_v**2] * 3)
    return Estimate(
        t=t, track=track, status=status, measurement="m", sensor="s",  # type: ignore[arg-type]
        phase="boost" if boost_probability > 0.5 else "ballistic",
        boost_probability=boost_probability, ecef_m=vec3(r), vel_mps=vec3(v),
        cov_ecef=[float(x) for x in cov.ravel()], ballistic_coefficient_kg_m2=None,
        heading_deg=heading[0] if heading else None,
        heading_sigma_deg=heading[1] if heading else None,
        launch=launch, impact=impact_point, orbit=None, sources=["radar"],
    )  # fmt: skip


def falling_on(
    lat: float,
    lon: float,
    t: float,
    track: str = "T1",
    t_impact: float = 60.0,
    sigma_m: float = 3e3,
) -> Estimate:
    """A near-vertical descent 30 km above a point with its predicted impact there."""
    return state_estimate(
        t, lat, lon, 30e3, (0.0, 0.0, -1500.0), track=track,
        impact_point=impact(lat, lon, t + t_impact, sigma_m),
    )  # fmt: skip


def boosting(t: float, track: str = "T1", heading: tuple[float, float] | None = None) -> Estimate:
    """A burning booster 40 km over Pyongyang: no impact yet."""
    return state_estimate(
        t, *PYONGYANG, 40e3, (800.0, 100.0, 1500.0), track=track, boost_probability=0.95,
        heading=heading, launch=impact(*PYONGYANG, t - 60.0),
    )  # fmt: skip
