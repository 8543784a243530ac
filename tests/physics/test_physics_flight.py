"""Full-physics flights: targeting accuracy per class and profile, staging, events, orbit.

All flights are flown in one `fly` call (one targeting batch), as a scenario would.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from warnlink.geo.frames import R_MEAN
from warnlink.physics import kepler
from warnlink.physics.flight import fly
from warnlink.physics.targeting import TargetingError
from warnlink.physics.truth import Truth
from warnlink.physics.vehicles import VEHICLES
from warnlink.scenario.model import Flight, Profile, VehicleClassName

SITE = (39.0, 125.7)  # near Pyongyang
SOHAE = (39.66, 124.7)


def destination(site: tuple[float, float], az_deg: float, range_m: float) -> tuple[float, float]:
    p1, l1 = np.radians(site)
    a, d = np.radians(az_deg), range_m / R_MEAN
    p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(a))
    l2 = l1 + np.arctan2(np.sin(a) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2))
    return float(np.degrees(p2)), float((np.degrees(l2) + 180.0) % 360.0 - 180.0)


def ballistic(
    fid: str,
    cls: VehicleClassName,
    profile: Profile,
    az: float,
    range_m: float,
    apogee: float | None = None,
    t: float = 0.0,
) -> Flight:
    lat, lon = destination(SITE, az, range_m)
    return Flight(
        fid, fid, *SITE, 0.0, t, cls, profile,
        apogee_m=apogee, target_lat_deg=lat, target_lon_deg=lon,
    )  # fmt: skip


# East Asian geometries: into the Sea of Japan, over Japan into the Pacific, towards
# Guam, the Hokkaido-type lofted ICBM test, and the envelope ends (long ones westwards,
# against Earth's rotation, where they are hardest).
PROFILES = [
    ballistic("srbm-me", "srbm", "minimum-energy", 95.0, 600e3),
    ballistic("srbm-lo", "srbm", "lofted", 80.0, 450e3, 250e3, t=5.0),
    ballistic("srbm-de", "srbm", "depressed", 100.0, 500e3, t=10.0),
    ballistic("mrbm-me", "mrbm", "minimum-energy", 85.0, 1500e3, t=20.0),
    ballistic("mrbm-lo", "mrbm", "lofted", 75.0, 1000e3, 700e3, t=25.0),
    ballistic("mrbm-de", "mrbm", "depressed", 110.0, 2000e3, t=30.0),
    ballistic("irbm-me", "irbm", "minimum-energy", 125.0, 4000e3, t=40.0),
    ballistic("irbm-lo", "irbm", "lofted", 70.0, 950e3, 2100e3, t=45.0),
    ballistic("irbm-de", "irbm", "depressed", 135.0, 3500e3, t=50.0),
    ballistic("icbm-me", "icbm", "minimum-energy", 45.0, 9000e3, t=60.0),
    ballistic("icbm-lo", "icbm", "lofted", 76.0, 1000e3, 6000e3, t=65.0),
    ballistic("icbm-de", "icbm", "depressed", 60.0, 8000e3, t=70.0),
]
ENVELOPE = [
    ballistic(f"{c}-{end}", c, "minimum-energy", az, getattr(VEHICLES[c], f"{end}_range_m"), t=80.0)
    for c in ("srbm", "mrbm", "irbm", "icbm")
    for end, az in (("min", 90.0), ("max", 270.0))
]
SLV = Flight(
    "slv",
    "slv",
    *SOHAE,
    0.0,
    100.0,
    "slv",
    "minimum-energy",
    orbit_altitude_m=500e3,
    azimuth_deg=180.0,
)
FLIGHTS = [*PROFILES, *ENVELOPE, SLV]
BALLISTIC = [*PROFILES, *ENVELOPE]


@pytest.fixture(scope="module")
def truth() -> Truth:
    return fly(FLIGHTS)


def target_of(f: Flight) -> tuple[float, float]:
    assert f.target_lat_deg is not None and f.target_lon_deg is not None
    return f.target_lat_deg, f.target_lon_deg


def miss_m(truth: Truth, f: Flight) -> float:
    (impact,) = [e for e in truth.events_of("impact") if e.object_id == f"{f.id}/RV"]
    psi, _ = kepler.great_circle(impact.lat_deg, impact.lon_deg, *target_of(f))
    return float(psi) * R_MEAN


@pytest.mark.parametrize("flight", BALLISTIC, ids=lambda f: f.id)
def test_lands_on_target(truth: Truth, flight: Flight) -> None:
    assert miss_m(truth, flight) < 1000.0
    assert truth.object(f"{flight.id}/RV").ended_by == "impact"


@pytest.mark.parametrize(
    "flight", [f for f in PROFILES if f.profile != "minimum-energy"], ids=lambda f: f.id
)
def test_reaches_the_requested_apogee(truth: Truth, flight: Flight) -> None:
    (apogee,) = [e for e in truth.events_of("apogee") if e.flight_id == flight.id]
    if flight.apogee_m is not None:
        assert apogee.details["alt_m"] == pytest.approx(flight.apogee_m, abs=250.0)
    assert apogee.alt_m == pytest.approx(apogee.details["alt_m"], abs=1.0)


@pytest.mark.parametrize("cls", ["srbm", "mrbm", "irbm", "icbm"])
def test_profiles_order_apogees(truth: Truth, cls: str) -> None:
    """Per range, a lofted arc peaks above the minimum-energy one, a depressed one below."""
    for profile, compare in (("lofted", np.greater), ("depressed", np.less)):
        (f,) = [f for f in PROFILES if f.vehicle_class == cls and f.profile == profile]
        (apo,) = [e.details["alt_m"] for e in truth.events_of("apogee") if e.flight_id == f.id]
        psi, _ = kepler.great_circle(*SITE, *target_of(f))
        assert compare(apo, kepler.min_energy_apogee(R_MEAN, psi))


def test_minimum_energy_is_cheapest() -> None:
    """The minimum-energy profile needs the lowest burnout energy for its range."""
    me = ballistic("me", "mrbm", "minimum-energy", 90.0, 1200e3)
    lo = dataclasses.replace(me, id="lo", profile="lofted", apogee_m=500e3)
    de = dataclasses.replace(me, id="de", profile="depressed", apogee_m=200e3)
    t = fly([me, lo, de])
    speed = {e.flight_id: e.details["speed_mps"] for e in t.events_of("burnout")}
    assert speed["me"] < speed["lo"]
    assert speed["me"] < speed["de"]


def test_slv_reaches_orbit(truth: Truth) -> None:
    sat = truth.object("slv/SAT")
    assert sat.kind == "payload"
    assert sat.ended_by == "orbit"
    orbit = [e for e in truth.events_of("orbit") if e.object_id == "slv/SAT"]
    assert len(orbit) == 1
    perigee, apogee = orbit[0].details["perigee_alt_m"], orbit[0].details["apogee_alt_m"]
    assert perigee > 150e3
    assert perigee == pytest.approx(500e3, rel=0.03)
    assert apogee == pytest.approx(500e3, rel=0.03)
    assert sat.t_end == pytest.approx(orbit[0].t + 600.0)
    # launched on the requested azimuth: due south, so the ground track stays near 124.7E
    lon = np.degrees(np.arctan2(sat.r[:, 1], sat.r[:, 0]))
    assert abs(lon[sat.t < orbit[0].t][-1] - SOHAE[1]) < 5.0
    assert truth.object("slv/S3").ended_by == "orbit"
    assert truth.object("slv/S1").ended_by == "impact"


@pytest.mark.parametrize("flight", PROFILES, ids=lambda f: f.id)
def test_stages_separate_and_fall_short(truth: Truth, flight: Flight) -> None:
    rv = truth.object(f"{flight.id}/RV")
    n = len(VEHICLES[flight.vehicle_class].stages)
    rv_impact = rv.r[-1]
    site = rv.r[0]
    for k in range(1, n + 1):
        stage = truth.object(f"{flight.id}/S{k}")
        assert stage.kind == "stage"
        assert stage.ended_by == "impact"
        assert not stage.burning.any()
        # born at the stack's position at separation, a sample of the stack's track
        i = int(np.searchsorted(rv.t, stage.t_start))
        assert rv.t[i] == stage.t_start
        assert np.linalg.norm(stage.r[0] - rv.r[i]) < 1e-6
        assert [e.kind for e in truth.events if e.object_id == stage.object_id] == [
            "stage_burnout",
            "stage_separation",
            "impact",
        ]
        # falls short of the RV, close to its ground track
        down = _downrange(site, rv_impact, stage.r[-1])
        assert down[0] < _downrange(site, rv_impact, rv_impact)[0] + 5e3
        assert abs(down[1]) < 0.05 * np.linalg.norm(rv_impact - site) + 20e3


def _downrange(site: np.ndarray, aim: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Along-track and cross-track distance (m) of p from site on the great circle to aim."""
    u, a, q = (x / np.linalg.norm(x) for x in (site, aim, p))
    n = np.cross(u, a)
    n /= np.linalg.norm(n)
    cross = float(np.arcsin(q @ n))
    along = float(np.arctan2(np.cross(u, q) @ n, u @ q))
    return along * R_MEAN, cross * R_MEAN


