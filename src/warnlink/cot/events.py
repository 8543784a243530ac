"""Cursor-on-Target 2.0 events for TAK clients (ATAK, WinTAK, iTAK) from WarnLink records.

Three kinds of picture go out (docs/cot.md has the type codes and why):
- a track: a hostile surface-to-surface missile in flight, `a-h-A-W-M-S-S`, at the
  estimate's position, with ce/le from its covariance and course/speed from its velocity;
- its predicted impact as a drawn ellipse `u-d-c-e` (the confidence ellipse of the
  estimate), and its estimated launch site as a hostile SS missile launcher point;
- a public alert: each warned area as a closed drawn polygon `u-d-f`, and optionally an
  alert marker `b-a-o-c` that TAK clients raise as an emergency.

Events are built with the standard library's ElementTree (no new dependency) and carry
the uid/type/times that a TAK server routes on; `CotEvent.to_bytes` is the wire form.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np

from warnlink.formats.records import Estimate, GroundPoint
from warnlink.geo.frames import ecef_to_geodetic, enu_basis

TRACK_TYPE = "a-h-A-W-M-S-S"  # hostile / air / weapon / missile in flight / surface-to-surface
LAUNCH_TYPE = "a-h-G-E-W-M-S"  # hostile / ground / weapon / surface-to-surface missile launcher
ELLIPSE_TYPE = "u-d-c-e"  # user drawing: ellipse
POLYGON_TYPE = "u-d-f"  # user drawing: free-form shape (closed: last vertex = first)
ALERT_TYPE = "b-a-o-c"  # alarm: custom emergency, raised by TAK clients
ALERT_CANCEL_TYPE = "b-a-o-can"  # alarm cancelled
UNKNOWN_ERROR_M = 9999999.0  # CoT's value for an unknown ce / le

Kind = Literal["track", "impact", "launch", "alert"]

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """Text with the characters XML 1.0 cannot carry (controls, lone surrogates, U+FFFE/F)
    replaced by U+FFFD, so that an odd track id or headline never makes a malformed event."""
    return _NOT_XML.sub("\ufffd", text)


def cot_time(t: datetime) -> str:
    """CoT's ISO 8601 UTC form with milliseconds and a Z, e.g. 2026-12-03T05:49:34.120Z."""
    if t.tzinfo is None:
        raise ValueError("CoT times must be timezone-aware (UTC)")
    u = t.astimezone(UTC)
    return u.strftime("%Y-%m-%dT%H:%M:%S.") + f"{u.microsecond // 1000:03d}Z"


def argb(a: int, r: int, g: int, b: int) -> int:
    """A colour as ATAK stores it: ARGB packed into a signed 32-bit integer."""
    v = (a & 0xFF) << 24 | (r & 0xFF) << 16 | (g & 0xFF) << 8 | (b & 0xFF)
    return v - (1 << 32) if v >= 1 << 31 else v


@dataclass(frozen=True)
class Style:
    """Stroke and fill of a drawn shape (ARGB ints, see `argb`)."""

    stroke: int = argb(255, 255, 0, 0)
    fill: int = argb(64, 255, 0, 0)
    stroke_weight: float = 3.0


IMPACT_STYLE = Style()
ALERT_STYLE = Style(stroke=argb(255, 255, 140, 0), fill=argb(80, 255, 140, 0))


@dataclass(frozen=True)
class CotOptions:
    """How a party's estimates become events.

    `stale_s` is how long a track update stays on screen without a newer one: a few
    update intervals, so a lost track disappears instead of freezing at its last place.
    """

    party: str
    fused: bool = True  # how="m-f" (fused picture) or "m-r" (a party's own report)
    stale_s: float = 10.0
    launch_stale_s: float = 600.0
    impact_linger_s: float = 120.0  # keep an ellipse this long after the predicted impact
    impact_style: Style = IMPACT_STYLE


@dataclass
class CotEvent:
    """One CoT event: the XML element plus what a streamer needs to queue it."""

    element: ET.Element
    kind: Kind
    uid: str = field(init=False)
    type: str = field(init=False)

    def __post_init__(self) -> None:
        self.uid = self.element.attrib["uid"]
        self.type = self.element.attrib["type"]

    @property
    def is_alert(self) -> bool:
        """Alerts are never dropped by a streamer's bounded queue; track updates may be."""
        return self.kind == "alert"

    def to_bytes(self) -> bytes:
        """UTF-8 XML document with its declaration, as TAK servers accept it on a stream."""
        return _DECLARATION + ET.tostring(self.element, encoding="unicode").encode("utf-8")


