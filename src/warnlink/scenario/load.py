"""Reading scenario files into validated `Scenario` objects.

All problems found are reported together, each as `file: field: problem`, so that fixing
a file does not take one run per mistake. Checks between entries (duplicates, parties,
reach) are made on the entries that are themselves valid.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pymap3d.vincenty import vreckon

from warnlink.physics.vehicles import reach_problem
from warnlink.scenario.kinds import REQUIRED, Field, Invalid, Sub, suggest, type_name
from warnlink.scenario.model import (
    InfraredSpec,
    LaunchSpec,
    LinkSpec,
    Outage,
    Party,
    RadarSpec,
    Scenario,
    SensorSpec,
)
from warnlink.scenario.schema import BALLISTIC, SCENARIO

Problem = tuple[str, str]  # (field path such as "sensors[2] (KR-GP1).max_range", what is wrong)

_FAILED: Any = object()  # a value that could not be read; its problem is already noted


class ScenarioError(Exception):
    """A scenario file cannot be used; one line per problem: `file: field: problem`."""

    def __init__(self, path: Path, problems: Sequence[Problem]) -> None:
        self.path = path
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{path}: {where}: {what}" for where, what in self.problems))


class _Entry(NamedTuple):
    """One table of an array of tables; `values` is None when it has problems."""

    where: str
    values: dict[str, Any] | None


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(path, [("(file)", f"cannot read: {error.strerror}")]) from None
    except UnicodeDecodeError as error:
        raise ScenarioError(path, [("(file)", f"not UTF-8 text (byte {error.start})")]) from None
    return parse_scenario(text, path)


def parse_scenario(text: str, path: Path) -> Scenario:
    """A scenario from TOML text; `path` names it in messages and in the result."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.fullmatch(r"(.*) \(at (line \d+, column \d+|end of document)\)", str(error))
        where, what = (found[2], found[1]) if found else ("(file)", str(error))
        raise ScenarioError(path, [(where, f"TOML syntax error: {what}")]) from None
    reader = _Reader()
    scenario = _scenario(reader, reader.fields(raw, SCENARIO.fields, ""), path)
    if scenario is None:
        raise ScenarioError(path, reader.problems)
    return scenario


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


