"""Delivery policy with real processes: intelligence reports released only where labelled,
warnings overtaking a backlog, and a stalled party that costs nobody else anything."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import Federation, RawClient, wait_for

from warnlink.exchange import intel
from warnlink.exchange.envelope import Kind
from warnlink.exchange.node import HubAddress, query


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _lag(fed: Federation, party: str) -> float:
    """The hub's Prometheus gauge of messages stored for `party` and not acknowledged."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{fed.metrics_port}/metrics").read()
    key = f'warnlink_hub_lag_messages{{party="{party}"}} '
    line = next(x for x in text.decode().splitlines() if x.startswith(key))
    return float(line.split()[-1])


def test_intel_reports_are_listed_and_fetched_only_where_released(
    federation: Federation,
) -> None:
    fed = federation
    fed.start_hub()
    for party in ("KR", "US", "JP"):
        fed.start_node(party)
    body = os.urandom(5 * 2**20)
    report = intel.IntelReport("Launch site activity", "application/octet-stream", body)
    fed.publish("KR", [(Kind.INTEL_REPORT, ["US"], intel.encode(report))])
    us = fed.store("US")
    wait_for(lambda: us.inbox_count() == 1, 30, "the 5 MB report to reach US")
    assert intel.decode(us.inbox()[0].envelope.payload).body == body

    async def look(party: str) -> tuple[list[str], list[bytes | None]]:
        hub = HubAddress("127.0.0.1", fed.port)
        async with query(fed.pki, party, hub) as q:
            listed = await q.list_reports()
            got = [await q.fetch(r.id) for r in listed]
            ghost = await q.fetch(us.inbox()[0].envelope.id)
        return [r.title for r in listed], [
            intel.decode(e.payload).body if e else None for e in [*got, ghost]
        ]

    assert asyncio.run(look("US")) == (["Launch site activity"], [body, body])
    assert asyncio.run(look("KR")) == (["Launch site activity"], [body, body])
    assert asyncio.run(look("JP")) == ([], [None]), "JP saw a report not released to it"
    assert fed.store("JP").inbox_count() == 0


def test_a_warning_overtakes_a_backlog_of_track_reports(federation: Federation) -> None:
    fed = federation
    fed.start_hub()
    fed.start_node("KR")
    backlog = [(Kind.TRACK_REPORT, ["US"], os.urandom(300)) for _ in range(5000)]
    fed.publish("KR", backlog)
    fed.publish("KR", [(Kind.WARNING, ["US"], b"take shelter")])
    kr = fed.store("KR")
    wait_for(lambda: kr.outbox_counts()["acked"] == 5001, 60, "KR's messages to be stored")
    assert _lag(fed, "US") == 5001, "an offline party's backlog should show as its lag"
    fed.start_node("US")
    us = fed.store("US")
    wait_for(lambda: us.inbox_count() == 5001, 60, "US to catch up")
    order = [r.envelope.kind for r in us.inbox(0, 6000)]
    position = order.index(Kind.WARNING)
    # the warning was published last, behind 5,000 reports; it may wait for at most the
    # one batch of reports the hub was already writing (512)
    assert position <= 512, f"the warning arrived {position}th"


def test_a_stalled_party_delays_nobody_and_catches_up_from_disk(
    federation: Federation,
) -> None:
    fed = federation
    hub = fed.start_hub("--idle-timeout", "120")
    fed.start_node("KR")
    fed.start_node("US")

    async def stall_then_publish() -> list[float]:
        """Hub memory (MiB) after each of two rounds of 10 MB for JP, which never reads."""
        async with RawClient(fed, "JP") as jp:  # JP connects and never reads again
            await jp.hello()
            assert hub.popen is not None
            us = fed.store("US")
            rss = []
            for sent in (5_000, 10_000):
                for _ in range(5):
                    fed.publish("KR", [(Kind.TRACK_REPORT, ["JP", "US"], os.urandom(2000))
                                       for _ in range(1000)])  # fmt: skip
                started = time.monotonic()
                while us.inbox_count() < sent:
                    assert time.monotonic() - started < 60, "US was held up by the stalled JP"
                    await asyncio.sleep(0.1)
                rss.append(_rss_kib(hub.popen.pid) / 1024)
            assert _lag(fed, "JP") == 10_000, "the stalled party's lag should show"
            return rss

    after_10mb, after_20mb = asyncio.run(stall_then_publish())
    # the second 10 MB for the stalled JP must not grow the hub: it holds one batch of
    # JP's backlog, not the backlog (the first round sets the allocator's high-water mark)
    assert after_20mb - after_10mb < 5, (
        f"the hub grew from {after_10mb:.0f} to {after_20mb:.0f} MiB for a stalled party"
    )
    fed.start_node("JP")
    jp = fed.store("JP")
    wait_for(lambda: jp.inbox_count() == 10_000, 60, "JP to catch up from the hub's disk")
    wait_for(lambda: _lag(fed, "JP") == 0, 10, "JP's lag to fall to zero")


@pytest.mark.parametrize("party", ["US"])
def test_what_is_published_while_the_hub_is_down_arrives_when_it_returns(
    federation: Federation, party: str
) -> None:
    fed = federation
    hub = fed.start_hub()
    fed.start_node("KR")
    fed.start_node(party)
    hub.stop()
    fed.publish("KR", [(Kind.WARNING, [party], b"while the hub was down")])
    time.sleep(1.0)
    assert fed.store("KR").outbox_counts()["pending"] == 1
    hub.start()
    us = fed.store(party)
    wait_for(lambda: us.inbox_count() == 1, 30, "the message to arrive after the restart")
    assert us.inbox()[0].envelope.payload == b"while the hub was down"


def _small_disk() -> None:
    """In the hub's process: files may not grow past 3 MB (the disk is full), and a write
    past it fails with EFBIG instead of killing the process."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (3 * 2**20, 3 * 2**20))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_a_full_disk_stops_the_hub_and_loses_nothing(federation: Federation) -> None:
    fed = federation
    hub = fed.start_hub(preexec=_small_disk)
    fed.start_node("KR")
    fed.start_node("US")
    sent = fed.publish("KR", [(Kind.TRACK_REPORT, ["US"], os.urandom(2000))] * 3000)
    assert hub.popen is not None
    assert hub.popen.wait(60) == 70, "the hub should stop when it cannot store"
    assert any(e["event"] == "store_failed" for e in hub.events())
    kr = fed.store("KR")
    counts = kr.outbox_counts()
    assert counts["pending"] > 0 and counts["rejected"] == 0
    us = fed.store("US")
    assert us.inbox_count() <= counts["acked"], "US got something the hub never acknowledged"
    fed.start_hub()  # the same data directory, now with room
    wait_for(lambda: us.inbox_count() == len(sent), 90, "every message after the restart")
    assert kr.outbox_counts() == {"pending": 0, "acked": len(sent), "rejected": 0}
