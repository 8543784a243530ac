"""Generic vehicles per class, and the cheap reach check the scenario loader runs.

Numbers are public orders of magnitude only (open literature on solid and liquid
missiles and small launchers), sized so that each class flies its envelope with the
boost model of warnlink.physics.ascent, with a few % of propellant to spare in the
hardest direction (westwards, against Earth's rotation); they are no real missile's
data. Masses in kg, Isp in s (vacuum, averaged), burn times in s, beta = m / (Cd A).
The envelopes are proven by tests/physics/test_physics_flight.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from warnlink.geo.frames import R_MEAN
from warnlink.physics import kepler
from warnlink.scenario.model import Flight


@dataclass(frozen=True)
class Stage:
    gross_kg: float  # loaded stage, without the stages above it
    propellant_kg: float
    isp_s: float
    burn_s: float
    diameter_m: float
    spent_beta: float  # kg/m^2 of the empty, tumbling stage

    @property
    def dry_kg(self) -> float:
        return self.gross_kg - self.propellant_kg


@dataclass(frozen=True)
class Vehicle:
    name: str
    stages: tuple[Stage, ...]
    payload_kg: float  # RV (ballistic classes) or satellite (slv)
    payload_beta: float  # kg/m^2
    vertical_rise_s: float  # before the pitch program starts
    pitch_shape: float  # exponent q of the pitch program (see ascent); solved for an slv
    min_range_m: float = 0.0  # tested minimum-energy envelope (ballistic classes)
    max_range_m: float = 0.0
    # Lofted and depressed flights: the Keplerian surface-to-surface speed the class can
    # give (kepler.speed_for_apogee of the requested range and apogee), calibrated on
    # flown trajectories with a margin for their gravity and drag losses.
    max_speed_mps: float = 0.0
    max_orbit_m: float = 0.0  # slv

    @property
    def launch_mass_kg(self) -> float:
        return sum(s.gross_kg for s in self.stages) + self.payload_kg


MIN_ORBIT_M = 200e3  # lower orbits decay within days; an slv aims higher
DEPRESSED_APOGEE_FRACTION = 0.6  # default depressed apogee / minimum-energy apogee
MIN_DEPRESSED_FRACTION = 0.5  # flatter arcs spend too long in the air for this model

VEHICLES: dict[str, Vehicle] = {
    "srbm": Vehicle(
        "srbm",
        (Stage(7500.0, 6200.0, 265.0, 60.0, 0.95, 250.0),),
        payload_kg=500.0, payload_beta=4000.0, vertical_rise_s=6.0, pitch_shape=0.4,
        min_range_m=300e3, max_range_m=1000e3, max_speed_mps=2800.0,
    ),
    "mrbm": Vehicle(
        "mrbm",
        (
            Stage(11000.0, 9600.0, 265.0, 65.0, 1.4, 300.0),
            Stage(3600.0, 3100.0, 280.0, 55.0, 1.4, 250.0),
        ),
        payload_kg=650.0, payload_beta=6000.0, vertical_rise_s=8.0, pitch_shape=0.4,
        min_range_m=1000e3, max_range_m=3000e3, max_speed_mps=4900.0,
    ),
    "irbm": Vehicle(
        "irbm",
        (
            Stage(18500.0, 16500.0, 285.0, 95.0, 1.6, 400.0),
            Stage(4700.0, 4100.0, 300.0, 75.0, 1.6, 300.0),
        ),
        payload_kg=700.0, payload_beta=8000.0, vertical_rise_s=8.0, pitch_shape=0.4,
        min_range_m=2500e3, max_range_m=5500e3, max_speed_mps=6100.0,
    ),
    "icbm": Vehicle(
        "icbm",
        (
            Stage(50000.0, 45000.0, 275.0, 70.0, 2.1, 500.0),
            Stage(15000.0, 13000.0, 295.0, 65.0, 2.1, 400.0),
            Stage(3400.0, 2800.0, 300.0, 55.0, 1.5, 300.0),
        ),
        payload_kg=900.0, payload_beta=15000.0, vertical_rise_s=10.0, pitch_shape=0.4,
        min_range_m=5500e3, max_range_m=13000e3, max_speed_mps=7850.0,
    ),
    "slv": Vehicle(
        "slv",
        (
            Stage(65000.0, 58000.0, 260.0, 120.0, 2.4, 500.0),
            Stage(14000.0, 12000.0, 290.0, 110.0, 2.4, 400.0),
            Stage(3000.0, 2500.0, 300.0, 250.0, 1.5, 300.0),
        ),
        payload_kg=200.0, payload_beta=1000.0, vertical_rise_s=10.0, pitch_shape=1.0,
        max_orbit_m=600e3,
    ),
}  # fmt: skip


def _range_angle(flight: Flight) -> float:
    psi, _ = kepler.great_circle(
        flight.site_lat_deg,
        flight.site_lon_deg,
        flight.target_lat_deg or 0.0,
        flight.target_lon_deg or 0.0,
    )
    return float(psi)


def profile_apogee(flight: Flight) -> float:
    """Apogee height (m) a lofted or depressed flight must reach; NaN for minimum energy.

    A depressed flight without an apogee flies DEPRESSED_APOGEE_FRACTION of the
    Keplerian minimum-energy apogee for its range.
    """
    if flight.profile == "minimum-energy" or flight.vehicle_class == "slv":
        return np.nan
    if flight.apogee_m is not None:
        return flight.apogee_m
    if flight.profile == "lofted":
        return np.nan
    return DEPRESSED_APOGEE_FRACTION * float(kepler.min_energy_apogee(R_MEAN, _range_angle(flight)))


def _km(m: float) -> str:
    return f"{m / 1e3:,.0f} km"


def reach_problem(flight: Flight) -> tuple[str, str] | None:
    """Why a flight cannot be flown, as (scenario field, problem), or None if it can.

    Keplerian and cheap: the scenario loader calls it for every launch. Ground ranges
    are great circles on the mean sphere.
    """
    veh = VEHICLES.get(flight.vehicle_class)
    if veh is None:
        return "class", f"unknown vehicle class {flight.vehicle_class!r}"
    if veh.name == "slv":
        return _orbit_problem(flight, veh)
    if flight.target_lat_deg is None or flight.target_lon_deg is None:
        return "target", f"class {veh.name} needs a target"
    psi = _range_angle(flight)
    rng, cls = psi * R_MEAN, f"class {veh.name}"
    if flight.profile == "minimum-energy":
        if flight.apogee_m is not None:
            return "apogee", "an apogee is given only for lofted or depressed profiles"
        if rng > veh.max_range_m + 1.0:
            return "target", f"{_km(rng)} away, beyond the {_km(veh.max_range_m)} reach of {cls}"
        if rng < veh.min_range_m - 1.0:
            closer = f"closer than the {_km(veh.min_range_m)} minimum range of {cls}"
            return "target", f"{_km(rng)} away, {closer}"
        return None
    if flight.profile == "lofted" and flight.apogee_m is None:
        return "apogee", "a lofted flight needs an apogee"
    me_apogee = float(kepler.min_energy_apogee(R_MEAN, psi))
    apogee = profile_apogee(flight)
    me = f"the {_km(me_apogee)} minimum-energy apogee for {_km(rng)}"
    if flight.profile == "lofted" and apogee <= me_apogee:
        return "apogee", f"{_km(apogee)} is not above {me}"
    if flight.profile == "depressed":
        if apogee >= me_apogee:
            return "apogee", f"{_km(apogee)} is not below {me}"
        if apogee < MIN_DEPRESSED_FRACTION * me_apogee:
            return "apogee", f"{_km(apogee)} is less than {MIN_DEPRESSED_FRACTION:.0%} of {me}"
    speed = float(kepler.speed_for_apogee(R_MEAN, psi, apogee))
    slowest = float(kepler.min_energy_speed(R_MEAN, R_MEAN, veh.min_range_m / R_MEAN))
    field = "profile" if flight.apogee_m is None else "apogee"
    what = f"a {flight.profile} flight of {_km(rng)} to a {_km(apogee)} apogee"
    if speed > veh.max_speed_mps:
        return field, f"{what} is beyond the reach of {cls}"
    if speed < slowest:
        return field, f"{what} is too short for {cls}"
    return None


def _orbit_problem(flight: Flight, veh: Vehicle) -> tuple[str, str] | None:
    if flight.orbit_altitude_m is None:
        return "orbit_altitude", "an slv needs an orbit altitude"
    if flight.azimuth_deg is None:
        return "azimuth", "an slv needs a launch azimuth"
    if not MIN_ORBIT_M <= flight.orbit_altitude_m <= veh.max_orbit_m:
        return "orbit_altitude", (
            f"{_km(flight.orbit_altitude_m)} is outside the {_km(MIN_ORBIT_M)} to "
            f"{_km(veh.max_orbit_m)} orbits of class {veh.name}"
        )
    return None
