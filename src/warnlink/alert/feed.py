"""The alerts as a CAP Atom feed: served over HTTP (aiohttp) or written to a directory.

/alerts.atom lists the current message of every warning thread (the latest Alert,
Update or Cancel of each track), each entry linking to /alerts/{id}.xml, where every
message ever issued stays available; unknown ids are 404. The XML is rendered (and
validated, warnlink.alert.cap) once, when a message is added.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from lxml import etree

from warnlink.alert.cap import alert_xml
from warnlink.alert.lifecycle import AlertMessage

ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MEDIA_TYPE = "application/cap+xml"
ATOM_MEDIA_TYPE = "application/atom+xml"


@dataclass
class AlertStore:
    """Messages by id (with their CAP XML) and the current one per track."""

    title: str = "WarnLink public alerts"
    feed_id: str = "urn:warnlink:alerts"
    messages: dict[str, AlertMessage] = field(default_factory=dict)
    xml: dict[str, bytes] = field(default_factory=dict)
    current: dict[str, str] = field(default_factory=dict)  # track -> latest message id

    def add(self, messages: Iterable[AlertMessage]) -> None:
        """Render, validate and keep messages (CapError if one is invalid: none is kept)."""
        rendered = [(m, alert_xml(m)) for m in messages]
        for m, xml in rendered:
            self.messages[m.id] = m
            self.xml[m.id] = xml
            self.current[m.track] = m.id

    def atom(self, base_url: str = "") -> bytes:
        """The Atom feed of the current messages, newest first; links relative to base_url."""
        current = sorted(
            (self.messages[i] for i in self.current.values()),
            key=lambda m: (m.t, m.id),
            reverse=True,
        )
        feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})  # type: ignore[dict-item]
        etree.SubElement(feed, f"{{{ATOM_NS}}}id").text = self.feed_id
        etree.SubElement(feed, f"{{{ATOM_NS}}}title").text = self.title
        updated = current[0].sent if current else "1970-01-01T00:00:00+00:00"
        etree.SubElement(feed, f"{{{ATOM_NS}}}updated").text = updated
        author = etree.SubElement(feed, f"{{{ATOM_NS}}}author")
        name = current[0].sender_name if current else "WarnLink"
        etree.SubElement(author, f"{{{ATOM_NS}}}name").text = name
        etree.SubElement(feed, f"{{{ATOM_NS}}}link", rel="self", href=f"{base_url}/alerts.atom")
        for m in current:
            entry = etree.SubElement(feed, f"{{{ATOM_NS}}}entry")
            etree.SubElement(entry, f"{{{ATOM_NS}}}id").text = f"urn:warnlink:alert:{m.id}"
            first = m.parts[0].texts[next(iter(m.parts[0].texts))]
            title = f"{m.msg_type}: {first.headline}"
            etree.SubElement(entry, f"{{{ATOM_NS}}}title").text = title
            etree.SubElement(entry, f"{{{ATOM_NS}}}updated").text = m.sent
            etree.SubElement(entry, f"{{{ATOM_NS}}}summary").text = first.description
            etree.SubElement(
                entry, f"{{{ATOM_NS}}}link", rel="alternate", type=CAP_MEDIA_TYPE,
                href=f"{base_url}/alerts/{m.id}.xml",
            )  # fmt: skip
        return bytes(
            etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        )


def make_app(store: AlertStore) -> web.Application:
    """The HTTP application: /alerts.atom and /alerts/{id}.xml."""

    async def feed(request: web.Request) -> web.Response:
        base = f"{request.scheme}://{request.host}"
        return web.Response(body=store.atom(base), content_type=ATOM_MEDIA_TYPE, charset="utf-8")

    async def alert(request: web.Request) -> web.Response:
        xml = store.xml.get(request.match_info["id"])
        if xml is None:
            raise web.HTTPNotFound(text=f"no alert {request.match_info['id']!r}\n")
        return web.Response(body=xml, content_type=CAP_MEDIA_TYPE, charset="utf-8")

    app = web.Application()
    app.router.add_get("/alerts.atom", feed)
    app.router.add_get("/alerts/{id}.xml", alert)
    return app


async def serve(store: AlertStore, host: str = "127.0.0.1", port: int = 0) -> web.AppRunner:
    """Start serving in the running event loop; the caller cleans the runner up.

    port 0 picks a free port: `bound_port(runner)` tells which.
    """
    runner = web.AppRunner(make_app(store))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The TCP port a runner from serve() listens on."""
    for addr in runner.addresses:
        if isinstance(addr, tuple) and len(addr) >= 2:
            return int(addr[1])
    raise RuntimeError("the runner listens on no TCP port")


def write_feed(
    store: AlertStore, out: Path, base_url: str = ".", ids: Iterable[str] | None = None
) -> list[Path]:
    """The feed (alerts.atom) and the messages (alerts/{id}.xml) as files under out: every
    message, or only `ids` (those added since the last write: the rest are on disk)."""
    (out / "alerts").mkdir(parents=True, exist_ok=True)
    paths = []
    for mid in store.xml if ids is None else ids:
        xml = store.xml[mid]
        p = out / "alerts" / f"{mid}.xml"
        p.write_bytes(xml)
        paths.append(p)
    feed = out / "alerts.atom"
    feed.write_bytes(store.atom(base_url))
    return [feed, *paths]
