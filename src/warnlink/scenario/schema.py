"""The scenario file format: every section and field with its type, default and meaning.

The loader reads files through these tables and docs/scenarios.md is generated from them
(`python -m warnlink.scenario.schema`), so the documentation cannot drift from what the
loader accepts. The kinds of value are in `kinds`, the rendering of the page in `reference`.
"""

from __future__ import annotations

from typing import get_args

from warnlink.scenario.kinds import (
    Choice,
    Codes,
    Field,
    Integer,
    Number,
    Quantity,
    Range,
    Sector,
    Sub,
    Text,
    Timestamp,
)
from warnlink.scenario.model import Profile, VehicleClassName
from warnlink.scenario.reference import page


def _length(example: str, low: str = "0 m", open_: bool = False) -> Quantity:
    return Quantity("length", example, Range(low, low_open=open_))


def _time(example: str, open_: bool = False) -> Quantity:
    return Quantity("time", example, Range("0 s", low_open=open_))


LAT = Number("39.2", "degrees", Range("-90", "90"))
LON = Number("125.67", "degrees", Range("-180", "180"))
PROBABILITY = Number("0.95", range=Range("0", "1"))
ELEVATION = Quantity("angle", "2 deg", Range("-10 deg", "90 deg"))

PARTY = Sub(
    (
        Field("code", Text(), "Short code used by sensors and links, e.g. KR, US, JP."),
        Field("name", Text(), "Full name, for reports."),
        Field(
            "release_tracks",
            Codes(),
            "Parties that receive this party's track reports (state and covariance); "
            "omitted: every other party. Raw measurements never leave the party.",
            default=None,
        ),
        Field(
            "release_estimates",
            Codes(),
            "Parties that receive its launch and impact estimates with the tracks; "
            "omitted: every party that receives its tracks.",
            default=None,
        ),
    ),
    doc="The parties sharing warning data through the hub: at least one, codes unique.",
    many=True,
    label="code",
)

_SENSING = (
    Field("update_interval", _time("2 s", True), "Time between scans.", attr="update_interval_s"),
    Field("detection_probability", PROBABILITY, "Chance of detecting a visible object per scan."),
    Field(
        "false_alarms_per_scan",
        Number("0.05", range=Range("0")),
        "Mean number of false plots per scan.",
        default=0,
    ),
)

RADAR = (
    Field("lat", LAT, "Site latitude, north positive.", attr="lat_deg"),
    Field("lon", LON, "Site longitude, east positive.", attr="lon_deg"),
    Field("alt", _length("150 m", "-500 m"), "Antenna height above the ellipsoid.", attr="alt_m"),
    Field("max_range", _length("1000 km", open_=True), "Instrumented range.", attr="max_range_m"),
    Field(
        "min_range",
        _length("5 km"),
        "Blind range; must be below max_range.",
        default="0 m",
        attr="min_range_m",
    ),
    Field(
        "elevation_mask",
        ELEVATION,
        "Lowest elevation seen (terrain, clutter); must be below max_elevation.",
        default="0 deg",
        attr="elevation_mask_rad",
    ),
    Field(
        "max_elevation",
        ELEVATION,
        "Highest elevation seen by the array faces.",
        default="90 deg",
        attr="max_elevation_rad",
    ),
    Field(
        "azimuth_sector",
        Sector('["300 deg", "60 deg"]'),
        "Coverage from the first azimuth clockwise to the second (true north); "
        "may wrap through north. Omit for all-round cover.",
        default=None,
        attr="azimuth_sector_rad",
    ),
    Field("range_noise", _length("25 m"), "1-sigma range error.", attr="range_sigma_m"),
    Field(
        "angle_noise",
        Quantity("angle", "1 mrad", Range("0 rad")),
        "1-sigma error of azimuth and of elevation.",
        attr="angle_sigma_rad",
    ),
    Field(
        "range_rate_noise",
        Quantity("speed", "1 m/s", Range("0 m/s")),
        "1-sigma range-rate error; omit if the radar reports no range rate.",
        default=None,
        attr="range_rate_sigma_mps",
    ),
    *_SENSING,
)

INFRARED = (
    Field("sat_lon", LON, "Sub-satellite longitude, east positive.", attr="sat_lon_deg"),
    Field("sat_lat", LAT, "Sub-satellite latitude.", default=0, attr="sat_lat_deg"),
    Field(
        "sat_alt",
        _length("35786 km", open_=True),
        "Altitude above the ellipsoid; the default is geostationary.",
        default="35786 km",
        attr="sat_alt_m",
    ),
    Field(
        "los_noise",
        Quantity("angle", "30 urad", Range("0 rad")),
        "1-sigma error of each line-of-sight angle.",
        attr="los_sigma_rad",
    ),
    Field(
        "min_altitude",
        _length("10 km"),
        "Burning objects below this altitude are hidden by cloud and atmosphere.",
        default="10 km",
        attr="min_altitude_m",
    ),
    *_SENSING,
)

