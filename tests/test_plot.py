"""Plots of a hand-built truth: files are written, are real images, and edge cases don't crash.

The truth here is synthetic (great-circle ground tracks with parabolic altitude), so these
tests do not depend on the physics package.
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np

from warnlink.geo.frames import R_MEAN, ecef_to_geodetic, geodetic_to_ecef
from warnlink.physics.truth import Event, EventKind, ObjectKind, ObjectTrack, Truth
from warnlink.plot import plot_truth
from warnlink.plot.coverage import radar_margin_m
from warnlink.scenario.model import (
    InfraredSpec,
    LaunchSpec,
    Party,
    Platform,
    Profile,
    RadarSpec,
    Scenario,
    SensorSpec,
    VehicleClassName,
)

DEG = math.pi / 180.0
Objects = tuple[list[ObjectTrack], list[Event]]


def gc_point(
    lat0: float, lon0: float, bearing_deg: float, dist_km: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Points dist_km along the great circle leaving (lat0, lon0) at bearing_deg."""
    p0, l0, b = math.radians(lat0), math.radians(lon0), math.radians(bearing_deg)
    d = np.asarray(dist_km) * 1e3 / R_MEAN
    p = np.arcsin(np.sin(p0) * np.cos(d) + np.cos(p0) * np.sin(d) * np.cos(b))
    lam = l0 + np.arctan2(np.sin(b) * np.sin(d) * np.cos(p0), np.cos(d) - np.sin(p0) * np.sin(p))
    return np.degrees(p), np.degrees(lam)


def bearing_distance(lat0: float, lon0: float, lat1: float, lon1: float) -> tuple[float, float]:
    p0, p1, dl = math.radians(lat0), math.radians(lat1), math.radians(lon1 - lon0)
    y = math.sin(dl) * math.cos(p1)
    x = math.cos(p0) * math.sin(p1) - math.sin(p0) * math.cos(p1) * math.cos(dl)
    c = math.sin(p0) * math.sin(p1) + math.cos(p0) * math.cos(p1) * math.cos(dl)
    return math.degrees(math.atan2(y, x)), math.acos(min(1.0, c)) * R_MEAN / 1e3


def arc(
    object_id: str,
    kind: ObjectKind,
    start: tuple[float, float],
    bearing_deg: float,
    km: tuple[float, float],
    t: tuple[float, float],
    alt: tuple[float, float, float],
    burn_until: float = -1.0,
    n: int = 150,
    ended_by: Literal["impact", "orbit", "end"] = "impact",
) -> ObjectTrack:
    """Track from km[0] to km[1] along a great circle from start, during t[0]..t[1].

    Altitude runs linearly from alt[0] to alt[1] plus a parabola peaking alt[2] higher.
    """
    s = np.linspace(0.0, 1.0, n)
    lat, lon = gc_point(*start, bearing_deg, km[0] + s * (km[1] - km[0]))
    h = alt[0] + (alt[1] - alt[0]) * s + 4.0 * alt[2] * s * (1.0 - s)
    times = t[0] + s * (t[1] - t[0])
    r = geodetic_to_ecef(lat, lon, h)
    flight_id = object_id.split("/")[0]
    return ObjectTrack(
        object_id,
        flight_id,
        flight_id.split("-")[0],
        kind,
        times,
        r,
        np.gradient(r, times, axis=0),
        times < burn_until,
        ended_by,
    )


def ev(t: float, kind: EventKind, track: ObjectTrack) -> Event:
    """An event of track at time t, placed on the track itself."""
    r, *_ = track.state_at(t)
    lat, lon, alt = ecef_to_geodetic(r)
    return Event(
        t, kind, track.flight_id, track.object_id, float(lat), float(lon), max(float(alt), 0.0)
    )