def _event(
    uid: str,
    type_: str,
    how: str,
    time: datetime,
    stale: datetime,
    lat: float,
    lon: float,
    hae: float = 0.0,
    ce: float = UNKNOWN_ERROR_M,
    le: float = UNKNOWN_ERROR_M,
) -> tuple[ET.Element, ET.Element]:
    """The <event> with its <point> and an empty <detail>; returns (event, detail)."""
    if not stale > time:
        stale = time + timedelta(seconds=1)
    ev = ET.Element(
        "event",
        {
            "version": "2.0",
            "uid": xml_safe(uid),
            "type": type_,
            "how": how,
            "time": cot_time(time),
            "start": cot_time(time),
            "stale": cot_time(stale),
        },
    )
    ET.SubElement(
        ev,
        "point",
        {
            "lat": f"{lat:.7f}",
            "lon": f"{lon:.7f}",
            "hae": f"{hae:.1f}",
            "ce": f"{_finite_error(ce):.1f}",
            "le": f"{_finite_error(le):.1f}",
        },
    )
    return ev, ET.SubElement(ev, "detail")


def _finite_error(x: float) -> float:
    return min(x, UNKNOWN_ERROR_M) if math.isfinite(x) and x >= 0 else UNKNOWN_ERROR_M


def _sub(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, {k: xml_safe(v) for k, v in attrs.items()})


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    el = _sub(parent, tag, **attrs)
    el.text = xml_safe(text)
    return el


def _style(detail: ET.Element, style: Style) -> None:
    """Colour elements ATAK's shape detail handlers read (strokeColor, fillColor, weight)."""
    _sub(detail, "strokeColor", value=str(style.stroke))
    _sub(detail, "strokeWeight", value=f"{style.stroke_weight:.1f}")
    _sub(detail, "fillColor", value=str(style.fill))
    _sub(detail, "labels_on", value="false")


def _link_to_track(detail: ET.Element, options: CotOptions, estimate: Estimate) -> None:
    """A drawing's parent link to its track, so that clients group them."""
    _sub(detail, "link", uid=track_uid(options.party, estimate.track), type=TRACK_TYPE,
         relation="p-p")  # fmt: skip


def track_uid(party: str, track: str) -> str:
    """Stable per track, so each update replaces the last one on the map."""
    return f"warnlink.{party}.{track}"


def party_uid(party: str) -> str:
    return f"warnlink.{party}"


def _lat_lon(lat: float, lon: float) -> tuple[float, float]:
    """Longitude wrapped to [-180, 180), which every TAK client accepts."""
    return lat, (lon + 180.0) % 360.0 - 180.0


def _time(epoch: datetime, t: float) -> datetime:
    return epoch + timedelta(seconds=t)


def track_errors(estimate: Estimate) -> tuple[float, float]:
    """ce and le (m) of the estimate: 1-sigma, horizontal and vertical, at its position.

    ce is the square root of the larger eigenvalue of the horizontal (east-north)
    covariance, the radius of a circle that holds the 1-sigma ellipse: CoT has one
    circular number, and an honest one must not be smaller than the worst direction.
    """
    lat, lon, _ = ecef_to_geodetic(np.asarray(estimate.ecef_m))
    basis = enu_basis(lat, lon)
    p = np.asarray(estimate.cov_ecef, float).reshape(6, 6)[:3, :3]
    enu = basis @ (0.5 * (p + p.T)) @ basis.T
    horiz = np.linalg.eigvalsh(enu[:2, :2])
    return float(np.sqrt(max(horiz[-1], 0.0))), float(np.sqrt(max(enu[2, 2], 0.0)))


def course_speed(estimate: Estimate) -> tuple[float, float, float]:
    """Course (deg clockwise from true north), ground speed and vertical speed (m/s)."""
    lat, lon, _ = ecef_to_geodetic(np.asarray(estimate.ecef_m))
    e, n, u = enu_basis(lat, lon) @ np.asarray(estimate.vel_mps, float)
    course = round(math.degrees(math.atan2(e, n)), 1) % 360.0  # as written: never "360.0"
    return course, math.hypot(e, n), float(u)