@pytest.mark.parametrize("flight", PROFILES, ids=lambda f: f.id)
def test_events_and_burning(truth: Truth, flight: Flight) -> None:
    rv = truth.object(f"{flight.id}/RV")
    ev = {e.kind: e for e in truth.events if e.object_id == rv.object_id}
    assert set(ev) == {"launch", "burnout", "apogee", "impact"}
    assert ev["launch"].t == flight.time_s == rv.t_start
    assert ev["launch"].t < ev["burnout"].t < ev["apogee"].t < ev["impact"].t == rv.t_end
    assert ev["launch"].lat_deg == pytest.approx(SITE[0]) and ev["impact"].alt_m == pytest.approx(
        0.0, abs=1.0
    )
    assert ev["burnout"].t in rv.t
    # burning from launch to burnout except the staging coasts, never after
    burning_t = rv.t[rv.burning]
    assert burning_t[0] == rv.t_start and burning_t[-1] < ev["burnout"].t
    assert not rv.burning[rv.t >= ev["burnout"].t].any()
    assert np.all(np.diff(rv.t) > 0)
    assert ev["impact"].details["speed_mps"] > 100.0


def test_events_sorted(truth: Truth) -> None:
    times = [e.t for e in truth.events]
    assert times == sorted(times)


def test_t_end_cuts_tracks_and_events() -> None:
    t = fly([PROFILES[0], dataclasses.replace(PROFILES[0], id="late", time_s=500.0)], t_end=200.0)
    rv = t.object("srbm-me/RV")
    assert rv.ended_by == "end" and rv.t_end == pytest.approx(200.0)
    assert max(e.t for e in t.events) <= 200.0
    assert all(o.flight_id != "late" for o in t.objects)


def test_unreachable_flight_raises_naming_it() -> None:
    far = ballistic("L7-2", "mrbm", "minimum-energy", 90.0, 5000e3)
    with pytest.raises(TargetingError, match="L7-2") as err:
        fly([PROFILES[0], far])
    assert err.value.flight_id == "L7-2"
    assert "beyond the 3,000 km reach of class mrbm" in str(err.value)
