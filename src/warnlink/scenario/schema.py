"""The scenario file format: every section and field with its type, default and meaning.

The loader reads files through these tables and docs/scenarios.md is generated from them
(`python -m warnlink.scenario.schema`), so the documentation cannot drift from what the
loader accepts.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Final, get_args

from warnlink.scenario.model import Profile, VehicleClassName
from warnlink.scenario.quantities import (
    ARTICLE,
    UNITS,
    Dimension,
    QuantityError,
    parse_quantity,
    units_of,
)


class Invalid(ValueError):
    """A value is unacceptable; the message says why, the loader adds where."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()


_TOML_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),  # before int: bool is an int in Python, not in TOML
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "an array"),
    (dict, "a table"),
    (datetime, "a date-time"),  # before date, its base class
    (date, "a date"),
    (time, "a time of day"),
)


def type_name(raw: object) -> str:
    """How TOML calls the type of a parsed value, for messages."""
    return next((name for kind, name in _TOML_TYPES if isinstance(raw, kind)), "a value")


def suggest(word: str, known: list[str]) -> str:
    """A 'did you mean' hint, or the list of choices when nothing is close."""
    close = difflib.get_close_matches(word, known, n=1)
    return f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"


@dataclass(frozen=True)
class Range:
    """Allowed interval, with its ends written as a user writes values ('0 m', '90 deg')."""

    low: str | None = None
    high: str | None = None
    low_open: bool = False
    high_open: bool = False

    def check(self, value: float, convert: Callable[[str], float], raw: object) -> None:
        low_ok = self.low is None or (
            value > convert(self.low) if self.low_open else value >= convert(self.low)
        )
        high_ok = self.high is None or (
            value < convert(self.high) if self.high_open else value <= convert(self.high)
        )
        if not (low_ok and high_ok):
            raise Invalid(f"must be {self}, got {raw!r}")

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            return f"in {left}{self.low}, {self.high}{right}"
        if self.low is not None:
            return f"{'more than' if self.low_open else 'at least'} {self.low}"
        if self.high is not None:
            return f"{'less than' if self.high_open else 'at most'} {self.high}"
        return ""


@dataclass(frozen=True)
class Text:
    allow_empty: bool = False

    def parse(self, raw: object) -> str:
        if not isinstance(raw, str):
            raise Invalid(f"needs a string, got {type_name(raw)}")
        if not self.allow_empty and not raw.strip():
            raise Invalid("must not be empty")
        return raw

    def describe(self) -> str:
        return "text"

    def allowed(self) -> str:
        return "" if self.allow_empty else "not empty"


@dataclass(frozen=True)
class Integer:
    range: Range = Range()

    def parse(self, raw: object) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise Invalid(f"needs an integer, got {type_name(raw)}")
        self.range.check(raw, int, raw)
        return raw

    def describe(self) -> str:
        return "integer"

    def allowed(self) -> str:
        return str(self.range)


@dataclass(frozen=True)
class Number:
    """A plain number: degrees of latitude/longitude, probabilities, rates."""

    example: str
    unit: str = ""
    range: Range = Range()

    def parse(self, raw: object) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            what = f"a plain number in {self.unit}" if self.unit else "a plain number"
            raise Invalid(f"needs {what} such as {self.example}, got {type_name(raw)}")
        if not math.isfinite(raw):
            raise Invalid(f"must be finite, got {raw}")
        self.range.check(raw, float, raw)
        return float(raw)

    def describe(self) -> str:
        return f"number ({self.unit})" if self.unit else "number"

    def allowed(self) -> str:
        return str(self.range)


