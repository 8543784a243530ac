"""The loader: shipped scenarios load, and every kind of mistake is reported with the file,
the field path and the problem."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warnlink.scenario import load
from warnlink.scenario.load import ScenarioError, destination, load_scenario, parse_scenario
from warnlink.scenario.model import InfraredSpec, RadarSpec

SCENARIOS = sorted((Path(__file__).parents[1] / "scenarios").glob("*.toml"))

BASE = """\
name = "test"

[[parties]]
code = "KR"
name = "Republic of Korea"

[[parties]]
code = "US"
name = "United States"

[[sensors]]
id = "KR-GP1"
type = "radar"
party = "KR"
lat = 36.85
lon = 127.44
alt = "250 m"
max_range = "800 km"
range_noise = "40 m"
angle_noise = "2 mrad"
update_interval = "2 s"
detection_probability = 0.9

[[sensors]]
id = "US-IR1"
type = "infrared"
party = "US"
sat_lon = 105.0
los_noise = "30 urad"
update_interval = "2 s"
detection_probability = 0.95

[[launches]]
id = "L1"
site = "Sunan"
site_lat = 39.2
site_lon = 125.67
class = "srbm"
target = { lat = 39.45, lon = 131.45 }

[[links]]
party = "KR"
latency = "35 ms"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return path


def edit(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def problems(path: Path) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return str(caught.value)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenarios_load(path: Path) -> None:
    scenario = load_scenario(path)
    assert {p.code for p in scenario.parties} == {"KR", "US", "JP"}
    assert {s.party for s in scenario.sensors} == {"KR", "US", "JP"}
    assert any(isinstance(s, InfraredSpec) for s in scenario.sensors)
    assert any(isinstance(s, RadarSpec) and s.platform == "ship" for s in scenario.sensors)
    assert scenario.flights()
    assert scenario.epoch.utcoffset() is not None


def test_the_five_scenarios_are_shipped() -> None:
    assert [p.stem for p in SCENARIOS] == [
        "icbm-lofted-hokkaido",
        "impact-on-land-japan",
        "irbm-northern-japan",
        "slv-okinawa",
        "srbm-salvo-east-sea",
    ]
    links = [link for p in SCENARIOS for link in load_scenario(p).links]
    assert any(link.outages for link in links)


def test_base_loads_with_defaults_in_si(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, BASE))
    radar, infrared = scenario.sensors
    assert isinstance(radar, RadarSpec) and isinstance(infrared, InfraredSpec)
    assert radar.platform == "ground"
    assert radar.max_range_m == 800e3
    assert radar.angle_sigma_rad == pytest.approx(2e-3)
    assert radar.max_elevation_rad == pytest.approx(math.pi / 2)
    assert radar.azimuth_sector_rad is None and radar.range_rate_sigma_mps is None
    assert infrared.sat_alt_m == 35786e3 and infrared.sat_lat_deg == 0.0
    assert infrared.min_altitude_m == 10e3
    assert scenario.truth_interval_s == 1.0 and scenario.duration_s is None
    assert scenario.epoch.isoformat() == "2025-01-01T00:00:00+00:00"
    (launch,) = scenario.launches
    assert launch.profile == "minimum-energy" and launch.salvo_count == 1
    assert launch.site_alt_m == 0.0 and launch.time_s == 0.0
    assert scenario.links[0].latency_s == pytest.approx(0.035)
    assert scenario.links[0].jitter_s == 0.0 and scenario.links[0].outages == ()


def test_release_policy_defaults_to_none_and_reads_codes(tmp_path: Path) -> None:
    plain = load_scenario(write(tmp_path, BASE))
    assert all(p.release_tracks is None and p.release_estimates is None for p in plain.parties)
    text = edit(
        'name = "Republic of Korea"',
        'name = "Republic of Korea"\nrelease_tracks = ["US"]\nrelease_estimates = []',
    )
    kr = load_scenario(write(tmp_path, text)).parties[0]
    assert kr.release_tracks == ("US",) and kr.release_estimates == ()


def test_sector_wraps_and_ship_platform(tmp_path: Path) -> None:
    text = edit('type = "radar"', 'type = "ship-radar"\nazimuth_sector = ["-60 deg", "60 deg"]')
    radar = load_scenario(write(tmp_path, text)).sensors[0]
    assert isinstance(radar, RadarSpec) and radar.platform == "ship"
    assert radar.azimuth_sector_rad == pytest.approx((math.radians(300), math.radians(60)))


