"""AlertMessage -> CAP 1.2 XML, validated before it leaves.

Each message becomes one <alert>; each (part, language) one <info>; each region of a
part one <area> with its polygon(s) and an ISO 3166-2 geocode, plus the predicted impact
area as an <area> of its own. Every document is checked against the OASIS schema
(data/CAP-v1.2.xsd) and, where the schema only says "string", against CAP's own rules
(polygons closed, at least 4 and at most MAX_POINTS pairs, WGS84 ranges; references
"sender,identifier,sent"): an invalid message raises CapError instead of being emitted.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

import numpy as np
import shapely
import shapely.affinity
from lxml import etree
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

from warnlink.alert.lifecycle import AlertMessage, Part
from warnlink.alert.texts import Stage
from warnlink.geo.regions import Polygonal, Region

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
MAX_POINTS = 100  # pairs per <polygon>, first == last included
MAX_POLYGONS = 20  # per <area>: more island parts are merged by buffering
GRID_DEG = 1e-5  # coordinates are written to 5 decimals (about 1 m)

# urgency, severity, certainty, responseType(s) of each stage
CAP_CODES: dict[Stage, tuple[str, str, str, tuple[str, ...]]] = {
    "launch": ("Immediate", "Extreme", "Observed", ("Shelter",)),
    "impact_expected": ("Immediate", "Extreme", "Likely", ("Shelter", "Evacuate")),
    "overflight_expected": ("Immediate", "Extreme", "Likely", ("Shelter",)),
    "passed": ("Past", "Minor", "Observed", ("Monitor",)),
    "fell": ("Past", "Moderate", "Likely", ("Avoid", "Monitor")),
    "lifted": ("Past", "Minor", "Likely", ("AllClear",)),
    "all_clear": ("Past", "Minor", "Observed", ("AllClear",)),
}
WHY_WORDS: dict[str, dict[str, str]] = {
    "en-US": {
        "impact": "impact", "overflight": "overflight", "launch": "launch warning",
        "neighbour": "neighbouring", "area": "Predicted impact area ({p:.0%})",
    },
    "ja-JP": {
        "impact": "着弾", "overflight": "上空通過", "launch": "発射情報",
        "neighbour": "隣接地域", "area": "着弾予想範囲（{p:.0%}）",
    },
    "ko-KR": {
        "impact": "낙하", "overflight": "상공 통과", "launch": "발사 경보",
        "neighbour": "인접 지역", "area": "낙하 예상 범위({p:.0%})",
    },
}  # fmt: skip
_PAIR = re.compile(r"^-?\d{1,2}(\.\d+)?,-?\d{1,3}(\.\d+)?$")


class CapError(ValueError):
    """A CAP document that is not valid; never emitted."""


def _count(p: Polygon) -> int:
    return len(p.exterior.coords)


def _usable(g: Polygonal, max_points: int) -> bool:
    return isinstance(g, Polygon) and not g.is_empty and g.is_valid and 4 <= _count(g) <= max_points


def _fit(ring: Polygon, max_points: int) -> Polygon:
    """One polygon (no holes) simplified until it is valid with at most max_points points.

    Tolerance doubles from 1e-4 degrees; topology-preserving simplification, then the
    5-decimal grid, then counter-clockwise orientation. A part that cannot be kept valid
    (a sliver) becomes its convex hull, a point-like one a small square.
    """
    tol = 0.0
    for source in (ring, ring.convex_hull):
        tol = 0.0
        for _ in range(40):
            g = shapely.set_precision(source.simplify(tol, preserve_topology=True), GRID_DEG)
            if _usable(g, max_points):
                return orient(g, 1.0)
            tol = tol * 2.0 if tol else 1e-4
    c = ring.centroid
    return orient(shapely.set_precision(c.buffer(1e-3, quad_segs=1), GRID_DEG), 1.0)


def split_antimeridian(geom: Polygonal) -> Polygonal:
    """Shapes built with continuous longitudes, cut at +-180 and shifted into [-180, 180]."""
    west, _, east, _ = geom.bounds
    if west >= -180.0 and east <= 180.0:
        return geom
    pieces = [
        shapely.affinity.translate(shapely.clip_by_rect(geom, lo, -90.0, hi, 90.0), -shift)
        for lo, hi, shift in ((-540.0, -180.0, -360.0), (-180.0, 180.0, 0.0), (180.0, 540.0, 360.0))
    ]
    return shapely.union_all([p for p in pieces if not p.is_empty])


def cap_polygons(
    geom: Polygonal, max_points: int = MAX_POINTS, max_polygons: int = MAX_POLYGONS
) -> list[Polygon]:
    """A (multi)polygon as CAP polygons: valid, closed, counter-clockwise, <= max_points each.

    Shapes across the antimeridian are cut there (CAP longitudes are in [-180, 180]).
    Holes are dropped (a CAP polygon has none; covering a lake or enclave errs on the
    safe side). Areas of more than max_polygons parts (island groups) are merged by
    buffering (doubling from 0.01 degree, about 1 km) until few enough remain: again a
    slightly larger area, never a smaller one.
    """
    parts = [
        p
        for p in shapely.get_parts(split_antimeridian(geom))
        if isinstance(p, Polygon) and not p.is_empty
    ]
    d = 0.01
    while len(parts) > max_polygons:
        merged = shapely.union_all([p.buffer(d, quad_segs=2) for p in parts])
        parts = [p for p in shapely.get_parts(merged) if isinstance(p, Polygon)]
        d *= 2.0
    return [_fit(Polygon(p.exterior), max_points) for p in parts]


def polygon_text(p: Polygon) -> str:
    """CAP polygon text: "lat,lon lat,lon ..." with the first pair repeated last."""
    xy = np.asarray(p.exterior.coords)
    lon = (xy[:, 0] + 180.0) % 360.0 - 180.0
    return " ".join(f"{lat:.5f},{lo:.5f}" for lo, lat in zip(lon, xy[:, 1], strict=True))


def check_polygon_text(text: str, max_points: int = MAX_POINTS) -> None:
    """CapError unless text is a CAP polygon: closed, 4..max_points pairs, in range, valid."""
    pairs = text.split()
    if not 4 <= len(pairs) <= max_points:
        raise CapError(f"polygon has {len(pairs)} points, needs 4 to {max_points}")
    if pairs[0] != pairs[-1]:
        raise CapError("polygon not closed (first point != last)")
    coords = []
    for pair in pairs:
        if not _PAIR.match(pair):
            raise CapError(f"polygon point {pair!r} is not 'lat,lon'")
        lat, lon = (float(v) for v in pair.split(","))
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise CapError(f"polygon point {pair!r} out of WGS84 range")
        coords.append((lon, lat))
    if not Polygon(coords).is_valid:
        raise CapError(f"polygon self-intersects: {shapely.is_valid_reason(Polygon(coords))}")


@cache
def _region_polygons(region_id: str, geom_wkb: bytes) -> tuple[Polygon, ...]:
    return tuple(cap_polygons(shapely.from_wkb(geom_wkb)))


def region_cap_polygons(region: Region) -> tuple[Polygon, ...]:
    """A region's CAP polygons (simplified, at most 100 points), computed once per region."""
    return _region_polygons(region.id, shapely.to_wkb(region.geometry))