class _Reader:
    """Reads raw TOML through the schema tables, noting problems instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, where: str, what: str) -> None:
        self.problems.append((where, what))

    def fields(
        self, raw: dict[str, Any], fields: tuple[Field, ...], where: str, kind: str = ""
    ) -> dict[str, Any]:
        """Values by model name, _FAILED where unreadable; `kind` qualifies unknown fields."""
        known = [f.key for f in fields]
        for key in raw:
            if key not in known:
                hint = suggest(key, known)
                self.fail(_join(where, key), f"unknown field {key!r}{kind}; {hint}")
        return {f.name: self.value(f, raw, where) for f in fields}

    def table(self, raw: object, sub: Sub, where: str) -> dict[str, Any] | None:
        """Values by model name, or None if anything in the table (or nested) is wrong."""
        if not isinstance(raw, dict):
            self.fail(where, f"needs a table, got {type_name(raw)}")
            return None
        if not sub.variants:
            mark = len(self.problems)
            values = self.fields(raw, sub.fields, where)
            return values if len(self.problems) == mark else None
        selector, *common = sub.fields
        chosen = self.value(selector, raw, where)
        if chosen is _FAILED:
            return None
        rest = {key: value for key, value in raw.items() if key != selector.key}
        mark = len(self.problems)
        fields = (*common, *sub.variants[chosen])
        values = self.fields(rest, fields, where, f" for {selector.key} {chosen!r}")
        values[selector.name] = chosen
        return values if len(self.problems) == mark else None

    def value(self, f: Field, raw: dict[str, Any], where: str) -> Any:
        where = _join(where, f.key)
        if f.key in raw:
            given = raw[f.key]
        elif f.default is REQUIRED:
            self.fail(where, "missing; this field is required")
            return _FAILED
        else:
            given = f.default
        if given is None:
            return None
        kind = f.kind
        if not isinstance(kind, Sub):
            try:
                return kind.parse(given)
            except Invalid as error:
                self.fail(where, str(error))
                return _FAILED
        if not kind.many:
            values = self.table(given, kind, where)
            return _FAILED if values is None else values
        if not isinstance(given, list):
            self.fail(where, f"needs an array of tables ([[{f.key}]]), got {type_name(given)}")
            return _FAILED
        return [self.entry(item, kind, f"{where}[{i}]") for i, item in enumerate(given)]

    def entry(self, raw: object, sub: Sub, where: str) -> _Entry:
        label = raw.get(sub.label) if isinstance(raw, dict) and sub.label else None
        if isinstance(label, str) and label.strip():
            where = f"{where} ({label})"
        return _Entry(where, self.table(raw, sub, where))


def _scenario(r: _Reader, top: dict[str, Any], path: Path) -> Scenario | None:
    """The Scenario, after the checks single fields cannot make: references, uniqueness,
    consistency and reach."""
    sections = ("parties", "sensors", "launches", "links")
    if any(top[name] is _FAILED for name in sections):
        return None
    entries: dict[str, list[_Entry]] = {name: top.pop(name) for name in sections}
    if not entries["parties"]:
        r.fail("parties", "needs at least one [[parties]] table")
    seen_codes: dict[str, str] = {}
    valid_parties = list(_valid(r, entries["parties"], "code", seen_codes))
    parties = [Party(**v) for _, v in valid_parties]
    # None when a broken entry may hide a code that others refer to
    codes = seen_codes if len(parties) == len(entries["parties"]) else None
    for (where, _), party in zip(valid_parties, parties, strict=True):
        _release(r, where, party, codes)
    sensors = [_sensor(r, where, v, codes) for where, v in _valid(r, entries["sensors"], "id", {})]
    names: dict[str, str] = {}
    launches = [
        launch
        for where, v in _valid(r, entries["launches"], "id", names)
        if (launch := _launch(r, where, v, names))
    ]
    links = [_link(r, where, v, codes) for where, v in _valid(r, entries["links"], "party", {})]
    if r.problems:
        return None
    return Scenario(
        path=path,
        parties=tuple(parties),
        sensors=tuple(sensors),
        launches=tuple(launches),
        links=tuple(links),
        **top,
    )


def _unique(r: _Reader, seen: dict[str, str], name: str, where: str) -> None:
    if name in seen:
        r.fail(where, f"duplicate {name!r}, also at {seen[name]}")
    else:
        seen[name] = where


def _valid(
    r: _Reader, entries: list[_Entry], key: str, seen: dict[str, str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Where and a copy of the values of each entry that has no problems, checking that
    their `key` is unique (`seen` keeps where each was)."""
    for e in entries:
        if e.values is not None:
            _unique(r, seen, e.values[key], f"{e.where}.{key}")
            yield e.where, dict(e.values)


def _known_party(r: _Reader, codes: dict[str, str] | None, code: str, where: str) -> None:
    if codes and code not in codes:
        r.fail(where, f"unknown party {code!r}; {suggest(code, list(codes))}")


def _release(r: _Reader, where: str, party: Party, codes: dict[str, str] | None) -> None:
    for key in ("release_tracks", "release_estimates"):
        for code in getattr(party, key) or ():
            _known_party(r, codes, code, f"{where}.{key}")
            if code == party.code:
                r.fail(f"{where}.{key}", f"a party does not release to itself ({code!r})")
    tracks, estimates = party.release_tracks, party.release_estimates
    if tracks is not None and estimates is not None and not set(estimates) <= set(tracks):
        extra = ", ".join(sorted(set(estimates) - set(tracks)))
        r.fail(f"{where}.release_estimates", f"estimates go with tracks: {extra} gets no tracks")


def _sensor(r: _Reader, where: str, v: dict[str, Any], codes: dict[str, str] | None) -> SensorSpec:
    _known_party(r, codes, v["party"], f"{where}.party")
    kind = v.pop("type")
    if kind == "infrared":
        return InfraredSpec(**v)
    if v["elevation_mask_rad"] >= v["max_elevation_rad"]:
        limit = math.degrees(v["max_elevation_rad"])
        r.fail(f"{where}.elevation_mask", f"must be below max_elevation ({limit:g} deg)")
    if v["min_range_m"] >= v["max_range_m"]:
        limit = v["max_range_m"] / 1000.0
        r.fail(f"{where}.min_range", f"must be below max_range ({limit:g} km)")
    return RadarSpec(platform="ship" if kind == "ship-radar" else "ground", **v)