def test_range_and_azimuth_target_is_resolved_on_wgs84(tmp_path: Path) -> None:
    text = edit(
        "target = { lat = 39.45, lon = 131.45 }", 'target = {range="500 km", azimuth="85 deg"}'
    )
    (launch,) = load_scenario(write(tmp_path, text)).launches
    assert (launch.target_lat_deg, launch.target_lon_deg) == destination(39.2, 125.67, 500e3, 85)


def test_destination_matches_vincentys_flinders_peak_example() -> None:
    # Geoscience Australia's worked example of Vincenty's direct formula (GRS80 and WGS84
    # differ by far less than its 0.1 mm here): Flinders Peak towards Buninyong.
    def dms(d: int, m: int, s: float) -> float:
        return d + m / 60 + s / 3600

    lat, lon = destination(
        -dms(37, 57, 3.72030), dms(144, 25, 29.52440), 54972.271, dms(306, 52, 5.37)
    )
    assert lat == pytest.approx(-dms(37, 39, 10.15610), abs=1e-8)  # about 1 mm
    assert lon == pytest.approx(dms(143, 55, 35.38390), abs=1e-8)


def test_destination_longitude_wraps_to_plus_minus_180() -> None:
    lat, lon = destination(0.0, 179.0, 222639.0, 90.0)  # 2 degrees of the equator
    assert lat == pytest.approx(0.0, abs=1e-9)
    assert lon == pytest.approx(-179.0, abs=1e-6)