def ballistic(
    fid: str,
    site: tuple[float, float],
    target: tuple[float, float],
    t0: float,
    flight_s: float,
    apogee_m: float,
    staged: bool = True,
) -> Objects:
    """RV (and a spent first stage) of a ballistic flight from site to target."""
    b, dist = bearing_distance(*site, *target)
    t_bo, t_sep = t0 + 0.12 * flight_s, t0 + 0.06 * flight_s
    rv = arc(
        f"{fid}/RV",
        "rv",
        site,
        b,
        (0.0, dist),
        (t0, t0 + flight_s),
        (0.0, 0.0, apogee_m),
        burn_until=t_bo,
    )
    objects, events = [rv], [ev(t0, "launch", rv), ev(t_bo, "burnout", rv)]
    if staged:
        h_sep = float(ecef_to_geodetic(rv.state_at(t_sep)[0])[2])
        stage = arc(
            f"{fid}/S1",
            "stage",
            site,
            b,
            (0.06 * dist, 0.22 * dist),
            (t_sep, t_sep + 0.35 * flight_s),
            (h_sep, 0.0, 0.4 * h_sep),
        )
        objects.append(stage)
        events += [
            ev(t_sep, "stage_burnout", stage),
            ev(t_sep, "stage_separation", stage),
            ev(stage.t_end, "impact", stage),
        ]
    events += [ev(t0 + 0.5 * flight_s, "apogee", rv), ev(rv.t_end, "impact", rv)]
    return objects, events


def slv(fid: str, site: tuple[float, float], azimuth: float, t0: float, tail_s: float) -> Objects:
    """A two-stage launcher whose payload reaches a 500 km orbit and flies on for tail_s."""
    s1 = arc(
        f"{fid}/S1", "stage", site, azimuth, (60.0, 420.0), (t0 + 150, t0 + 480), (90e3, 0.0, 60e3)
    )
    s2 = arc(
        f"{fid}/S2",
        "stage",
        site,
        azimuth,
        (1300.0, 2600.0),
        (t0 + 420, t0 + 900),
        (380e3, 0.0, 150e3),
    )
    climb = arc(
        f"{fid}/SAT",
        "payload",
        site,
        azimuth,
        (0.0, 2200.0),
        (t0, t0 + 560),
        (0.0, 500e3, 120e3),
        burn_until=t0 + 560,
        n=200,
    )
    orbit = arc(
        f"{fid}/SAT",
        "payload",
        site,
        azimuth,
        (2200.0, 2200.0 + 7.6 * tail_s),
        (t0 + 560, t0 + 560 + tail_s),
        (500e3, 500e3, 0.0),
        n=300,
    )
    sat = ObjectTrack(
        climb.object_id,
        fid,
        climb.launch_id,
        "payload",
        t=np.concatenate([climb.t, orbit.t[1:]]),
        r=np.concatenate([climb.r, orbit.r[1:]]),
        v=np.concatenate([climb.v, orbit.v[1:]]),
        burning=np.concatenate([climb.burning, orbit.burning[1:]]),
        ended_by="end",
    )
    events = [
        ev(t0, "launch", sat),
        ev(t0 + 150, "stage_burnout", s1),
        ev(s1.t_end, "impact", s1),
        ev(t0 + 420, "stage_burnout", s2),
        ev(s2.t_end, "impact", s2),
        ev(t0 + 560, "orbit", sat),
    ]
    return [s1, s2, sat], events


SUNAN, WONSAN, SOHAE = (39.20, 125.67), (39.16, 127.45), (39.66, 124.705)


def radar(
    rid: str,
    party: str,
    site: tuple[float, float],
    range_km: float,
    sector_deg: tuple[float, float] | None,
    platform: Platform = "ground",
) -> RadarSpec:
    sector = None if sector_deg is None else (sector_deg[0] * DEG, sector_deg[1] * DEG)
    return RadarSpec(
        id=rid,
        party=party,
        platform=platform,
        lat_deg=site[0],
        lon_deg=site[1],
        alt_m=20.0,
        max_range_m=range_km * 1e3,
        elevation_mask_rad=0.5 * DEG,
        range_sigma_m=50.0,
        angle_sigma_rad=1e-3,
        update_interval_s=1.0,
        detection_probability=0.9,
        false_alarms_per_scan=0.0,
        azimuth_sector_rad=sector,
    )


def launch(
    lid: str,
    site_name: str,
    site: tuple[float, float],
    t: float,
    cls: VehicleClassName,
    profile: Profile,
    salvo: int = 1,
    **kw: float,
) -> LaunchSpec:
    return LaunchSpec(lid, site_name, site[0], site[1], 0.0, t, cls, profile, salvo, 30.0, **kw)


def scenario(
    launches: tuple[LaunchSpec, ...], sensors: tuple[SensorSpec, ...] = (), name: str = "Synthetic"
) -> Scenario:
    return Scenario(
        name=name,
        path=Path("synthetic.toml"),
        epoch=datetime(2025, 3, 1, 0, 0, tzinfo=UTC),
        seed=1,
        parties=(Party("JP", "Japan"), Party("KR", "Republic of Korea"), Party("US", "USA")),
        sensors=sensors,
        launches=launches,
    )


