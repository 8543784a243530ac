"""Regions the truth put at risk: closed-form paths over known places."""

from __future__ import annotations

import numpy as np
import pytest

from warnlink.evaluate.at_risk import regions_at_risk
from warnlink.geo.frames import geodetic_to_ecef
from warnlink.physics.truth import ObjectTrack, Truth

TOKYO = (35.68, 139.76)  # inside JP-13
SAPPORO = (43.06, 141.35)  # inside JP-01
SEA = (39.0, 134.0)  # Sea of Japan, no region


def _line(start: tuple[float, float], end: tuple[float, float], alt_m: float, impact: bool,
          obj: str = "L1/RV") -> ObjectTrack:  # fmt: skip
    """An object flying a straight lat/lon line at one height for 100 s."""
    t = np.linspace(0.0, 100.0, 201)
    lat = np.linspace(start[0], end[0], t.size)
    lon = np.linspace(start[1], end[1], t.size)
    alt = np.full(t.size, alt_m)
    if impact:
        alt[-1] = 0.0
    r = geodetic_to_ecef(lat, lon, alt)
    v = np.gradient(r, t, axis=0)
    return ObjectTrack(obj, "L1", "L1", "rv", t, r, v, np.zeros(t.size, bool),
                       "impact" if impact else "end")  # fmt: skip


def test_impact_in_tokyo_from_the_sea() -> None:
    truth = Truth([_line(SEA, TOKYO, 20_000.0, impact=True)], [])
    found = {a.region: a for a in regions_at_risk(truth, ["JP"], ceiling_m=100_000.0)}
    assert found["JP-13"].reason == "impact"
    # the line crosses Honshu from the west coast: overflown prefectures come first
    assert all(a.reason == "overflight" for r, a in found.items() if r != "JP-13")
    assert all(a.t_first < 100.0 for a in found.values())
    assert found["JP-13"].t_first <= 100.0
    # countries not asked for are not reported
    assert regions_at_risk(truth, ["KR"], ceiling_m=100_000.0) == []


def test_above_the_ceiling_is_no_overflight() -> None:
    truth = Truth([_line(SAPPORO, TOKYO, 500_000.0, impact=False)], [])
    assert regions_at_risk(truth, ["JP"], ceiling_m=100_000.0) == []
    high = regions_at_risk(truth, ["JP"], ceiling_m=1_000_000.0)
    ids = {a.region for a in high}
    assert {"JP-01", "JP-13"} <= ids
    first = {a.region: a.t_first for a in high}
    assert first["JP-01"] == 0.0 and first["JP-13"] > 90.0  # Sapporo first, Tokyo last


def test_sea_impact_puts_nothing_at_risk() -> None:
    truth = Truth([_line((38.0, 133.0), SEA, 10_000.0, impact=True)], [])
    assert regions_at_risk(truth, ["JP", "KR"], ceiling_m=100_000.0) == []


def test_two_objects_of_one_flight_merge_and_impact_wins() -> None:
    over = _line(SEA, TOKYO, 30_000.0, impact=False, obj="L1/S2")
    hit = _line(SEA, TOKYO, 30_000.0, impact=True, obj="L1/RV")
    (tokyo,) = [a for a in regions_at_risk(Truth([over, hit], []), ["JP"], 1e5)
                if a.region == "JP-13"]  # fmt: skip
    assert tokyo.reason == "impact" and tokyo.objects == ("L1/RV", "L1/S2")


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="positive"):
        regions_at_risk(Truth([], []), ["JP"], ceiling_m=0.0)
