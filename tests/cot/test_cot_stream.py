"""The streamer: bounded queue policy, delivery, reconnection, and the `warnlink cot` command."""

from __future__ import annotations

import asyncio
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cot_support import EPOCH, Sink, estimate, impact_point

from warnlink.cli import main
from warnlink.cot.events import CotEvent, CotOptions, alert_events, track_event
from warnlink.cot.stream import CotStreamer, EventQueue, TakServer, parse_server, replay_estimates
from warnlink.formats.jsonl import write_jsonl

OPTIONS = CotOptions(party="KR")


def _track(i: int) -> CotEvent:
    return track_event(estimate(t=float(i), track=f"T{i}"), EPOCH, OPTIONS)


def _alert(i: int) -> list[CotEvent]:
    return alert_events(
        f"A{i}",
        "take shelter",
        [[(35.0, 139.0), (35.0, 140.0), (36.0, 140.0)]],
        EPOCH,
        EPOCH + timedelta(minutes=5),
        marker=False,
    )


def test_queue_drops_the_oldest_track_update_never_an_alert() -> None:
    q = EventQueue(3)
    alert = _alert(0)[0]
    t1, t2, t3, t4 = (_track(i) for i in range(1, 5))
    q.put(t1)
    q.put(alert)
    q.put(t2)
    assert q.put(t3) is t1
    assert q.put(t4) is t2
    assert [e.uid for e in q.items()] == [alert.uid, t3.uid, t4.uid]
    # full of alerts: grows instead of dropping one
    q2 = EventQueue(2)
    alerts = [a for i in range(4) for a in _alert(i)]
    for a in alerts:
        assert q2.put(a) is None
    assert len(q2) == 4 and q2.dropped == 0
    assert q.dropped == 2


