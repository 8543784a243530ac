"""reach_problem: the loader's cheap check of what a class can fly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from warnlink.geo.frames import R_MEAN
from warnlink.physics import kepler
from warnlink.physics.vehicles import VEHICLES, profile_apogee, reach_problem
from warnlink.scenario.model import Flight, Profile, VehicleClassName

SITE = (39.0, 125.7)


def destination(az_deg: float, range_m: float) -> tuple[float, float]:
    """Point at a great-circle range and azimuth from SITE on the mean sphere."""
    p1, l1 = np.radians(SITE)
    a, d = np.radians(az_deg), range_m / R_MEAN
    p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(a))
    l2 = l1 + np.arctan2(np.sin(a) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2))
    return float(np.degrees(p2)), float((np.degrees(l2) + 180.0) % 360.0 - 180.0)


def ballistic(
    cls: VehicleClassName,
    range_m: float,
    profile: Profile = "minimum-energy",
    apogee: float | None = None,
) -> Flight:
    lat, lon = destination(90.0, range_m)
    return Flight(
        "F", "L", *SITE, 0.0, 0.0, cls, profile,
        apogee_m=apogee, target_lat_deg=lat, target_lon_deg=lon,
    )  # fmt: skip


def slv(alt: float | None = 500e3, az: float | None = 180.0) -> Flight:
    return Flight(
        "S", "L", 39.66, 124.7, 0.0, 0.0, "slv", "minimum-energy",
        orbit_altitude_m=alt, azimuth_deg=az,
    )  # fmt: skip


def field_of(flight: Flight) -> str | None:
    problem = reach_problem(flight)
    return None if problem is None else problem[0]


@pytest.mark.parametrize("cls", ["srbm", "mrbm", "irbm", "icbm"])
def test_envelope_accepted_and_bounded(cls: VehicleClassName) -> None:
    veh = VEHICLES[cls]
    for rng in (veh.min_range_m, 0.5 * (veh.min_range_m + veh.max_range_m), veh.max_range_m):
        assert reach_problem(ballistic(cls, rng)) is None
    field, msg = reach_problem(ballistic(cls, veh.max_range_m * 1.05)) or ("", "")
    assert field == "target"
    assert f"reach of class {cls}" in msg
    assert field_of(ballistic(cls, veh.min_range_m * 0.9)) == "target"


def test_documented_envelopes() -> None:
    assert VEHICLES["srbm"].min_range_m <= 300e3
    assert VEHICLES["srbm"].max_range_m >= 1000e3
    assert VEHICLES["mrbm"].max_range_m >= 3000e3
    assert VEHICLES["irbm"].max_range_m >= 4000e3
    assert VEHICLES["icbm"].max_range_m >= 10_000e3
    assert len(VEHICLES["irbm"].stages) == 2
    assert len(VEHICLES["slv"].stages) == 3


def test_message_names_the_distance() -> None:
    f = dataclasses.replace(ballistic("srbm", 500e3), target_lat_deg=40.0, target_lon_deg=145.6)
    assert reach_problem(f) == ("target", "1,708 km away, beyond the 1,000 km reach of class srbm")


def test_profiles() -> None:
    rng = 1000e3
    me = float(kepler.min_energy_apogee(R_MEAN, rng / R_MEAN))
    assert field_of(ballistic("mrbm", rng, apogee=300e3)) == "apogee"
    assert field_of(ballistic("mrbm", rng, "lofted")) == "apogee"
    assert field_of(ballistic("mrbm", rng, "lofted", 0.9 * me)) == "apogee"
    assert field_of(ballistic("mrbm", rng, "lofted", 2.0 * me)) is None
    assert field_of(ballistic("mrbm", rng, "depressed", 1.1 * me)) == "apogee"
    assert field_of(ballistic("mrbm", rng, "depressed", 0.3 * me)) == "apogee"
    assert field_of(ballistic("mrbm", rng, "depressed", 0.7 * me)) is None
    assert field_of(ballistic("mrbm", rng, "depressed")) is None
    assert 0.0 < profile_apogee(ballistic("mrbm", rng, "depressed")) < me
    assert np.isnan(profile_apogee(ballistic("mrbm", rng)))


def test_energy_limits() -> None:
    """Lofted arcs cost energy: the Hokkaido-type ICBM test is in reach, higher is not."""
    assert reach_problem(ballistic("icbm", 1000e3, "lofted", 6000e3)) is None
    field, msg = reach_problem(ballistic("icbm", 1000e3, "lofted", 9000e3)) or ("", "")
    assert field == "apogee"
    assert "beyond the reach" in msg
    field, msg = reach_problem(ballistic("icbm", 300e3, "lofted", 200e3)) or ("", "")
    assert "too short" in msg
    assert field_of(ballistic("srbm", 990e3, "depressed")) == "profile"


def test_missing_fields() -> None:
    f = ballistic("irbm", 3000e3)
    assert field_of(dataclasses.replace(f, target_lat_deg=None)) == "target"
    assert field_of(Flight("F", "L", *SITE, 0.0, 0.0, "xyz", "lofted")) == "class"  # type: ignore[arg-type]
    assert field_of(slv()) is None
    assert field_of(slv(alt=None)) == "orbit_altitude"
    assert field_of(slv(az=None)) == "azimuth"
    assert field_of(slv(alt=2000e3)) == "orbit_altitude"