def track_event(estimate: Estimate, epoch: datetime, options: CotOptions) -> CotEvent:
    """The missile itself, where the estimate puts it at its time."""
    lat, lon, hae = (float(x) for x in ecef_to_geodetic(np.asarray(estimate.ecef_m)))
    lat, lon = _lat_lon(lat, lon)
    ce, le = track_errors(estimate)
    course, speed, climb = course_speed(estimate)
    time = _time(epoch, estimate.t)
    ev, detail = _event(
        track_uid(options.party, estimate.track),
        TRACK_TYPE,
        "m-f" if options.fused else "m-r",
        time,
        time + timedelta(seconds=options.stale_s),
        lat,
        lon,
        hae,
        ce,
        le,
    )
    _sub(detail, "contact", callsign=f"{options.party} {estimate.track}")
    _sub(detail, "track", course=f"{course:.1f}", speed=f"{speed:.1f}")
    remarks = [
        f"WarnLink {'fused' if options.fused else options.party} track {estimate.track}:",
        f"{estimate.phase} (boost probability {estimate.boost_probability:.2f}),",
        f"altitude {hae / 1000:.1f} km, climb {climb:+.0f} m/s.",
    ]
    if estimate.impact is not None:
        remarks.append(f"Predicted impact {cot_time(_time(epoch, estimate.impact.t))}.")
    if estimate.sources:
        remarks.append(f"Sources: {', '.join(estimate.sources)}.")
    _text(detail, "remarks", " ".join(remarks))
    _sub(detail, "link", uid=party_uid(options.party), type="a-f-G-U-C", relation="p-p")
    return CotEvent(ev, "track")


def impact_event(estimate: Estimate, epoch: datetime, options: CotOptions) -> CotEvent | None:
    """The predicted impact's confidence ellipse, or None while there is no prediction.

    ATAK reads `major`/`minor` of a drawn ellipse as full axis lengths (it halves them
    into radii) and `angle` as the major axis' azimuth clockwise from true north, which
    is the convention of our Ellipse record; so the axes are doubled here.
    """
    impact = estimate.impact
    if impact is None:
        return None
    lat, lon = _lat_lon(impact.lat_deg, impact.lon_deg)
    e = impact.ellipse
    time = _time(epoch, estimate.t)
    impact_at = _time(epoch, impact.t)
    stale = max(
        time + timedelta(seconds=options.stale_s),
        impact_at + timedelta(seconds=options.impact_linger_s),
    )
    ev, detail = _event(
        track_uid(options.party, estimate.track) + ".impact",
        ELLIPSE_TYPE,
        "m-f" if options.fused else "m-r",
        time,
        stale,
        lat,
        lon,
        0.0,
        e.semi_major_m / math.sqrt(_chi2(e.confidence)),
    )
    major, minor = ellipse_axes(impact)
    shape = _sub(detail, "shape")
    _sub(
        shape,
        "ellipse",
        major=f"{major:.1f}",
        minor=f"{minor:.1f}",
        angle=f"{e.orientation_deg:.1f}",
    )
    _style(detail, options.impact_style)
    _sub(detail, "contact", callsign=f"{options.party} {estimate.track} impact")
    _text(
        detail,
        "remarks",
        f"Predicted impact of track {estimate.track} at {cot_time(impact_at)} "
        f"(1-sigma {impact.t_sigma_s:.0f} s); {e.confidence:.0%} ellipse "
        f"{e.semi_major_m / 1000:.1f} x {e.semi_minor_m / 1000:.1f} km.",
    )
    _link_to_track(detail, options, estimate)
    return CotEvent(ev, "impact")


def ellipse_axes(point: GroundPoint) -> tuple[float, float]:
    """Full major and minor axis lengths (m) as a CoT ellipse wants them, never zero."""
    e = point.ellipse
    major = 2.0 * max(e.semi_major_m, e.semi_minor_m, 1.0)
    minor = 2.0 * max(min(e.semi_major_m, e.semi_minor_m), 1.0)
    return major, minor


def _chi2(confidence: float) -> float:
    """Two-dof chi-square quantile, to bring an ellipse back to 1 sigma for ce."""
    return -2.0 * math.log1p(-confidence) if 0.0 < confidence < 1.0 else 1.0


def launch_event(estimate: Estimate, epoch: datetime, options: CotOptions) -> CotEvent | None:
    """The estimated launch site, a point that stays up for `launch_stale_s`."""
    launch = estimate.launch
    if launch is None:
        return None
    lat, lon = _lat_lon(launch.lat_deg, launch.lon_deg)
    time = _time(epoch, estimate.t)
    sigma = launch.ellipse.semi_major_m / math.sqrt(_chi2(launch.ellipse.confidence))
    ev, detail = _event(
        track_uid(options.party, estimate.track) + ".launch",
        LAUNCH_TYPE,
        "m-f" if options.fused else "m-r",
        time,
        time + timedelta(seconds=options.launch_stale_s),
        lat,
        lon,
        0.0,
        sigma,
    )
    _sub(detail, "contact", callsign=f"{options.party} {estimate.track} launch")
    when = cot_time(_time(epoch, launch.t))
    _text(detail, "remarks", f"Estimated launch of track {estimate.track} at {when}.")
    _link_to_track(detail, options, estimate)
    return CotEvent(ev, "launch")