@dataclass(frozen=True)
class Quantity:
    """A string with a unit; read into SI, or into `unit` when the model wants degrees."""

    dimension: Dimension
    example: str
    range: Range = Range()
    unit: str | None = None

    def to_si(self, text: str) -> float:
        try:
            return parse_quantity(text, self.dimension, self.example)
        except QuantityError as error:
            raise Invalid(str(error)) from None

    def parse(self, raw: object) -> float:
        if not isinstance(raw, str):
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                raise Invalid(
                    f"{raw} has no unit; needs {ARTICLE[self.dimension]} "
                    f"written as a string such as '{self.example}'"
                )
            raise Invalid(
                f"needs {ARTICLE[self.dimension]} such as '{self.example}', got {type_name(raw)}"
            )
        value = self.to_si(raw)
        self.range.check(value, self.to_si, raw)
        return value / UNITS[self.unit][1] if self.unit else value

    def describe(self) -> str:
        return self.dimension

    def allowed(self) -> str:
        return str(self.range)


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]

    def parse(self, raw: object) -> str:
        if not isinstance(raw, str):
            raise Invalid(f"needs one of {', '.join(self.options)}, got {type_name(raw)}")
        if raw not in self.options:
            hint = suggest(raw, list(self.options))
            raise Invalid(f"unknown value {raw!r}; one of {', '.join(self.options)} ({hint})")
        return raw

    def describe(self) -> str:
        return "one of " + ", ".join(f'"{option}"' for option in self.options)

    def allowed(self) -> str:
        return ""


@dataclass(frozen=True)
class Timestamp:
    """An instant with an explicit offset: a local time would make the run depend on the host."""

    example: str

    def parse(self, raw: object) -> datetime:
        if isinstance(raw, str):
            try:
                raw = datetime.fromisoformat(raw)
            except ValueError:
                raise Invalid(
                    f"cannot read {raw!r} as ISO 8601; write e.g. '{self.example}'"
                ) from None
        if not isinstance(raw, datetime):
            raise Invalid(f"needs a date-time such as {self.example}, got {type_name(raw)}")
        if raw.utcoffset() is None:
            raise Invalid(f"needs a UTC offset ('Z' or '+09:00'), e.g. {self.example}")
        return raw.astimezone(UTC)

    def describe(self) -> str:
        return "date-time"

    def allowed(self) -> str:
        return "with offset"


@dataclass(frozen=True)
class Sector:
    """(from, to) azimuths clockwise from true north, normalised to [0, 2 pi); may wrap."""

    example: str

    def parse(self, raw: object) -> tuple[float, float]:
        if not (isinstance(raw, list) and len(raw) == 2):
            raise Invalid(f"needs [from, to] clockwise, such as {self.example}")
        start, end = (AZIMUTH.parse(value) % (2 * math.pi) for value in raw)
        if math.isclose(start, end, abs_tol=1e-12):
            raise Invalid("empty sector (from = to); omit azimuth_sector for all-round cover")
        return start, end

    def describe(self) -> str:
        return "[angle, angle]"

    def allowed(self) -> str:
        return "from ≠ to"


@dataclass(frozen=True)
class Sub:
    """A nested table (`many`: an array of tables). `variants` picks extra fields by the
    value of the first field (the sensor `type`); `label` names the field that identifies
    an entry in messages, e.g. sensors[2] (KR-GP1)."""

    fields: tuple[Field, ...]
    doc: str = ""
    many: bool = False
    label: str | None = None
    variants: Mapping[str, tuple[Field, ...]] = field(default_factory=dict)

    def describe(self) -> str:
        return "array of tables" if self.many else "table"

    def allowed(self) -> str:
        return ""


Kind = Text | Integer | Number | Quantity | Choice | Timestamp | Sector | Sub


@dataclass(frozen=True)
class Field:
    key: str
    kind: Kind
    doc: str
    default: object = REQUIRED  # a raw TOML value, read like a written one; None: optional
    attr: str | None = None  # the model's name for it, when not the key

    @property
    def name(self) -> str:
        return self.attr or self.key


def _length(example: str, low: str = "0 m", open_: bool = False) -> Quantity:
    return Quantity("length", example, Range(low, low_open=open_))