CASES = [
    # (id, text, field path, problem)
    ("syntax", edit('name = "test"', 'name = "test'), "line 1, column", "TOML syntax error"),
    (
        "unknown-field",
        edit('max_range = "800 km"', 'max_range = "800 km"\nmax_rnage = "900 km"'),
        "sensors[0] (KR-GP1).max_rnage",
        "unknown field 'max_rnage' for type 'radar'; did you mean 'max_range'?",
    ),
    (
        "radar-field-on-infrared",
        edit("sat_lon = 105.0", 'sat_lon = 105.0\nmax_range = "1 km"'),
        "sensors[1] (US-IR1).max_range",
        "unknown field 'max_range'",
    ),
    (
        "unknown-section",
        edit("[[links]]", "[[link]]"),
        "link",
        "unknown field 'link'; did you mean 'links'?",
    ),
    (
        "missing-site",
        edit('site = "Sunan"\n', ""),
        "launches[0] (L1).site",
        "missing; this field is required",
    ),
    ("missing-name", edit('name = "test"\n', ""), "name", "missing; this field is required"),
    ("no-parties", BASE.split("[[parties]]")[0], "parties", "missing"),
    (
        "lat-as-string",
        edit("lat = 36.85", 'lat = "36.85"'),
        "sensors[0] (KR-GP1).lat",
        "needs a plain number in degrees such as 39.2, got a string",
    ),
    (
        "number-without-unit",
        edit('max_range = "800 km"', "max_range = 800"),
        "sensors[0] (KR-GP1).max_range",
        "800 has no unit; needs a length written as a string such as '1000 km'",
    ),
    (
        "wrong-unit",
        edit('max_range = "800 km"', 'max_range = "800 s"'),
        "sensors[0] (KR-GP1).max_range",
        "wrong unit 's' (a time); needs a length such as '1000 km'",
    ),
    (
        "unknown-unit",
        edit('latency = "35 ms"', 'latency = "35 msec"'),
        "links[0] (KR).latency",
        "unknown unit 'msec'",
    ),
    (
        "wrong-type-seed",
        edit('name = "test"', 'name = "test"\nseed = "42"'),
        "seed",
        "needs an integer, got a string",
    ),
    (
        "boolean-is-not-a-number",
        edit("detection_probability = 0.9\n", "detection_probability = true\n"),
        "sensors[0] (KR-GP1).detection_probability",
        "got a boolean",
    ),
    (
        "lat-out-of-range",
        edit("lat = 36.85", "lat = 96.85"),
        "sensors[0] (KR-GP1).lat",
        "must be in [-90, 90], got 96.85",
    ),
    (
        "probability-out-of-range",
        edit("detection_probability = 0.9\n", "detection_probability = 1.5\n"),
        "sensors[0] (KR-GP1).detection_probability",
        "must be in [0, 1]",
    ),
    (
        "negative-sigma",
        edit('range_noise = "40 m"', 'range_noise = "-40 m"'),
        "sensors[0] (KR-GP1).range_noise",
        "must be at least 0 m, got '-40 m'",
    ),
    (
        "negative-false-alarms",
        edit("sat_lon = 105.0", "sat_lon = 105.0\nfalse_alarms_per_scan = -1"),
        "sensors[1] (US-IR1).false_alarms_per_scan",
        "must be at least 0",
    ),
    (
        "mask-above-max-elevation",
        edit('alt = "250 m"', 'alt = "250 m"\nelevation_mask = "10 deg"\nmax_elevation = "5 deg"'),
        "sensors[0] (KR-GP1).elevation_mask",
        "must be below max_elevation (5 deg)",
    ),
    (
        "min-range-above-max",
        edit('alt = "250 m"', 'alt = "250 m"\nmin_range = "900 km"'),
        "sensors[0] (KR-GP1).min_range",
        "must be below max_range (800 km)",
    ),
    (
        "empty-sector",
        edit('alt = "250 m"', 'alt = "250 m"\nazimuth_sector = ["10 deg", "370 deg"]'),
        "sensors[0] (KR-GP1).azimuth_sector",
        "must be in [-360 deg, 360 deg]",
    ),
    (
        "zero-sector",
        edit('alt = "250 m"', 'alt = "250 m"\nazimuth_sector = ["10 deg", "10 deg"]'),
        "sensors[0] (KR-GP1).azimuth_sector",
        "empty sector",
    ),
    (
        "sector-shape",
        edit('alt = "250 m"', 'alt = "250 m"\nazimuth_sector = "10 deg"'),
        "sensors[0] (KR-GP1).azimuth_sector",
        "needs [from, to] clockwise",
    ),
    (
        "unknown-sensor-type",
        edit('type = "radar"', 'type = "radr"'),
        "sensors[0] (KR-GP1).type",
        "unknown value 'radr'; one of radar, ship-radar, infrared (did you mean 'radar'?)",
    ),
    (
        "duplicate-sensor",
        edit('id = "US-IR1"', 'id = "KR-GP1"'),
        "sensors[1] (KR-GP1).id",
        "duplicate 'KR-GP1', also at sensors[0] (KR-GP1).id",
    ),
    (
        "duplicate-party",
        edit('code = "US"', 'code = "KR"'),
        "parties[1] (KR).code",
        "duplicate 'KR'",
    ),
    (
        "sensor-of-unknown-party",
        edit('party = "KR"\nlat =', 'party = "KRR"\nlat ='),
        "sensors[0] (KR-GP1).party",
        "unknown party 'KRR'; did you mean 'KR'?",
    ),
    (
        "link-of-unknown-party",
        edit('party = "KR"\nlatency', 'party = "JP"\nlatency'),
        "links[0] (JP).party",
        "unknown party 'JP'",
    ),
    (
        "duplicate-link",
        BASE + '\n[[links]]\nparty = "KR"\nlatency = "1 ms"\n',
        "links[1] (KR).party",
        "duplicate 'KR'",
    ),
    (
        "duplicate-launch",
        BASE + BASE[BASE.index("[[launches]]") : BASE.index("[[links]]")],
        "launches[1] (L1).id",
        "duplicate 'L1'",
    ),
    (
        "salvo-flight-id-clash",
        edit('class = "srbm"', 'class = "srbm"\nsalvo_count = 2')
        + BASE[BASE.index("[[launches]]") : BASE.index("[[links]]")].replace("L1", "L1-2"),
        "launches[1] (L1-2).id",
        "duplicate 'L1-2', also at launches[0] (L1).id",
    ),
    (
        "unknown-class",
        edit('class = "srbm"', 'class = "srmb"'),
        "launches[0] (L1).class",
        "unknown value 'srmb'; one of srbm, mrbm, irbm, icbm, slv (did you mean 'srbm'?)",
    ),
    (
        "unknown-profile",
        edit('class = "srbm"', 'class = "srbm"\nprofile = "lofed"'),
        "launches[0] (L1).profile",
        "did you mean 'lofted'?",
    ),
    (
        "missing-target",
        edit("target = { lat = 39.45, lon = 131.45 }\n", ""),
        "launches[0] (L1).target",
        "missing; required for class 'srbm'",
    ),
    (
        "half-target",
        edit("target = { lat = 39.45, lon = 131.45 }", 'target = { lat = 39.45, range = "1 km" }'),
        "launches[0] (L1).target",
        "needs either lat and lon, or range and azimuth",
    ),
    (
        "target-bad-field",
        edit("lon = 131.45 }", "lon = 131.45, rnge = 3 }"),
        "launches[0] (L1).target.rnge",
        "did you mean 'range'?",
    ),
    (
        "target-too-far",
        edit(
            "target = { lat = 39.45, lon = 131.45 }", 'target = {range="25000 km", azimuth="0 deg"}'
        ),
        "launches[0] (L1).target.range",
        "must be in (0 m, 20000 km]",
    ),
    (
        "slv-with-target",
        edit('class = "srbm"', 'class = "slv"\norbit_altitude = "500 km"\nazimuth = "180 deg"'),
        "launches[0] (L1).target",
        "not for class 'slv'",
    ),
    (
        "slv-without-orbit",
        edit(
            'class = "srbm"\ntarget = { lat = 39.45, lon = 131.45 }',
            'class = "slv"\nazimuth = "180 deg"',
        ),
        "launches[0] (L1).orbit_altitude",
        "missing; required for class 'slv'",
    ),
    (
        "azimuth-on-ballistic",
        edit('class = "srbm"', 'class = "srbm"\nazimuth = "90 deg"'),
        "launches[0] (L1).azimuth",
        "only for class 'slv', not 'srbm'",
    ),
    (
        "lofted-without-apogee",
        edit('class = "srbm"', 'class = "srbm"\nprofile = "lofted"'),
        "launches[0] (L1).apogee",
        "missing; required for profile 'lofted'",
    ),
    (
        "apogee-on-minimum-energy",
        edit('class = "srbm"', 'class = "srbm"\napogee = "100 km"'),
        "launches[0] (L1).apogee",
        "not for profile 'minimum-energy'",
    ),
    (
        "slv-profile",
        edit(
            'class = "srbm"\ntarget = { lat = 39.45, lon = 131.45 }',
            'class = "slv"\norbit_altitude = "500 km"\nazimuth = "180 deg"\nprofile = "lofted"',
        ),
        "launches[0] (L1).profile",
        "not for class 'slv'",
    ),
    (
        "salvo-count",
        edit('class = "srbm"', 'class = "srbm"\nsalvo_count = 0'),
        "launches[0] (L1).salvo_count",
        "must be at least 1, got 0",
    ),
    (
        "outage-backwards",
        edit('latency = "35 ms"', 'latency = "35 ms"\noutages = [{start="2 min", end="1 min"}]'),
        "links[0] (KR).outages[0].end",
        "must be after start (120 s)",
    ),
    (
        "outage-field",
        edit('latency = "35 ms"', 'latency = "35 ms"\noutages = [{start="2 min", ends="3 min"}]'),
        "links[0] (KR).outages[0].ends",
        "unknown field 'ends'; did you mean 'end'?",
    ),
    (
        "naive-epoch",
        edit('name = "test"', 'name = "test"\nepoch = 2022-10-04T07:22:00'),
        "epoch",
        "needs a UTC offset",
    ),
    (
        "epoch-garbage",
        edit('name = "test"', 'name = "test"\nepoch = "yesterday"'),
        "epoch",
        "cannot read 'yesterday' as ISO 8601",
    ),
    (
        "release-not-array",
        edit('name = "Republic of Korea"', 'name = "Republic of Korea"\nrelease_tracks = "US"'),
        "parties[0] (KR).release_tracks",
        "needs an array of codes",
    ),
    (
        "release-unknown-party",
        edit('name = "Republic of Korea"', 'name = "Republic of Korea"\nrelease_tracks = ["UK"]'),
        "parties[0] (KR).release_tracks",
        "unknown party 'UK'",
    ),
    (
        "release-to-itself",
        edit('name = "Republic of Korea"', 'name = "Republic of Korea"\nrelease_tracks = ["KR"]'),
        "parties[0] (KR).release_tracks",
        "does not release to itself",
    ),
    (
        "estimates-without-tracks",
        edit(
            'name = "Republic of Korea"',
            'name = "Republic of Korea"\nrelease_tracks = []\nrelease_estimates = ["US"]',
        ),
        "parties[0] (KR).release_estimates",
        "estimates go with tracks: US gets no tracks",
    ),
    (
        "sensors-not-array",
        BASE.replace(
            BASE[BASE.index('[[sensors]]\nid = "US-IR1"') : BASE.index("[[launches]]")], ""
        ).replace("[[sensors]]", "[sensors]"),
        "sensors",
        "needs an array of tables ([[sensors]]), got a table",
    ),
]