def _launch(r: _Reader, where: str, v: dict[str, Any], names: dict[str, str]) -> LaunchSpec | None:
    """The launch if it is consistent, asking the vehicle model whether it can be flown."""
    mark = len(r.problems)
    target = v.pop("target")
    _check_parts(r, where, v, target)
    if target is not None:
        aim = _aim(r, f"{where}.target", v["site_lat_deg"], v["site_lon_deg"], target)
        v["target_lat_deg"], v["target_lon_deg"] = aim or (None, None)
    if v["azimuth_deg"] is not None:
        v["azimuth_deg"] %= 360.0
    if len(r.problems) > mark:
        return None
    launch = LaunchSpec(**v)
    first, *others = launch.flights()
    for flight in others:
        _unique(r, names, flight.id, f"{where}.id")
    problem = reach_problem(first)
    if problem is not None:
        key, what = problem
        r.fail(f"{where}.{key}", what)
    return launch


def _check_parts(r: _Reader, where: str, v: dict[str, Any], target: object) -> None:
    """Which optional fields a class and profile need, and which they must not have."""
    vehicle, profile, apogee = v["vehicle_class"], v["profile"], v["apogee_m"]
    slv_only = {"orbit_altitude": v["orbit_altitude_m"], "azimuth": v["azimuth_deg"]}
    if vehicle in BALLISTIC:
        if target is None:
            r.fail(f"{where}.target", f"missing; required for class {vehicle!r}")
        for key in (key for key, value in slv_only.items() if value is not None):
            r.fail(f"{where}.{key}", f"only for class 'slv', not {vehicle!r}")
    else:
        if target is not None:
            r.fail(f"{where}.target", "not for class 'slv'; give orbit_altitude and azimuth")
        for key in (key for key, value in slv_only.items() if value is None):
            r.fail(f"{where}.{key}", "missing; required for class 'slv'")
    if vehicle == "slv" and profile != "minimum-energy":
        r.fail(f"{where}.profile", "not for class 'slv', which flies to its orbit; omit it")
    elif profile == "lofted" and apogee is None:
        r.fail(f"{where}.apogee", "missing; required for profile 'lofted'")
    elif profile == "minimum-energy" and apogee is not None:
        r.fail(
            f"{where}.apogee",
            "not for profile 'minimum-energy', whose apogee follows from the range; "
            "use 'lofted' or 'depressed'",
        )


def _aim(
    r: _Reader, where: str, lat: float, lon: float, target: dict[str, Any]
) -> tuple[float, float] | None:
    point, bearing = (target["lat"], target["lon"]), (target["range"], target["azimuth"])
    if None not in point and bearing == (None, None):
        return point
    if None not in bearing and point == (None, None):
        return destination(lat, lon, *bearing)
    r.fail(where, "needs either lat and lon, or range and azimuth")
    return None


def destination(
    lat_deg: float, lon_deg: float, range_m: float, azimuth_deg: float
) -> tuple[float, float]:
    """End of the WGS84 geodesic: Vincenty's direct solution (pymap3d), good to a few mm."""
    lat2, lon2 = vreckon(lat_deg, lon_deg, range_m, azimuth_deg % 360.0)
    return float(lat2), (float(lon2) + 180.0) % 360.0 - 180.0


def _link(r: _Reader, where: str, v: dict[str, Any], codes: dict[str, str] | None) -> LinkSpec:
    _known_party(r, codes, v["party"], f"{where}.party")
    for outage in v["outages"]:
        start, end = outage.values["start_s"], outage.values["end_s"]
        if end <= start:
            r.fail(f"{outage.where}.end", f"must be after start ({start:g} s)")
    v["outages"] = tuple(Outage(**outage.values) for outage in v["outages"])
    return LinkSpec(**v)
