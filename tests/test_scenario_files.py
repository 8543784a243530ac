"""The shipped scenarios are geographically what their names and comments claim."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import shapely
from pymap3d.vincenty import vdist
from shapely.geometry import Point

from warnlink.geo.regions import Polygonal, load_land, load_regions
from warnlink.scenario.load import destination, load_scenario
from warnlink.scenario.model import RadarSpec, Scenario

SCENARIOS = Path(__file__).parents[1] / "scenarios"


@cache
def land() -> Polygonal:
    return shapely.union_all(load_land())


def on_land(lat: float, lon: float) -> bool:
    return bool(land().covers(Point(lon, lat)))


def region(lat: float, lon: float) -> str | None:
    point = Point(lon, lat)
    return next((r.id for r in load_regions() if r.geometry.covers(point)), None)


def scenario(stem: str) -> Scenario:
    return load_scenario(SCENARIOS / f"{stem}.toml")


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.stem)
def test_sites_are_on_land_or_at_sea_as_their_platform_says(path: Path) -> None:
    loaded = load_scenario(path)
    for sensor in loaded.sensors:
        if isinstance(sensor, RadarSpec):
            assert on_land(sensor.lat_deg, sensor.lon_deg) == (sensor.platform == "ground"), sensor
    for flight in loaded.flights():
        assert (region(flight.site_lat_deg, flight.site_lon_deg) or "").startswith("KP-")


@pytest.mark.parametrize(
    "stem", ["irbm-northern-japan", "srbm-salvo-east-sea", "icbm-lofted-hokkaido"]
)
def test_sea_targets_are_at_sea(stem: str) -> None:
    for flight in scenario(stem).flights():
        assert flight.target_lat_deg is not None and flight.target_lon_deg is not None
        assert not on_land(flight.target_lat_deg, flight.target_lon_deg)


def test_land_target_is_in_japan() -> None:
    (flight,) = scenario("impact-on-land-japan").flights()
    assert flight.target_lat_deg is not None and flight.target_lon_deg is not None
    assert (region(flight.target_lat_deg, flight.target_lon_deg) or "").startswith("JP-")


def test_irbm_geodesic_crosses_aomori() -> None:
    (flight,) = scenario("irbm-northern-japan").flights()
    site = (flight.site_lat_deg, flight.site_lon_deg)
    _, azimuth = vdist(*site, flight.target_lat_deg, flight.target_lon_deg)
    track = (destination(*site, km * 1e3, float(azimuth)) for km in range(1200, 1500, 10))
    assert "JP-02" in {region(lat, lon) for lat, lon in track}


def test_slv_azimuth_points_over_okinawa() -> None:
    (flight,) = scenario("slv-okinawa").flights()
    assert flight.azimuth_deg is not None
    lat, lon = destination(flight.site_lat_deg, flight.site_lon_deg, 1508e3, flight.azimuth_deg)
    assert region(lat, lon) == "JP-47"