@pytest.mark.parametrize(
    ("text", "where", "what"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_problem_names_file_field_and_problem(
    tmp_path: Path, text: str, where: str, what: str
) -> None:
    message = problems(write(tmp_path, text))
    assert f"{tmp_path / 'bad.toml'}: {where}" in message
    line = next(line for line in message.splitlines() if f": {where}" in line)
    assert what in line, message


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    text = edit('max_range = "800 km"', 'max_range = "800 s"')
    text = text.replace("lat = 39.45", "lat = 99.45").replace('latency = "35 ms"', "latency = 3")
    message = problems(write(tmp_path, text))
    assert len(message.splitlines()) == 3, message
    for where in ("sensors[0] (KR-GP1).max_range", "launches[0] (L1).target.lat", "links[0]"):
        assert where in message


def test_problem_list_is_available_to_callers(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, edit("lat = 36.85", "lat = -91")))
    assert caught.value.problems == (("sensors[0] (KR-GP1).lat", "must be in [-90, 90], got -91"),)


def test_unreadable_files(tmp_path: Path) -> None:
    assert "cannot read" in problems(tmp_path / "missing.toml")
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "Séoul"'.encode("latin-1"))
    assert "not UTF-8" in problems(path)


def test_reach_problem_is_attributed_to_the_launch_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        load, "reach_problem", lambda flight: ("apogee", f"too high for {flight.id}")
    )
    message = problems(write(tmp_path, BASE))
    assert message == f"{tmp_path / 'bad.toml'}: launches[0] (L1).apogee: too high for L1"


