"""CoT events from estimates and alerts: the values a TAK client reads."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from cot_support import EPOCH, estimate, impact_point

from warnlink.cot.events import (
    ALERT_TYPE,
    ELLIPSE_TYPE,
    LAUNCH_TYPE,
    POLYGON_TYPE,
    TRACK_TYPE,
    CotOptions,
    alert_cancel_event,
    alert_events,
    cot_time,
    estimate_events,
    impact_event,
    track_event,
)

OPTIONS = CotOptions(party="KR")


def test_track_event_position_type_uid_times_and_detail() -> None:
    ev = track_event(estimate(lat=38.5, lon=127.0, alt=150e3), EPOCH, OPTIONS)
    doc = ET.fromstring(ev.to_bytes())
    assert doc.tag == "event" and doc.get("version") == "2.0"
    assert doc.get("uid") == "warnlink.KR.T1" and ev.uid == doc.get("uid")
    assert doc.get("type") == TRACK_TYPE == "a-h-A-W-M-S-S"
    assert doc.get("how") == "m-f"
    assert doc.get("time") == "2026-12-03T05:01:40.000Z" == doc.get("start")
    assert doc.get("stale") == "2026-12-03T05:01:50.000Z"
    point = doc.find("point")
    assert point is not None
    assert float(point.get("lat", "nan")) == pytest.approx(38.5, abs=1e-6)
    assert float(point.get("lon", "nan")) == pytest.approx(127.0, abs=1e-6)
    assert float(point.get("hae", "nan")) == pytest.approx(150e3, abs=0.1)
    assert float(point.get("ce", "nan")) == pytest.approx(300.0, rel=1e-3)  # worst direction
    assert float(point.get("le", "nan")) == pytest.approx(100.0, rel=1e-3)
    track = doc.find("detail/track")
    assert track is not None
    assert float(track.get("course", "nan")) == pytest.approx(90.0, abs=0.1)
    assert float(track.get("speed", "nan")) == pytest.approx(1000.0, abs=0.1)
    link = doc.find("detail/link")
    assert link is not None and link.get("uid") == "warnlink.KR"
    remarks = doc.findtext("detail/remarks") or ""
    assert "climb +500 m/s" in remarks


def test_own_track_says_how_and_stale_is_configurable() -> None:
    ev = track_event(estimate(), EPOCH, CotOptions(party="JP", fused=False, stale_s=4.0))
    doc = ET.fromstring(ev.to_bytes())
    assert doc.get("how") == "m-r" and doc.get("uid") == "warnlink.JP.T1"
    assert doc.get("stale") == cot_time(EPOCH + timedelta(seconds=104))


def test_to_bytes_has_a_double_quoted_utf8_declaration() -> None:
    data = track_event(estimate(), EPOCH, OPTIONS).to_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><event ')
    assert data.endswith(b"</event>")


def test_impact_ellipse_axes_are_full_lengths_with_the_azimuth() -> None:
    imp = impact_point(400.0, 39.0, 140.0)
    ev = impact_event(estimate(impact=imp), EPOCH, OPTIONS)
    assert ev is not None
    doc = ET.fromstring(ev.to_bytes())
    assert doc.get("type") == ELLIPSE_TYPE and doc.get("uid") == "warnlink.KR.T1.impact"
    ell = doc.find("detail/shape/ellipse")
    assert ell is not None
    assert float(ell.get("major", "nan")) == pytest.approx(2 * imp.ellipse.semi_major_m, abs=0.1)
    assert float(ell.get("minor", "nan")) == pytest.approx(2 * imp.ellipse.semi_minor_m, abs=0.1)
    assert float(ell.get("angle", "nan")) == pytest.approx(imp.ellipse.orientation_deg, abs=0.1)
    # stays up until after the predicted impact
    assert doc.get("stale") == cot_time(EPOCH + timedelta(seconds=400 + 120))
    assert cot_time(EPOCH + timedelta(seconds=400)) in (doc.findtext("detail/remarks") or "")
    assert doc.find("detail/strokeColor") is not None and doc.find("detail/fillColor") is not None


def test_estimate_events_track_impact_launch_and_nothing_for_a_deletion() -> None:
    e = estimate(impact=impact_point(400.0, 39.0, 140.0), launch=impact_point(10.0, 39.5, 125.0))
    kinds = [(ev.kind, ev.type) for ev in estimate_events(e, EPOCH, OPTIONS)]
    assert kinds == [("track", TRACK_TYPE), ("impact", ELLIPSE_TYPE), ("launch", LAUNCH_TYPE)]
    assert estimate_events(estimate(status="deleted"), EPOCH, OPTIONS) == []
    assert [ev.kind for ev in estimate_events(estimate(), EPOCH, OPTIONS)] == ["track"]


def test_alert_polygons_are_closed_and_the_marker_links_them() -> None:
    areas = [
        [(35.0, 139.0), (35.0, 140.0), (36.0, 140.0)],
        [(34.0, 135.0), (34.5, 135.5), (34.0, 136.0), (34.0, 135.0)],
    ]
    issued = EPOCH
    events = alert_events(
        "A7", "Missile alert: take shelter now", areas, issued, issued + timedelta(minutes=15)
    )
    assert [ev.type for ev in events] == [POLYGON_TYPE, POLYGON_TYPE, ALERT_TYPE]
    assert all(ev.is_alert for ev in events)
    for ev, area in zip(events[:2], areas, strict=True):
        doc = ET.fromstring(ev.to_bytes())
        pts = [tuple(map(float, (lk.get("point") or "").split(","))) for lk in doc.iter("link")]
        assert pts[0] == pts[-1] and len(pts) == len({*area}) + 1
        assert doc.get("stale") == cot_time(issued + timedelta(minutes=15))
    marker = ET.fromstring(events[2].to_bytes())
    assert marker.get("uid") == "warnlink.alert.A7"
    assert marker.findtext("detail/emergency") == "Missile alert: take shelter now"
    assert [lk.get("uid") for lk in marker.iter("link")] == [
        "warnlink.alert.A7.area.0",
        "warnlink.alert.A7.area.1",
    ]
    cancel = ET.fromstring(alert_cancel_event("A7", "all clear", issued, 35.0, 139.0).to_bytes())
    assert cancel.get("type") == "b-a-o-can" and cancel.get("uid") == "warnlink.alert.A7"


def test_alert_needs_real_polygons() -> None:
    with pytest.raises(ValueError, match="at least one polygon"):
        alert_events("A", "x", [], EPOCH, EPOCH + timedelta(minutes=1))
    with pytest.raises(ValueError, match="3 vertices"):
        alert_events("A", "x", [[(0.0, 0.0), (1.0, 1.0)]], EPOCH, EPOCH + timedelta(minutes=1))


def test_alert_centre_across_the_antimeridian() -> None:
    ring = [(10.0, 179.5), (10.0, -179.5), (11.0, -179.5), (11.0, 179.5)]
    ev = alert_events("X", "x", [ring], EPOCH, EPOCH + timedelta(minutes=1))[0]
    point = ET.fromstring(ev.to_bytes()).find("point")
    assert point is not None
    lon = float(point.get("lon", "nan"))
    assert math.isclose(abs(lon), 180.0, abs_tol=1e-6)


def test_times_need_a_timezone() -> None:
    with pytest.raises(ValueError, match="timezone"):
        cot_time(EPOCH.replace(tzinfo=None))
