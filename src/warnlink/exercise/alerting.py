"""A party's public alerting in the exercise: its fused picture through its authority,
and (with --tak) the picture and its warnings as CoT to a TAK server.

Every fused picture goes through the party's warnlink.alert Authority; each message it
issues is rendered and validated as CAP 1.2, written (CAP_DIR: the Atom feed and one file
per alert, rewritten as they come), recorded in ALERTS for the metrics, and served over
HTTP on loopback while the exercise runs, as a public feed would be.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from warnlink.alert import AlertMessage, AlertStore, Authority, write_feed
from warnlink.alert.feed import bound_port, serve
from warnlink.alert.policy import policy_from_dict
from warnlink.cot.alerts import message_events
from warnlink.cot.events import CotOptions, estimate_events
from warnlink.cot.stream import CotStreamer, TakServer, parse_server
from warnlink.exercise.plan import CAP_DIR, AlertRecord, AlertRegion, PartyPlan
from warnlink.formats.records import Estimate


def record(m: AlertMessage, wall: float, picture_wall: float, known_t: float) -> AlertRecord:
    """What the metrics and the timeline need of a message: its regions, stage by stage."""
    return AlertRecord(
        wall=wall, picture_wall=picture_wall, known_t=known_t, id=m.id, msg_type=m.msg_type,
        stage=m.stage, track=m.track, references=len(m.references),
        regions=[AlertRegion(r.region.id, p.stage, list(r.why)) for p in m.parts for r in p.risks],
    )  # fmt: skip


def summary(r: AlertRecord) -> str:
    """One timeline line: type, stage and the regions of each stage."""
    by_stage: dict[str, list[str]] = {}
    for reg in r.regions:
        by_stage.setdefault(reg.stage, []).append(reg.region)
    parts = [
        f"{stage} {', '.join(ids) if len(ids) <= 5 else f'{len(ids)} regions'}"
        for stage, ids in by_stage.items()
    ]
    return f"{r.msg_type} {r.track}: " + ("; ".join(parts) or r.stage)


class PartyAlerting:
    """The authority, its validated CAP store and the feed, for one party process."""

    def __init__(self, plan: PartyPlan, data: Path) -> None:
        assert plan.alert_policy is not None
        self.policy = policy_from_dict(plan.alert_policy)
        epoch = datetime.fromisoformat(plan.epoch)
        self.authority = Authority(self.policy, epoch, exercise=True)
        self.store = AlertStore(title=f"WarnLink exercise alerts: {self.policy.sender_name}")
        self.out = data / CAP_DIR
        self.runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Serve the feed on a free loopback port; returns its address."""
        self.runner = await serve(self.store)
        return f"http://127.0.0.1:{bound_port(self.runner)}/alerts.atom"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def picture(
        self, estimates: Sequence[Estimate], t: float, picture_wall: float
    ) -> tuple[list[AlertMessage], list[AlertRecord]]:
        """The messages one fused picture (estimates at scenario time t) makes the authority
        issue, validated (CapError if one is not valid CAP: nothing is half-published)."""
        messages: list[AlertMessage] = []
        for e in estimates:
            messages += self.authority.update(e)
        messages += self.authority.advance(t)
        if not messages:
            return [], []
        self.store.add(messages)
        wall = time.time()
        write_feed(self.store, self.out, ids=[m.id for m in messages])
        return messages, [record(m, wall, picture_wall, t) for m in messages]


class TakFeed:
    """A party's fused tracks, impact ellipses and public warnings, streamed live as CoT.

    CoT times are wall-clock instants (a picture at scenario time t is shown as now), so
    that TAK clients do not drop the events as stale at any --speed.
    """

    FLUSH_S = 5.0  # at the end, wait this long for the queue to drain

    def __init__(self, plan: PartyPlan) -> None:
        assert plan.tak is not None
        self.options = CotOptions(party=plan.party)
        self.streamer = CotStreamer(TakServer(*parse_server(plan.tak)))

    def picture(self, estimates: Sequence[Estimate], t: float) -> None:
        epoch = datetime.now(UTC) - timedelta(seconds=t)  # scenario time t shown as now
        for e in estimates:
            self.streamer.send_all(estimate_events(e, epoch, self.options))

    def warnings(self, messages: Sequence[AlertMessage]) -> None:
        now = datetime.now(UTC)
        for m in messages:
            self.streamer.send_all(message_events(m, now))

    async def close(self) -> None:
        await self.streamer.flush(self.FLUSH_S)
        await self.streamer.close()
