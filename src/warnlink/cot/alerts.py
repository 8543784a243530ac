"""Public warnings (warnlink.alert messages) as CoT, for TAK users beside the CAP feed.

One CoT alert per warning thread (authority and threat), not per CAP message: the uid
is the thread's, so each Update redraws the same marker and areas on a TAK map instead of
piling up, and a message that leaves no region warned (passed, fell, lifted, all-clear)
ends the alarm with a cancel event.
"""

from __future__ import annotations

from datetime import datetime

from warnlink.alert.cap import region_cap_polygons
from warnlink.alert.lifecycle import ACTIVE_STAGES, AlertMessage
from warnlink.cot.events import CotEvent, Polygon, alert_cancel_event, alert_events
from warnlink.geo.regions import Region


def _rings(region: Region) -> list[Polygon]:
    """A region's CAP polygons (the ones its CAP areas carry) as (lat, lon) rings."""
    return [
        [(float(lat), float(lon)) for lon, lat in p.exterior.coords[:-1]]
        for p in region_cap_polygons(region)
    ]


def thread_id(msg: AlertMessage) -> str:
    """The CoT alert id of the warning thread a message belongs to."""
    return f"{msg.sender}.{msg.track}"


def message_events(msg: AlertMessage, now: datetime | None = None) -> list[CotEvent]:
    """The CoT events of one warning message: the areas still warned and the alarm marker,
    or the cancel of the alarm when none is. With `now`, the events are issued then
    (an exercise's messages carry scenario instants, which TAK clients would drop as
    stale), and expire as long after as the message does."""
    part = msg.parts[0]
    headline = next(iter(part.texts.values())).headline
    sent = datetime.fromisoformat(msg.sent)
    issued = now or sent
    expires = issued + (datetime.fromisoformat(msg.expires) - sent)
    warned = [r for p in msg.parts if p.stage in ACTIVE_STAGES for r in p.risks]
    if msg.msg_type == "Cancel" or not warned:
        at = next(iter(warned or [r for p in msg.parts for r in p.risks]), None)
        lat, lon = (0.0, 0.0) if at is None else _anchor(at.region)
        return [alert_cancel_event(thread_id(msg), headline, issued, lat, lon)]
    polygons = [ring for r in warned for ring in _rings(r.region)]
    return alert_events(thread_id(msg), headline, polygons, issued, expires)


def _anchor(region: Region) -> tuple[float, float]:
    """A point inside the region (an alarm's cancel is placed there)."""
    point = region.geometry.representative_point()
    return float(point.y), float(point.x)