def region_polygon_texts(region: Region) -> tuple[str, ...]:
    """A region's CAP polygons as CAP text."""
    return tuple(polygon_text(p) for p in region_cap_polygons(region))


@cache
def schema() -> etree.XMLSchema:
    """The bundled OASIS CAP 1.2 schema."""
    path = files("warnlink.alert").joinpath("data", "CAP-v1.2.xsd")
    return etree.XMLSchema(etree.fromstring(path.read_bytes()))


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _area_name(region: Region, lang: str) -> str:
    local = region.name_local and (
        (lang == "ja-JP" and region.country == "JP") or (lang == "ko-KR" and region.country == "KR")
    )
    return region.name_local if local and region.name_local else region.name


def _info(alert: etree._Element, msg: AlertMessage, part: Part, lang: str) -> None:
    text = part.texts[lang]
    urgency, severity, certainty, responses = CAP_CODES[part.stage]
    if part.stage == "fell" and not part.risks:
        severity = "Minor"
    info = _sub(alert, "info")
    _sub(info, "language", lang)
    _sub(info, "category", "Safety")
    _sub(info, "event", text.event)
    for r in responses:
        _sub(info, "responseType", r)
    _sub(info, "urgency", urgency)
    _sub(info, "severity", severity)
    _sub(info, "certainty", certainty)
    _sub(info, "expires", msg.expires)
    _sub(info, "senderName", msg.sender_name)
    _sub(info, "headline", text.headline)
    _sub(info, "description", text.description)
    _sub(info, "instruction", text.instruction)
    for name, value in (("WarnLinkStage", part.stage), ("WarnLinkTrack", msg.track)):
        p = _sub(info, "parameter")
        _sub(p, "valueName", name)
        _sub(p, "value", value)
    words = WHY_WORDS[lang]
    for risk in part.risks:
        area = _sub(info, "area")
        why = (
            "・".join(words[w] for w in risk.why)
            if lang == "ja-JP"
            else ", ".join(words[w] for w in risk.why)
        )
        _sub(area, "areaDesc", f"{_area_name(risk.region, lang)} ({why})")
        for poly in region_polygon_texts(risk.region):
            _sub(area, "polygon", poly)
        code = _sub(area, "geocode")
        _sub(code, "valueName", "ISO3166-2")
        _sub(code, "value", risk.region.id)
    if part.impact_area is not None:
        area = _sub(info, "area")
        _sub(area, "areaDesc", words["area"].format(p=msg.confidence))
        for poly in cap_polygons(part.impact_area):
            _sub(area, "polygon", polygon_text(poly))


