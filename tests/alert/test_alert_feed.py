"""The Atom feed over a real socket, and written to a directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from alert_support import AKITA, EPOCH, IWATE, boosting, falling_on, policy
from lxml import etree

from warnlink.alert.cap import CAP_NS
from warnlink.alert.feed import ATOM_NS, AlertStore, bound_port, serve, write_feed
from warnlink.alert.lifecycle import Authority

A = {"a": ATOM_NS}


def _store() -> AlertStore:
    auth = Authority(policy(), EPOCH, exercise=True)
    auth.update(boosting(5.0, track="A"))
    auth.update(falling_on(*AKITA, t=20.0, track="A"))
    auth.update(falling_on(*IWATE, t=21.0, track="B"))
    store = AlertStore()
    store.add(auth.messages)
    return store


def test_feed_served_over_http() -> None:
    store = _store()

    async def go() -> tuple[bytes, int, bytes, int, str]:
        runner = await serve(store, "127.0.0.1", 0)
        try:
            base = f"http://127.0.0.1:{bound_port(runner)}"
            async with aiohttp.ClientSession() as s:
                async with s.get(f"{base}/alerts.atom") as r:
                    feed, feed_status = await r.read(), r.status
                feed_doc = etree.fromstring(feed)
                href = feed_doc.xpath("//a:entry/a:link/@href", namespaces=A)[0]
                async with s.get(href) as r:
                    cap, cap_status, ctype = await r.read(), r.status, r.content_type
                async with s.get(f"{base}/alerts/nope.xml") as r:
                    missing = r.status
        finally:
            await runner.cleanup()
        return feed, feed_status, cap, cap_status * 1000 + missing, ctype

    feed, feed_status, cap, statuses, ctype = asyncio.run(go())
    assert feed_status == 200 and statuses == 200 * 1000 + 404
    assert ctype == "application/cap+xml"
    doc = etree.fromstring(feed)
    entries = doc.findall("a:entry", A)
    assert len(entries) == 2  # the current message of each track
    current = {store.current["A"], store.current["B"]}
    hrefs = doc.xpath("//a:entry/a:link/@href", namespaces=A)
    assert {h.rsplit("/", 1)[1].removesuffix(".xml") for h in hrefs} == current
    alert = etree.fromstring(cap)
    assert alert.tag == f"{{{CAP_NS}}}alert"
    assert alert.findtext(f"{{{CAP_NS}}}identifier") in current


def test_feed_written_to_a_directory(tmp_path: Path) -> None:
    store = _store()
    paths = write_feed(store, tmp_path)
    assert paths[0] == tmp_path / "alerts.atom"
    assert len(paths) == 1 + len(store.messages)
    doc = etree.parse(str(tmp_path / "alerts.atom"))
    for href in doc.xpath("//a:entry/a:link/@href", namespaces=A):
        assert (tmp_path / href).is_file()  # relative links resolve inside the directory