SENSORS: tuple[SensorSpec, ...] = (
    radar("JP-TPY2-Kyogamisaki", "JP", (35.77, 135.19), 1500.0, (250.0, 20.0)),
    radar("KR-GreenPine", "KR", (36.65, 127.45), 900.0, (310.0, 50.0)),
    radar("JP-Aegis-1", "JP", (39.5, 134.0), 1000.0, None, platform="ship"),
    InfraredSpec("US-SBIRS-GEO1", "US", 0.0, 100.0, 35786e3, 1e-5, 1.0, 0.99, 0.0, 10e3),
)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def check_pngs(paths: list[Path]) -> None:
    assert [p.name for p in paths] == ["map.png", "profile.png"]
    for p in paths:
        w, h = png_size(p)
        assert w >= 1200 and h >= 700
        assert p.stat().st_size > 50_000  # a blank figure of this size is a few kB


def test_plot_truth_full(tmp_path: Path) -> None:
    objs1, ev1 = ballistic("L1", SUNAN, (40.6, 136.8), 0.0, 1400.0, 1500e3)
    objs2, ev2 = ballistic("L2-1", WONSAN, (40.0, 131.0), 120.0, 360.0, 60e3, staged=False)
    objs3, ev3 = ballistic("L2-2", WONSAN, (40.1, 131.2), 150.0, 360.0, 60e3, staged=False)
    scen = scenario(
        (
            launch("L1", "Sunan", SUNAN, 0.0, "irbm", "lofted", apogee_m=1500e3),
            launch("L2", "Wonsan", WONSAN, 120.0, "srbm", "minimum-energy", salvo=2),
        ),
        SENSORS,
    )
    truth = Truth(objs1 + objs2 + objs3, ev1 + ev2 + ev3)
    check_pngs(plot_truth(scen, truth, tmp_path / "out"))


def test_single_object_no_sensors(tmp_path: Path) -> None:
    b, dist = bearing_distance(*WONSAN, 40.0, 131.0)
    rv = arc("L1/RV", "rv", WONSAN, b, (0.0, dist), (0.0, 300.0), (0.0, 0.0, 50e3), 40.0)
    check_pngs(plot_truth(scenario(()), Truth([rv], []), tmp_path))


def test_empty_truth(tmp_path: Path) -> None:
    """Nothing flew (e.g. a sensors-only scenario): still a map of the theatre and sensors."""
    for p in plot_truth(scenario((), SENSORS), Truth([], []), tmp_path):
        assert png_size(p)[0] >= 1200


def test_slv_payload_in_orbit(tmp_path: Path) -> None:
    """The orbit tail goes round the Earth; the map must stay on the theatre."""
    objs, events = slv("L1", SOHAE, 180.0, 0.0, tail_s=3000.0)
    scen = scenario(
        (
            launch(
                "L1",
                "Sohae",
                SOHAE,
                0.0,
                "slv",
                "minimum-energy",
                orbit_altitude_m=500e3,
                azimuth_deg=180.0,
            ),
        ),
        SENSORS,
    )
    check_pngs(plot_truth(scen, Truth(objs, events), tmp_path))


def test_radar_footprint_respects_range_and_sector() -> None:
    r = radar("R", "KR", (37.0, 127.0), 800.0, (300.0, 60.0))
    # 500 km north and south of the site, 5 deg north and south of it at 100 km altitude
    m = radar_margin_m(r, [127.0, 127.0, 127.0], [41.5, 32.5, 46.0], 100e3)
    assert m[0] > 0  # north, in sector and range
    assert m[1] < 0  # south: outside the sector
    assert m[2] < 0  # 1000 km north: beyond 800 km


def test_wrapping_sector_radar_plot(tmp_path: Path) -> None:
    objs, events = ballistic("L1", SUNAN, (40.6, 136.8), 0.0, 700.0, 400e3)
    sensors: tuple[SensorSpec, ...] = (radar("WRAP", "JP", (38.0, 132.0), 2000.0, (330.0, 30.0)),)
    scen = scenario((launch("L1", "Sunan", SUNAN, 0.0, "mrbm", "minimum-energy"),), sensors)
    check_pngs(plot_truth(scen, Truth(objs, events), tmp_path))