def build_alert(msg: AlertMessage) -> etree._Element:
    """The <alert> element of a message (not yet validated)."""
    alert = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})  # type: ignore[dict-item]
    _sub(alert, "identifier", msg.id)
    _sub(alert, "sender", msg.sender)
    _sub(alert, "sent", msg.sent)
    _sub(alert, "status", msg.status)
    _sub(alert, "msgType", msg.msg_type)
    _sub(alert, "scope", "Public")
    if msg.references:
        _sub(alert, "references", " ".join(str(r) for r in msg.references))
    _sub(alert, "incidents", re.sub(r"[^A-Za-z0-9@._-]", "_", f"{msg.sender}.{msg.track}"))
    for part in msg.parts:
        for lang in part.texts:
            _info(alert, msg, part, lang)
    return alert


def validate(alert: etree._Element) -> None:
    """CapError unless the document is valid CAP 1.2 (schema plus the rules it leaves out)."""
    xsd = schema()
    if not xsd.validate(alert):
        raise CapError("not valid CAP 1.2: " + "; ".join(str(xsd.error_log).splitlines()))
    for el in alert.iter(f"{{{CAP_NS}}}polygon"):
        check_polygon_text(el.text or "")
    refs = alert.find(f"{{{CAP_NS}}}references")
    if refs is not None:
        for ref in (refs.text or "").split():
            if len(ref.split(",")) != 3:
                raise CapError(f"reference {ref!r} is not 'sender,identifier,sent'")


def alert_xml(msg: AlertMessage) -> bytes:
    """The validated CAP document of a message, UTF-8 with an XML declaration."""
    alert = build_alert(msg)
    validate(alert)
    return bytes(etree.tostring(alert, xml_declaration=True, encoding="UTF-8", pretty_print=True))