def estimate_events(estimate: Estimate, epoch: datetime, options: CotOptions) -> list[CotEvent]:
    """Everything one estimate shows: track, then impact ellipse and launch point if known.

    A deleted track sends nothing: its events go stale on their own.
    """
    if estimate.status == "deleted":
        return []
    extras = (impact_event(estimate, epoch, options), launch_event(estimate, epoch, options))
    return [track_event(estimate, epoch, options), *(e for e in extras if e is not None)]


Polygon = Sequence[tuple[float, float]]


def close_ring(polygon: Polygon) -> list[tuple[float, float]]:
    """Vertices (lat, lon) with the first repeated at the end, as ATAK draws a closed shape."""
    ring = [(float(a), float(b)) for a, b in polygon]
    if len(ring) < 3:
        raise ValueError(f"a polygon needs at least 3 vertices, got {len(ring)}")
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    if len(ring) < 4:
        raise ValueError("a polygon needs at least 3 distinct vertices")
    return ring


def alert_uid(alert_id: str) -> str:
    return f"warnlink.alert.{alert_id}"


def alert_events(
    alert_id: str,
    headline: str,
    polygons: Sequence[Polygon],
    issued: datetime,
    expires: datetime,
    *,
    marker: bool = True,
    style: Style = ALERT_STYLE,
) -> list[CotEvent]:
    """A public alert: one closed polygon per warned area, then the alert marker.

    The polygons are what a TAK user sees on the map; the marker (`b-a-o-c`, a custom
    emergency, at the centre of the first area) is what makes ATAK and WinTAK raise an
    alarm with the headline rather than silently draw shapes. All stale at `expires`.
    """
    if not polygons:
        raise ValueError("an alert needs at least one polygon")
    out: list[CotEvent] = []
    for i, polygon in enumerate(polygons):
        ring = close_ring(polygon)
        c_lat, c_lon = _centre(ring)
        ev, detail = _event(
            f"{alert_uid(alert_id)}.area.{i}", POLYGON_TYPE, "h-e", issued, expires, c_lat, c_lon
        )
        for lat, lon in ring:
            lat, lon = _lat_lon(lat, lon)
            _sub(detail, "link", point=f"{lat:.7f},{lon:.7f}")
        _style(detail, style)
        _sub(detail, "contact", callsign=_short(headline))
        _text(
            detail,
            "remarks",
            f"{headline} (alert {alert_id}, area {i + 1} of {len(polygons)}; "
            f"issued {cot_time(issued)}, expires {cot_time(expires)})",
        )
        out.append(CotEvent(ev, "alert"))
    if marker:
        c_lat, c_lon = _centre(close_ring(polygons[0]))
        ev, detail = _event(alert_uid(alert_id), ALERT_TYPE, "h-e", issued, expires, c_lat, c_lon)
        _sub(detail, "contact", callsign=_short(headline))
        _text(detail, "emergency", headline, type="Custom")
        _text(detail, "remarks", f"{headline} (expires {cot_time(expires)})")
        for i in range(len(polygons)):
            _sub(
                detail,
                "link",
                uid=f"{alert_uid(alert_id)}.area.{i}",
                type=POLYGON_TYPE,
                relation="p-p",
            )
        out.append(CotEvent(ev, "alert"))
    return out


def alert_cancel_event(
    alert_id: str, headline: str, at: datetime, lat: float, lon: float
) -> CotEvent:
    """Ends an alert marker early (an all-clear): TAK clients stop the alarm for its uid."""
    ev, detail = _event(
        alert_uid(alert_id), ALERT_CANCEL_TYPE, "h-e", at, at + timedelta(seconds=60), lat, lon
    )
    _text(detail, "emergency", headline, cancel="true")
    return CotEvent(ev, "alert")


def _centre(ring: list[tuple[float, float]]) -> tuple[float, float]:
    """Mean of the distinct vertices, longitudes unwrapped around the first one."""
    pts = ring[:-1]
    lon0 = pts[0][1]
    lons = [lon0 + ((lon - lon0 + 180.0) % 360.0 - 180.0) for _, lon in pts]
    return _lat_lon(sum(p[0] for p in pts) / len(pts), sum(lons) / len(lons))


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse(data: bytes) -> ET.Element:
    """Parse one event document back (tests, and a listener that checks what came)."""
    return ET.fromstring(data)


def utc(t: datetime) -> datetime:
    """An aware UTC datetime; naive values are taken as UTC."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
