"""Validated scenario contents, in SI units (m, s, rad) unless a name says otherwise.

Everything downstream (physics, sensors, exercise) takes these types, never raw TOML,
so units are converted and checked exactly once, in the loader.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Literal

VehicleClassName = Literal["srbm", "mrbm", "irbm", "icbm", "slv"]
Profile = Literal["minimum-energy", "lofted", "depressed"]
Platform = Literal["ground", "ship"]


@dataclass(frozen=True)
class Party:
    code: str
    name: str
    release_tracks: tuple[str, ...] | None = None  # None: every other party
    release_estimates: tuple[str, ...] | None = None  # None: as release_tracks


@dataclass(frozen=True)
class RadarSpec:
    """A ground or ship radar at a fixed site (ship motion is not modelled)."""

    id: str
    party: str
    platform: Platform
    lat_deg: float
    lon_deg: float
    alt_m: float
    max_range_m: float
    elevation_mask_rad: float
    range_sigma_m: float
    angle_sigma_rad: float
    update_interval_s: float
    detection_probability: float
    false_alarms_per_scan: float
    min_range_m: float = 0.0
    max_elevation_rad: float = 1.5707963267948966
    # (from, to) clockwise from true north; None = all round. May wrap through north.
    azimuth_sector_rad: tuple[float, float] | None = None
    range_rate_sigma_mps: float | None = None


@dataclass(frozen=True)
class InfraredSpec:
    """A space-based infrared sensor on a satellite fixed in the Earth frame (e.g. GEO)."""

    id: str
    party: str
    sat_lat_deg: float
    sat_lon_deg: float
    sat_alt_m: float
    los_sigma_rad: float
    update_interval_s: float
    detection_probability: float
    false_alarms_per_scan: float
    min_altitude_m: float


SensorSpec = RadarSpec | InfraredSpec


@dataclass(frozen=True)
class FlightPlan:
    """Where, when and how a vehicle flies: what a launch gives each flight of its salvo."""

    site_lat_deg: float
    site_lon_deg: float
    site_alt_m: float
    time_s: float
    vehicle_class: VehicleClassName
    profile: Profile
    _: KW_ONLY  # which of these a flight needs depends on its class and profile
    apogee_m: float | None = None  # lofted (required) / depressed (optional)
    target_lat_deg: float | None = None  # ballistic classes
    target_lon_deg: float | None = None
    orbit_altitude_m: float | None = None  # slv
    azimuth_deg: float | None = None  # slv launch azimuth, clockwise from north


@dataclass(frozen=True)
class _FlightName:
    id: str  # e.g. "L1" for a single launch, "L1-3" for the third of a salvo
    launch_id: str


@dataclass(frozen=True)
class _LaunchName:
    id: str
    site_name: str


# A dataclass takes the fields of its last base first, so the names lead:
# Flight(id, launch_id, site_lat_deg, ..., profile, *, apogee_m, ...) and
# LaunchSpec(id, site_name, site_lat_deg, ..., profile, salvo_count, salvo_spacing_s, *, ...).
@dataclass(frozen=True)
class Flight(FlightPlan, _FlightName):
    """One missile or launcher of a launch (a salvo of n gives n flights)."""


@dataclass(frozen=True)
class LaunchSpec(FlightPlan, _LaunchName):
    """A launch as written in the scenario: possibly a salvo from one site."""

    salvo_count: int = 1
    salvo_spacing_s: float = 0.0

    def flights(self) -> list[Flight]:
        """Expand a salvo into its individual flights, spaced in time."""
        ids = (
            [self.id]
            if self.salvo_count == 1
            else [f"{self.id}-{k + 1}" for k in range(self.salvo_count)]
        )
        plan = {f.name: getattr(self, f.name) for f in fields(FlightPlan)}
        return [
            Flight(
                **plan | {"time_s": self.time_s + k * self.salvo_spacing_s},
                id=fid,
                launch_id=self.id,
            )
            for k, fid in enumerate(ids)
        ]


@dataclass(frozen=True)
class Outage:
    start_s: float
    end_s: float


@dataclass(frozen=True)
class LinkSpec:
    """The network link between one party and the hub."""

    party: str
    latency_s: float
    jitter_s: float = 0.0
    outages: tuple[Outage, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    epoch: datetime  # UTC instant of scenario time 0
    seed: int
    parties: tuple[Party, ...]
    sensors: tuple[SensorSpec, ...]
    launches: tuple[LaunchSpec, ...]
    links: tuple[LinkSpec, ...] = ()
    description: str = ""
    duration_s: float | None = None  # None: until every object has landed or is in orbit
    truth_interval_s: float = 1.0

    def flights(self) -> list[Flight]:
        return [f for launch in self.launches for f in launch.flights()]
