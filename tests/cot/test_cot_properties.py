"""Property tests: any finite estimate or alert gives well-formed events that parse back."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

from cot_support import EPOCH, estimate, impact_point
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from warnlink.cot.events import CotOptions, alert_events, estimate_events, xml_safe

LAT = st.floats(-89.9, 89.9)
LON = st.floats(-180.0, 180.0)
SIGMA = st.floats(1e-3, 1e6)
VEL = st.floats(-8000.0, 8000.0)


def _time(doc: ET.Element, name: str) -> datetime:
    return datetime.fromisoformat((doc.get(name) or "").replace("Z", "+00:00"))


def _as_parsed(text: str) -> str:
    """What an XML parser gives back for text: line ends normalised to LF."""
    return xml_safe(text).replace("\r\n", "\n").replace("\r", "\n")


def _lon_close(a: float, b: float) -> bool:
    return abs((a - b + 180.0) % 360.0 - 180.0) <= 1e-6


@st.composite
def cov_en(draw: st.DrawFn) -> tuple[float, float, float]:
    ve, vn = draw(SIGMA) ** 2, draw(SIGMA) ** 2
    rho = draw(st.floats(-0.999, 0.999))
    return ve, vn, rho * (ve * vn) ** 0.5


@settings(max_examples=150, deadline=None)
@given(
    lat=LAT,
    lon=LON,
    alt=st.floats(-500.0, 2e6),
    vel=st.tuples(VEL, VEL, VEL),
    sig=st.tuples(SIGMA, SIGMA, SIGMA),
    t=st.floats(0.0, 1e6),
    impact=st.none() | st.tuples(LAT, LON, cov_en(), st.floats(0.0, 3600.0)),
    party=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ-", min_size=1, max_size=8),
    track=st.text(st.characters(codec="utf-8"), min_size=1, max_size=12),
    stale=st.floats(0.1, 3600.0),
)
def test_any_finite_estimate_round_trips(
    lat: float,
    lon: float,
    alt: float,
    vel: tuple[float, float, float],
    sig: tuple[float, float, float],
    t: float,
    impact: tuple[float, float, tuple[float, float, float], float] | None,
    party: str,
    track: str,
    stale: float,
) -> None:
    imp = None
    if impact is not None:
        i_lat, i_lon, cov, dt = impact
        imp = impact_point(t + dt, i_lat, i_lon, cov)
    e = estimate(
        t=t, track=track, lat=lat, lon=lon, alt=alt, vel_enu=vel, pos_sigma_enu=sig, impact=imp
    )
    events = estimate_events(e, EPOCH, CotOptions(party=party, stale_s=stale))
    assert len(events) == (1 if imp is None else 2)
    for ev in events:
        doc = ET.fromstring(ev.to_bytes())  # well-formed, whatever the track id holds
        assert doc.get("uid") == ev.uid and doc.get("type") == ev.type
        assert doc.get("uid", "").startswith(f"warnlink.{party}.{xml_safe(track)}")
        assert _time(doc, "stale") > _time(doc, "time") == _time(doc, "start")
        point = doc.find("point")
        assert point is not None
        for name in ("lat", "lon", "hae", "ce", "le"):
            float(point.get(name, "nan"))  # present and numeric
        assert 0 <= float(point.get("ce", "-1")) <= 9999999.0
    track_doc = ET.fromstring(events[0].to_bytes())
    p = track_doc.find("point")
    assert p is not None
    assert abs(float(p.get("lat", "nan")) - lat) <= 1e-6
    assert _lon_close(float(p.get("lon", "nan")), lon)
    trk = track_doc.find("detail/track")
    assert trk is not None and 0.0 <= float(trk.get("course", "nan")) < 360.0
    if imp is not None:
        doc = ET.fromstring(events[1].to_bytes())
        ell = doc.find("detail/shape/ellipse")
        assert ell is not None
        major, minor = float(ell.get("major", "nan")), float(ell.get("minor", "nan"))
        assert major > 0 and minor > 0 and major >= minor
        assert 0.0 <= float(ell.get("angle", "nan")) <= 180.0
        ip = doc.find("point")
        assert ip is not None
        assert abs(float(ip.get("lat", "nan")) - imp.lat_deg) <= 1e-6
        assert _lon_close(float(ip.get("lon", "nan")), imp.lon_deg)


@st.composite
def polygon(draw: st.DrawFn) -> list[tuple[float, float]]:
    lat0, lon0 = draw(st.floats(-80.0, 80.0)), draw(LON)
    n = draw(st.integers(3, 12))
    offsets = draw(
        st.lists(
            st.tuples(st.floats(-2.0, 2.0), st.floats(-2.0, 2.0)),
            min_size=n,
            max_size=n,
            unique=True,
        )
    )
    points = [(lat0 + a, lon0 + b) for a, b in offsets]
    assume(len(set(points)) == n)  # distinct offsets can round to one point at lat0 + a
    return points


@settings(max_examples=100, deadline=None)
@given(
    polygons=st.lists(polygon(), min_size=1, max_size=4),
    headline=st.text(st.characters(codec="utf-8"), min_size=1, max_size=200),
    minutes=st.floats(0.01, 1440.0),
    marker=st.booleans(),
)
def test_alert_polygons_closed_and_round_trip(
    polygons: list[list[tuple[float, float]]], headline: str, minutes: float, marker: bool
) -> None:
    events = alert_events(
        "id-1", headline, polygons, EPOCH, EPOCH + timedelta(minutes=minutes), marker=marker
    )
    assert len(events) == len(polygons) + int(marker)
    for ev, poly in zip(events, polygons, strict=False):
        doc = ET.fromstring(ev.to_bytes())
        assert doc.get("type") == "u-d-f" and doc.get("uid") == ev.uid
        assert _time(doc, "stale") > _time(doc, "time")
        pts = [tuple(map(float, (lk.get("point") or "").split(","))) for lk in doc.iter("link")]
        assert len(pts) >= 4 and pts[0] == pts[-1]
        for (a_lat, a_lon), (b_lat, b_lon) in zip(pts, [*poly, poly[0]], strict=False):
            assert abs(a_lat - b_lat) <= 1e-6 and _lon_close(a_lon, b_lon)
        assert _as_parsed(headline) in (doc.findtext("detail/remarks") or "")
    if marker:
        doc = ET.fromstring(events[-1].to_bytes())
        assert doc.get("type") == "b-a-o-c"
        assert doc.findtext("detail/emergency") == _as_parsed(headline)
