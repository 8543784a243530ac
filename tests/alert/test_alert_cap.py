"""CAP output: polygons within CAP's rules, schema validity, invalid documents refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from alert_support import AKITA, EPOCH, SEA_OF_JAPAN_EEZ, boosting, falling_on, policy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from shapely.geometry import MultiPolygon, Polygon

from warnlink.alert.cap import (
    CAP_NS,
    CapError,
    alert_xml,
    build_alert,
    cap_polygons,
    check_polygon_text,
    polygon_text,
    validate,
)
from warnlink.alert.lifecycle import Authority
from warnlink.geo.regions import load_regions

NS = {"cap": CAP_NS}


def _check(polys: list[Polygon], source: Polygon | MultiPolygon) -> None:
    assert polys
    for p in polys:
        text = polygon_text(p)
        check_polygon_text(text)  # closed, 4..100 points, valid, in range
        assert p.is_valid and 4 <= len(p.exterior.coords) <= 100
        assert p.exterior.is_ccw


def test_every_region_fits_cap() -> None:
    for r in load_regions():
        polys = cap_polygons(r.geometry)
        _check(polys, r.geometry)
        assert len(polys) <= 20
        cover = shapely.union_all(polys)
        # simplified, not shrunk away: most of the region stays covered
        assert cover.intersection(r.geometry).area >= 0.9 * r.geometry.area, r.id


def test_a_multipolygon_becomes_several_polygons() -> None:
    okinawa = next(r for r in load_regions() if r.id == "JP-47")
    assert len(shapely.get_parts(okinawa.geometry)) > 1
    polys = cap_polygons(okinawa.geometry)
    assert 1 < len(polys) <= 20
    # disjoint islands stay disjoint parts, each its own <polygon>
    assert shapely.union_all(polys).geom_type == "MultiPolygon"


def test_shapes_across_the_antimeridian_are_cut() -> None:
    from warnlink.alert.areas import ellipse_polygon

    e = ellipse_polygon(40.0, 179.8, (100e3**2, 50e3**2, 0.0), 0.99)
    assert e.bounds[2] > 180.0  # built with continuous longitudes
    polys = cap_polygons(e)
    assert len(polys) == 2
    for p in polys:
        check_polygon_text(polygon_text(p))
        assert p.bounds[0] >= -180.0 and p.bounds[2] <= 180.0
    assert sum(p.area for p in polys) == pytest.approx(e.area, rel=0.02)


@st.composite
def star_polygons(draw: st.DrawFn) -> Polygon:
    """Star-shaped rings of up to 2,000 vertices with jagged radii (valid by construction)."""
    n = draw(st.integers(3, 2000))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    theta = np.sort(rng.uniform(0, 2 * math.pi, n))
    theta = np.unique(theta)
    radius = draw(st.floats(1e-3, 5.0)) * rng.uniform(0.2, 1.0, len(theta))
    cx, cy = draw(st.floats(100.0, 170.0)), draw(st.floats(-60.0, 60.0))
    p = Polygon(np.column_stack([cx + radius * np.cos(theta), cy + radius * np.sin(theta)]))
    return p if p.is_valid else p.convex_hull


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(star_polygons())
def test_simplification_hypothesis(p: Polygon) -> None:
    if p.area == 0:
        return
    polys = cap_polygons(p)
    assert len(polys) == 1
    _check(polys, p)


def test_polygon_text_rules() -> None:
    square = "0,0 0,1 1,1 1,0 0,0"
    check_polygon_text(square)
    with pytest.raises(CapError, match="not closed"):
        check_polygon_text("0,0 0,1 1,1 1,0 0,0.5")
    with pytest.raises(CapError, match="self-intersects"):
        check_polygon_text("0,0 1,1 0,1 1,0 0,0")  # a bow tie
    with pytest.raises(CapError, match="points"):
        check_polygon_text(" ".join(["0,0"] * 101))
    with pytest.raises(CapError, match="range"):
        check_polygon_text("0,0 0,181 1,1 0,0")
    assert polygon_text(Polygon([(140, 39), (141, 39), (141, 40)])).startswith("39.00000,140.00000")


def _messages() -> list:
    auth = Authority(policy(), EPOCH, exercise=True)
    auth.update(boosting(10.0))
    auth.update(falling_on(*AKITA, t=100.0))
    auth.finish()
    return auth.messages


def test_messages_are_valid_cap_with_the_fields_filled() -> None:
    msgs = _messages()
    assert msgs[0].msg_type == "Alert" and msgs[-1].msg_type == "Cancel"
    for m in msgs:
        doc = etree.fromstring(alert_xml(m))
        assert doc.findtext("cap:status", namespaces=NS) == "Exercise"
        assert doc.findtext("cap:scope", namespaces=NS) == "Public"
        assert doc.findtext("cap:sent", namespaces=NS).endswith("+09:00")
        langs = [i.findtext("cap:language", namespaces=NS) for i in doc.findall("cap:info", NS)]
        assert {"ja-JP", "en-US", "ko-KR"} <= set(langs)
        for info in doc.findall("cap:info", NS):
            assert info.findtext("cap:category", namespaces=NS) == "Safety"
    impact_msg = next(m for m in msgs if m.stage == "impact_expected")
    doc = etree.fromstring(alert_xml(impact_msg))
    codes = doc.xpath("//cap:geocode[cap:valueName='ISO3166-2']/cap:value/text()", namespaces=NS)
    assert "JP-05" in codes
    ja = doc.xpath("//cap:info[cap:language='ja-JP']/cap:description/text()", namespaces=NS)[0]
    assert ja.startswith("ミサイル発射情報。ミサイル発射情報。当地域に着弾する可能性があります。")
    areas = doc.xpath(
        "//cap:info[cap:language='ja-JP']/cap:area/cap:areaDesc/text()", namespaces=NS
    )
    assert any("秋田県" in a for a in areas) and any("着弾予想範囲" in a for a in areas)
    ko = doc.xpath("//cap:info[cap:language='ko-KR']/cap:description/text()", namespaces=NS)[0]
    assert ko.startswith("[FDMA test]")  # the sender in brackets, as MOIS writes "[행정안전부]"
    urg = doc.xpath("//cap:info[1]/cap:urgency/text()", namespaces=NS)
    assert urg == ["Immediate"]


def test_invalid_documents_are_refused() -> None:
    msg = _messages()[0]
    doc = build_alert(msg)
    validate(doc)
    sender = doc.find("cap:sender", NS)
    doc.remove(sender)
    with pytest.raises(CapError, match="not valid CAP"):
        validate(doc)
    doc = build_alert(msg)
    doc.find("cap:msgType", NS).text = "Warning"
    with pytest.raises(CapError):
        validate(doc)
    doc = build_alert(msg)
    doc.find(".//cap:polygon", NS).text = "1,1 2,2 3,1"
    with pytest.raises(CapError, match="polygon"):
        validate(doc)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lat=st.floats(24.0, 46.0),
    lon=st.floats(122.0, 150.0),
    sigma=st.floats(0.0, 150e3),
    t_move=st.floats(1.0, 50.0),
    lat2=st.floats(24.0, 46.0),
    lon2=st.floats(122.0, 150.0),
)
def test_any_sequence_gives_valid_cap(
    lat: float, lon: float, sigma: float, t_move: float, lat2: float, lon2: float
) -> None:
    """Estimates with impacts anywhere around Japan, of any size, moving once: all valid."""
    auth = Authority(policy(include_neighbours=True), EPOCH)
    auth.update(boosting(5.0))
    auth.update(falling_on(lat, lon, t=20.0, sigma_m=sigma))
    auth.update(falling_on(lat2, lon2, t=20.0 + t_move, sigma_m=sigma))
    auth.finish()
    for m in auth.messages:
        etree.fromstring(alert_xml(m))  # alert_xml validates; parse to be sure it is XML
    assert auth.messages[-1].msg_type == "Cancel"


def test_sea_impact_area_is_drawn() -> None:
    auth = Authority(policy(), EPOCH)
    auth.update(boosting(5.0))
    auth.update(falling_on(*SEA_OF_JAPAN_EEZ, t=20.0))
    auth.finish()
    fell = next(m for m in auth.messages if m.stage == "fell")
    doc = etree.fromstring(alert_xml(fell))
    en = doc.xpath("//cap:info[cap:language='en-US']/cap:description/text()", namespaces=NS)[0]
    assert "fallen into the sea" in en and "exclusive economic zone" in en
    assert doc.xpath("//cap:area/cap:polygon", namespaces=NS)