SENSOR = Sub(
    (
        Field(
            "type",
            Choice(("radar", "ship-radar", "infrared")),
            "radar: a ground site; ship-radar: a ship held at a fixed position; "
            "infrared: a satellite fixed in the Earth frame. Picks the fields below.",
        ),
        Field("id", Text(), "Unique sensor name, e.g. KR-GP1."),
        Field("party", Text(), "Code of the owning party."),
    ),
    doc="Radars (ground, or ship at a fixed position) and space-based infrared sensors.",
    many=True,
    label="id",
    variants={"radar": RADAR, "ship-radar": RADAR, "infrared": INFRARED},
)

TARGET = Sub(
    (
        Field("lat", LAT, "Aim point latitude.", default=None),
        Field("lon", LON, "Aim point longitude.", default=None),
        Field(
            "range",
            Quantity("length", "3200 km", Range("0 m", "20000 km", low_open=True)),
            "Ground distance from the site along the WGS84 geodesic.",
            default=None,
        ),
        Field(
            "azimuth",
            Quantity("angle", "75 deg", Range("-360 deg", "360 deg"), unit="deg"),
            "Initial azimuth of that geodesic, clockwise from true north.",
            default=None,
        ),
    ),
)

CLASSES: tuple[str, ...] = get_args(VehicleClassName)
BALLISTIC = tuple(name for name in CLASSES if name != "slv")

LAUNCH = Sub(
    (
        Field("id", Text(), "Unique launch name; salvo flights are named id-1, id-2, …"),
        Field("site", Text(), "Launch site name, e.g. Sunan.", attr="site_name"),
        Field("site_lat", LAT, "Launch site latitude.", attr="site_lat_deg"),
        Field("site_lon", LON, "Launch site longitude.", attr="site_lon_deg"),
        Field(
            "site_alt",
            _length("30 m", "-500 m"),
            "Launch site height.",
            default="0 m",
            attr="site_alt_m",
        ),
        Field("time", _time("2 min"), "Launch time after the epoch.", default="0 s", attr="time_s"),
        Field("class", Choice(CLASSES), "Vehicle class.", attr="vehicle_class"),
        Field(
            "profile",
            Choice(get_args(Profile)),
            "Trajectory shape.",
            default="minimum-energy",
        ),
        Field(
            "apogee",
            _length("6000 km", open_=True),
            "Required for lofted, optional for depressed, not for minimum-energy.",
            default=None,
            attr="apogee_m",
        ),
        Field(
            "target",
            TARGET,
            "Aim point: either lat and lon, or range and azimuth from the site. "
            "Required for ballistic classes, not for slv.",
            default=None,
        ),
        Field(
            "orbit_altitude",
            _length("500 km", open_=True),
            "slv only (required): altitude of the intended orbit.",
            default=None,
            attr="orbit_altitude_m",
        ),
        Field(
            "azimuth",
            Quantity("angle", "180 deg", Range("-360 deg", "360 deg"), unit="deg"),
            "slv only (required): launch azimuth, clockwise from true north.",
            default=None,
            attr="azimuth_deg",
        ),
        Field("salvo_count", Integer(Range("1")), "Number of missiles launched.", default=1),
        Field(
            "salvo_spacing",
            _time("30 s"),
            "Time between the missiles of a salvo.",
            default="0 s",
            attr="salvo_spacing_s",
        ),
    ),
    doc="Launches; a salvo is one entry with salvo_count > 1.",
    many=True,
    label="id",
)

OUTAGE = Sub(
    (
        Field("start", _time("2 min"), "Link goes down.", attr="start_s"),
        Field("end", _time("3 min"), "Link comes back; after start.", attr="end_s"),
    ),
    many=True,
)

LINK = Sub(
    (
        Field("party", Text(), "Code of the party; one link per party."),
        Field("latency", _time("40 ms"), "Mean one-way delay to the hub.", attr="latency_s"),
        Field("jitter", _time("5 ms"), "1-sigma delay variation.", default="0 ms", attr="jitter_s"),
        Field("outages", OUTAGE, "Windows when the link carries nothing.", default=[]),
    ),
    doc="The network link of each party to the hub.",
    many=True,
    label="party",
)

SCENARIO = Sub(
    (
        Field("name", Text(), "Short title."),
        Field("description", Text(allow_empty=True), "What the exercise is about.", default=""),
        Field(
            "epoch",
            Timestamp("2022-10-03T22:22:00Z"),
            "UTC instant of scenario time 0 (ISO 8601 with offset; TOML date-time or string).",
            default="2025-01-01T00:00:00Z",
        ),
        Field("seed", Integer(), "Seed of every random draw: same seed, same run.", default=0),
        Field(
            "duration",
            _time("30 min", True),
            "Simulated time; omit to run until every object has landed or reached orbit.",
            default=None,
            attr="duration_s",
        ),
        Field(
            "truth_interval",
            _time("1 s", True),
            "Sampling interval of the recorded truth.",
            default="1 s",
            attr="truth_interval_s",
        ),
        Field("parties", PARTY, ""),
        Field("sensors", SENSOR, "", default=[]),
        Field("launches", LAUNCH, "", default=[]),
        Field("links", LINK, "", default=[]),
    ),
)


def markdown() -> str:
    """docs/scenarios.md, generated so that it always matches what the loader accepts."""
    return page(SCENARIO)


if __name__ == "__main__":
    print(markdown(), end="")
