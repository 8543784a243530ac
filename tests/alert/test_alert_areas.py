"""Region selection: closed-form cases, an independently flown corridor, bad input."""

from __future__ import annotations

import math

import numpy as np
import pymap3d
import pytest
import shapely
from alert_support import (
    AKITA,
    PACIFIC_FAR,
    PYONGYANG,
    SEA_OF_JAPAN_EEZ,
    falling_on,
    impact,
    policy,
    state_estimate,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import structs
from scipy.integrate import solve_ivp
from shapely.geometry import LineString, Point

from warnlink.alert.areas import (
    EEZ_M,
    EstimateError,
    assess,
    ellipse_polygon,
    impact_place,
    region_index,
)
from warnlink.alert.cap import cap_polygons
from warnlink.geo.regions import load_regions

GM = 3.986004418e14
OMEGA = 7.2921150e-5


def test_impact_inside_akita_selects_akita() -> None:
    a = assess(falling_on(*AKITA, t=100.0), policy())
    assert a.basis == "trajectory"
    assert a.region_ids == {"JP-05"}
    (risk,) = a.risks
    assert "impact" in risk.why and risk.t_impact == pytest.approx(160.0)
    assert a.place is not None and a.place.on_land and a.place.country == "JP"
    assert a.impact_area is not None and a.impact_area.contains(Point(AKITA[1], AKITA[0]))


def test_neighbours_of_akita_are_its_bordering_prefectures() -> None:
    a = assess(falling_on(*AKITA, t=100.0), policy(include_neighbours=True))
    whys = {r.region.id: r.why for r in a.risks}
    assert {"JP-02", "JP-03", "JP-04", "JP-06"} <= set(whys)  # Aomori, Iwate, Miyagi, Yamagata
    assert whys["JP-05"][0] == "impact"
    assert all(w == ("neighbour",) for k, w in whys.items() if k != "JP-05")
    assert "JP-13" not in whys  # Tokyo does not border Akita


def _nearest_land_km(lat: float, lon: float) -> float:
    """Distance to the nearest vertex of Japan's land (regions + islets), by Vincenty."""
    land = region_index(("JP",)).land
    xy = np.concatenate([np.asarray(p.exterior.coords) for p in shapely.get_parts(land)])
    near = xy[(np.abs(xy[:, 1] - lat) < 6.0) & (np.abs(xy[:, 0] - lon) < 8.0)]
    if len(near) == 0:
        return math.inf
    d, _ = pymap3d.vincenty.vdist(lat, lon, near[:, 1], near[:, 0])
    return float(np.min(d)) / 1e3


@pytest.mark.parametrize(("point", "waters"), [(SEA_OF_JAPAN_EEZ, "eez"), (PACIFIC_FAR, "outside")])
def test_impact_at_sea_selects_no_region_and_names_the_waters(
    point: tuple[float, float], waters: str
) -> None:
    a = assess(falling_on(*point, t=100.0), policy())
    assert a.region_ids == frozenset()
    assert a.place is not None and not a.place.on_land and a.place.waters == waters
    expected_km = _nearest_land_km(*point)
    if math.isfinite(expected_km) and expected_km < EEZ_M / 1e3 * 1.2:
        assert a.place.distance_m / 1e3 == pytest.approx(expected_km, rel=0.02, abs=2.0)


def test_territorial_sea_band() -> None:
    # 5 km west of the Oga peninsula's western tip, at sea
    akita = next(r for r in load_regions() if r.id == "JP-05").geometry
    lon, lat = min(c for p in shapely.get_parts(akita) for c in p.exterior.coords)
    lat2, lon2 = pymap3d.vincenty.vreckon(lat, lon, 5e3, 270.0)
    place = impact_place(float(lat2), float(lon2), region_index(("JP",)))
    assert not place.on_land and place.waters == "territorial"
    assert 1.0 < place.distance_m / 1e3 < 6.0


def _fly_independently(lat: float, lon: float, alt: float, enu: tuple[float, float, float]):
    """Point-mass gravity in an inertial frame (no J2, no drag), pymap3d for the geodesy."""
    x, y, z = pymap3d.geodetic2ecef(lat, lon, alt)
    ve, vn, vu = enu
    vx, vy, vz = pymap3d.enu2uvw(ve, vn, vu, lat, lon)
    r0 = np.array([x, y, z])
    v0 = np.array([vx, vy, vz]) + np.cross([0.0, 0.0, OMEGA], r0)

    def f(_t: float, s: np.ndarray) -> np.ndarray:
        r = s[:3]
        return np.concatenate([s[3:], -GM * r / np.linalg.norm(r) ** 3])

    def ground(t: float, s: np.ndarray) -> float:
        c, sn = math.cos(-OMEGA * t), math.sin(-OMEGA * t)
        xe, ye = c * s[0] - sn * s[1], sn * s[0] + c * s[1]
        return float(pymap3d.ecef2geodetic(xe, ye, s[2])[2])

    ground.terminal = True  # type: ignore[attr-defined]
    ground.direction = -1  # type: ignore[attr-defined]
    sol = solve_ivp(f, (0, 2000), np.concatenate([r0, v0]), events=ground, max_step=1.0,
                    rtol=1e-10, atol=1e-6)  # fmt: skip
    c, sn = np.cos(-OMEGA * sol.t), np.sin(-OMEGA * sol.t)
    xe = c * sol.y[0] - sn * sol.y[1]
    ye = sn * sol.y[0] + c * sol.y[1]
    la, lo, h = pymap3d.ecef2geodetic(xe, ye, sol.y[2])
    return np.asarray(la), np.asarray(lo), np.asarray(h)


def test_corridor_over_tohoku_flies_over_the_right_prefectures() -> None:
    # a suborbital hop from the Sea of Japan eastwards across Tohoku, apex about 112 km
    start = (39.7, 138.5, 99e3, (2500.0, 0.0, 500.0))
    lat, lon, h = _fly_independently(*start[:3], start[3])
    # the impact (a trajectory exists) is in the Pacific: it adds no region
    e = state_estimate(0.0, *start[:3], start[3], impact_point=impact(lat[-1], lon[-1], 230.0))
    got = assess(e, policy(corridor_ceiling_m=150e3))
    assert got.basis == "trajectory" and got.corridor is not None
    line = LineString(np.column_stack([lon, lat])[h < 150e3])
    jp = [r for r in load_regions() if r.country == "JP"]
    core = {r.id for r in jp if r.geometry.intersects(line)}
    wide = {r.id for r in jp if r.geometry.intersects(line.buffer(0.1))}  # ~10 km
    assert {"JP-05", "JP-03"} <= core
    assert core <= got.region_ids <= wide
    by_id = {r.region.id: r for r in got.risks}
    assert all(r.why == ("overflight",) for r in got.risks)
    # west to east: Akita is flown over before Iwate, both within the flight
    assert 0.0 < by_id["JP-05"].t_over_first < by_id["JP-03"].t_over_first < 300.0  # type: ignore[operator]
    assert by_id["JP-05"].t_over_last <= by_id["JP-03"].t_over_last  # type: ignore[operator]
    # above the ceiling nothing is overflight
    high = assess(e, policy(corridor_ceiling_m=50e3))
    assert "JP-05" not in high.region_ids


def test_launch_sector_uses_the_heading() -> None:
    east = state_estimate(
        10.0, *PYONGYANG, 40e3, (800.0, 100.0, 1500.0), boost_probability=0.95,
        heading=(77.0, 3.0),
    )  # fmt: skip
    jp = assess(east, policy())
    assert jp.basis == "launch" and {"JP-02", "JP-05"} <= jp.region_ids
    assert "JP-47" not in jp.region_ids  # Okinawa is far outside the sector
    kr_wide = assess(east, policy(countries=["KR"]))  # +-39 degrees reach Gangwon, Dokdo
    assert kr_wide.region_ids and kr_wide.region_ids <= {"KR-41", "KR-42", "KR-47", "KR-11"}
    kr = assess(east, policy(countries=["KR"], launch_sector_deg=10.0))
    assert kr.region_ids == frozenset()  # a launch eastwards does not threaten Korea
    no_heading = structs.replace(east, heading_deg=None, heading_sigma_deg=None)
    kr_all = assess(no_heading, policy(countries=["KR"]))
    assert len(kr_all.region_ids) == 17  # all of Korea is within range, all round


def test_bad_estimates_are_errors() -> None:
    e = falling_on(*AKITA, t=1.0)
    with pytest.raises(EstimateError, match="not finite"):
        assess(structs.replace(e, ecef_m=(math.nan, 0.0, 0.0)), policy())
    with pytest.raises(EstimateError, match="not finite"):
        assess(structs.replace(e, impact=impact(math.nan, 140.0, 5.0)), policy())
    with pytest.raises(EstimateError, match="36"):
        assess(structs.replace(e, cov_ecef=[1.0] * 35), policy())


@settings(max_examples=60, deadline=None)
@given(
    lat=st.floats(-60.0, 60.0),
    lon=st.floats(-179.0, 179.0),
    s_major=st.floats(0.0, 300e3),
    ratio=st.floats(0.0, 1.0),
    angle=st.floats(0.0, math.pi),
    confidence=st.floats(0.5, 0.999),
)
def test_ellipse_polygon_is_valid_and_of_the_right_size(
    lat: float, lon: float, s_major: float, ratio: float, angle: float, confidence: float
) -> None:
    u = np.array([math.sin(angle), math.cos(angle)])
    w = np.array([math.cos(angle), -math.sin(angle)])
    cov = s_major**2 * np.outer(u, u) + (ratio * s_major) ** 2 * np.outer(w, w)
    poly = ellipse_polygon(lat, lon, (cov[0, 0], cov[1, 1], cov[0, 1]), confidence)
    assert poly.is_valid and poly.contains(Point(lon, lat))
    k = -2.0 * math.log1p(-confidence)
    a = max(math.sqrt(k) * s_major, 1e3)
    b = max(math.sqrt(k) * ratio * s_major, 1e3)
    # area on the ground from the lon/lat polygon, via an equal-area scaling at lat
    kx = math.radians(1.0) * 6378137.0 * math.cos(math.radians(lat))
    ky = math.radians(1.0) * 6378137.0
    assert poly.area * kx * ky == pytest.approx(math.pi * a * b, rel=0.03 + a / 6.4e6)
    caps = cap_polygons(poly)
    # one polygon, or two where the ellipse crosses the antimeridian (CAP longitudes are
    # in [-180, 180]); the area is kept either way
    crosses = poly.bounds[0] < -180.0 or poly.bounds[2] > 180.0
    assert len(caps) == (2 if crosses else 1)
    assert all(c.is_valid and len(c.exterior.coords) <= 100 for c in caps)
    assert sum(c.area for c in caps) == pytest.approx(poly.area, rel=0.02)


def test_a_state_below_the_surface_has_come_down_and_flies_over_nothing() -> None:
    # a spent stage's track predicted on past its fall (North Korea, 1.5 km underground,
    # km of uncertainty): flown on, it went through the Earth and its ground track swept
    # every prefecture of Japan (lofted-ICBM exercise, 2026-12-03)
    down = state_estimate(
        590.0, *PYONGYANG, -1.5e3, (100.0, -60.0, -150.0), sigma_m=8e3, sigma_v=100.0,
        impact_point=impact(*PYONGYANG, 636.0),
    )  # fmt: skip
    got = assess(down, policy(corridor_ceiling_m=2000e3))
    assert got.basis == "trajectory" and got.corridor is None
    assert got.region_ids == frozenset() and got.t_path_end == 590.0
    # the same fall 1.5 km up lands at once, near where it is: still no Japanese region
    up = structs.replace(down, ecef_m=state_estimate(590.0, *PYONGYANG, 1.5e3, (0, 0, 0)).ecef_m)
    above = assess(up, policy(corridor_ceiling_m=2000e3))
    assert above.corridor is not None and above.region_ids == frozenset()
    assert above.t_path_end is not None and above.t_path_end < 620.0