def _time(example: str, open_: bool = False) -> Quantity:
    return Quantity("time", example, Range("0 s", low_open=open_))


LAT = Number("39.2", "degrees", Range("-90", "90"))
LON = Number("125.67", "degrees", Range("-180", "180"))
PROBABILITY = Number("0.95", range=Range("0", "1"))
ELEVATION = Quantity("angle", "2 deg", Range("-10 deg", "90 deg"))
AZIMUTH = Quantity("angle", "300 deg", Range("-360 deg", "360 deg"))

PARTY = Sub(
    (
        Field("code", Text(), "Short code used by sensors and links, e.g. KR, US, JP."),
        Field("name", Text(), "Full name, for reports."),
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


def _default(f: Field) -> str:
    if f.default is REQUIRED:
        return "required"
    if f.default is None:
        return "optional"
    if f.default == []:
        return "none"
    return f"`{f.default!r}`".replace("'", '"')


def _table(fields: tuple[Field, ...], prefix: str = "") -> list[str]:
    rows = ["| field | type | default | allowed | meaning |", "| --- | --- | --- | --- | --- |"]
    for f in fields:
        cells = (f"`{prefix}{f.key}`", f.kind.describe(), _default(f), f.kind.allowed(), f.doc)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        if isinstance(f.kind, Sub):
            inner = f"{prefix}{f.key}[]." if f.kind.many else f"{prefix}{f.key}."
            rows += _table(f.kind.fields, inner)[2:]
    return rows


def _units() -> list[str]:
    rows = ["| dimension | units |", "| --- | --- |"]
    for dimension in ARTICLE:
        units = ", ".join(f"`{unit}`" for unit in units_of(dimension))
        rows.append(f"| {dimension} | {units} |")
    return rows


def markdown() -> str:
    """docs/scenarios.md, generated so that it always matches what the loader accepts."""
    sections = [(f, f.kind) for f in SCENARIO.fields if isinstance(f.kind, Sub)]
    scalars = tuple(f for f in SCENARIO.fields if not isinstance(f.kind, Sub))
    lines = [
        "# Scenario files",
        "",
        "<!-- Generated by `python -m warnlink.scenario.schema > docs/scenarios.md`"
        " (make docs); do not edit. -->",
        "",
        "A scenario is a TOML file describing an exercise: parties, sensors, launches and "
        "network links. Examples are in `scenarios/`.",
        "",
        "## Values",
        "",
        "Dimensional values are strings holding a number and a unit, such as "
        '`max_range = "600 km"`, `latency = "40 ms"` or `angle_noise = "1.5 mrad"`; '
        "a bare number where a unit is needed is an error. Accepted units:",
        "",
        *_units(),
        "",
        "Latitudes and longitudes are plain numbers in degrees, north and east positive "
        "(`lat = 39.2`), on WGS84. Probabilities, rates and counts are plain numbers. "
        "Times such as `time` and outage windows count from the epoch. "
        "Noise values are 1-sigma.",
        "",
        "Every problem is reported as `file: field: problem`, for example "
        "`bad.toml: sensors[2] (KR-GP1).max_range: wrong unit 's' (a time); "
        "needs a length such as '1000 km'`.",
        "",
        "## Top level",
        "",
        *_table(scalars),
    ]
    for section, sub in sections:
        need = "Required." if section.default is REQUIRED else "Optional."
        lines += ["", f"## [[{section.key}]]", "", f"{sub.doc} {need}", "", *_table(sub.fields)]
        by_fields: dict[int, list[str]] = {}
        for name, fields in sub.variants.items():
            by_fields.setdefault(id(fields), []).append(name)
        for names in by_fields.values():
            which = " or ".join(f'"{name}"' for name in names)
            lines += ["", f"### {sub.fields[0].key} = {which}", ""]
            lines += _table(sub.variants[names[0]])
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