@pytest.mark.parametrize(
    ("old", "new", "where", "what"),
    [
        (
            "target = { lat = 39.45, lon = 131.45 }",
            'target = { range = "3200 km", azimuth = "77 deg" }',
            "launches[0] (L1).target",
            "srbm",
        ),
        (
            'class = "srbm"',
            'class = "icbm"\nprofile = "lofted"\napogee = "100 km"',
            "launches[0] (L1).apogee",
            "100 km",
        ),
        (
            'class = "srbm"\ntarget = { lat = 39.45, lon = 131.45 }',
            'class = "slv"\norbit_altitude = "5000 km"\nazimuth = "180 deg"',
            "launches[0] (L1).orbit_altitude",
            "km",
        ),
    ],
    ids=["srbm-too-far", "lofted-below-minimum-energy", "orbit-too-high"],
)
def test_vehicle_reach_is_checked(
    tmp_path: Path, old: str, new: str, where: str, what: str
) -> None:
    message = problems(write(tmp_path, edit(old, new)))
    assert len(message.splitlines()) == 1, message
    assert what in message.partition(f": {where}: ")[2], message


def toml_string(text: str) -> str:
    escaped = "".join(
        f"\\u{ord(c):04x}" if c in '"\\' or ord(c) < 0x20 or ord(c) == 0x7F else c for c in text
    )
    return f'"{escaped}"'


@given(st.text())
def test_garbage_quantity_gives_a_scenario_error(text: str) -> None:
    base = BASE[: BASE.index("[[launches]]")]  # no launch: keeps each example fast
    source = f"truth_interval = {toml_string(text)}\n{base}"
    try:
        scenario = parse_scenario(source, Path("fuzz.toml"))
    except ScenarioError as error:
        assert re.match(r"fuzz\.toml: truth_interval: \S", str(error)), str(error)
    else:
        assert scenario.truth_interval_s > 0