def test_parse_server() -> None:
    assert parse_server("127.0.0.1:8087") == ("127.0.0.1", 8087)
    assert parse_server("[::1]:8089") == ("::1", 8089)
    for bad in ("host", "host:", ":80", "h:99999", "h:x"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_server(bad)


async def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


def test_streams_events_and_reconnects_after_the_server_drops_it() -> None:
    async def scenario() -> None:
        sink = Sink()
        port = await sink.start()
        streamer = CotStreamer(TakServer("127.0.0.1", port), backoff_s=0.05, backoff_max_s=0.2)
        streamer.start()
        first = [_track(i) for i in range(5)]
        streamer.send_all(first)
        assert await streamer.flush(10.0)
        await _wait_for(lambda: len(sink.events()) == 5)
        # the server goes away: events wait in the queue, then go out on the new connection
        await sink.stop()
        later = _alert(9) + [_track(i) for i in range(5, 8)]
        await asyncio.sleep(0.1)
        streamer.send_all(later)
        await asyncio.sleep(0.3)
        await sink.start(port)
        await _wait_for(lambda: len(sink.events()) >= 9)
        await streamer.close()
        await sink.stop()
        uids = [ET.fromstring(d).get("uid") for d in sink.events()]
        assert uids[:5] == [e.uid for e in first]
        # every event after the outage arrives (a write that failed on the dead connection
        # is resent, so one may come twice, never none)
        assert {e.uid for e in later} <= set(uids[5:])
        assert streamer.stats.connects >= 2

    asyncio.run(scenario())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_replays_an_estimates_file(tmp_path: Path) -> None:
    path = tmp_path / "estimates.jsonl"
    write_jsonl(
        path,
        [
            estimate(t=10.0, status="tentative"),
            estimate(t=10.5, impact=impact_point(300.0, 39.0, 140.0)),
            estimate(t=11.0, track="T2"),
            estimate(t=11.5, status="deleted"),
        ],
    )

    async def scenario() -> list[bytes]:
        sink = Sink()
        port = await sink.start()
        code = await asyncio.to_thread(
            main,
            [
                "cot",
                "--estimates",
                str(path),
                "--server",
                f"127.0.0.1:{port}",
                "--party",
                "US",
                "--speed",
                "0",
            ],
        )
        assert code == 0
        await _wait_for(lambda: len(sink.events()) == 3)
        await sink.stop()
        return sink.events()

    docs = [ET.fromstring(d) for d in asyncio.run(scenario())]
    assert [(d.get("uid"), d.get("type")) for d in docs] == [
        ("warnlink.US.T1", "a-h-A-W-M-S-S"),
        ("warnlink.US.T1.impact", "u-d-c-e"),
        ("warnlink.US.T2", "a-h-A-W-M-S-S"),
    ]


def test_cli_reports_an_unreachable_server_and_does_not_hang(tmp_path: Path) -> None:
    path = tmp_path / "estimates.jsonl"
    write_jsonl(path, [estimate(t=i * 0.01, track=f"T{i % 7}") for i in range(1500)])
    port = _free_port()
    start = time.monotonic()
    args = ["cot", "--estimates", str(path), "--server", f"127.0.0.1:{port}", "--speed", "0"]
    assert main([*args, "--flush", "0.5"]) == 1
    # the queue fills once: the replay waits for room once (5 s), then drops, not per line
    assert time.monotonic() - start < 30.0


def test_replay_as_fast_as_possible_waits_for_the_link_instead_of_dropping(tmp_path: Path) -> None:
    path = tmp_path / "estimates.jsonl"
    n = 3000  # three times the queue
    write_jsonl(path, [estimate(t=i * 0.01, track=f"T{i % 7}") for i in range(n)])

    async def scenario() -> tuple[int, int]:
        sink = Sink()
        port = await sink.start()
        streamer = CotStreamer(TakServer("127.0.0.1", port))
        streamer.start()
        queued = await replay_estimates(path, streamer, OPTIONS, EPOCH, speed=0.0)
        assert await streamer.flush(30.0)
        await _wait_for(lambda: len(sink.events()) == n)
        await streamer.close()
        await sink.stop()
        return queued, streamer.queue.dropped

    assert asyncio.run(scenario()) == (n, 0)


def test_replay_uses_the_runs_epoch_or_now_and_paces_by_time(tmp_path: Path) -> None:
    path = tmp_path / "estimates.jsonl"
    write_jsonl(path, [estimate(t=50.0), estimate(t=50.2, track="T2")])

    async def replay(epoch: datetime | None, speed: float) -> tuple[list[CotEvent], float]:
        streamer = CotStreamer(TakServer("127.0.0.1", 9))  # never started: events stay queued
        start = time.monotonic()
        await replay_estimates(path, streamer, OPTIONS, epoch, speed)
        return streamer.queue.items(), time.monotonic() - start

    events, _ = asyncio.run(replay(EPOCH, 0.0))
    assert [ET.fromstring(e.to_bytes()).get("time") for e in events] == [
        "2026-12-03T05:00:50.000Z",
        "2026-12-03T05:00:50.200Z",
    ]
    before = datetime.now(UTC)
    events, took = asyncio.run(replay(None, 1.0))
    first = datetime.fromisoformat(
        (ET.fromstring(events[0].to_bytes()).get("time") or "").replace("Z", "+00:00")
    )
    assert abs((first - before).total_seconds()) < 2.0  # live: the first estimate is now
    assert took >= 0.19  # 0.2 s of scenario time at speed 1


def test_cli_sends_an_authoritys_public_warnings_as_cot_alerts(tmp_path: Path) -> None:
    """With --policy the replay also runs the estimates through the authority: a warning
    of Akita draws its area and raises the alarm; the correction to the open Pacific
    cancels the alarm of the same uid (one CoT alert per warning thread)."""
    path = tmp_path / "estimates.jsonl"
    akita, far = (39.72, 140.10), (39.6, 163.0)
    down = (0.0, 0.0, -1500.0)
    write_jsonl(path, [
        estimate(t=20.0, lat=akita[0], lon=akita[1], alt=30e3, vel_enu=down,
                 impact=impact_point(40.0, *akita)),
        estimate(t=30.0, lat=far[0], lon=far[1], alt=30e3, vel_enu=down,
                 impact=impact_point(50.0, *far)),
    ])  # fmt: skip
    policy = Path(__file__).resolve().parents[2] / "docs" / "policies" / "jp.toml"

    async def scenario() -> list[bytes]:
        sink = Sink()
        port = await sink.start()
        args = ["cot", "--estimates", str(path), "--server", f"127.0.0.1:{port}",
                "--party", "JP", "--speed", "0", "--policy", str(policy)]  # fmt: skip
        assert await asyncio.to_thread(main, args) == 0
        await _wait_for(lambda: any(b"b-a-o-can" in e for e in sink.events()))
        await sink.stop()
        return sink.events()

    docs = [ET.fromstring(d) for d in asyncio.run(scenario())]
    alerts = [d for d in docs if d.get("uid", "").startswith("warnlink.alert.")]
    marker, cancel = (d for d in alerts if "area" not in d.get("uid", ""))
    assert marker.get("type") == "b-a-o-c" and cancel.get("type") == "b-a-o-can"
    assert marker.get("uid") == cancel.get("uid")  # the same alarm, ended
    areas = [d for d in alerts if ".area." in d.get("uid", "")]
    assert areas and all(d.get("type") == "u-d-f" for d in areas)
    lats = [float(p.split(",")[0]) for d in areas for lk in d.iter("link")
            if (p := lk.get("point"))]  # fmt: skip
    assert min(lats) > 38.8 and max(lats) < 40.6  # Akita prefecture, not all of Japan
