"""Getting attention: acknowledgement deadlines that page the next alternate, and the
hotline test that every other party must answer in time, or an alarm."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable

from warnlink.consult import wire
from warnlink.consult.core import ChannelCore
from warnlink.consult.crypto import ConsultError
from warnlink.consult.escalation import Acknowledged, Action, Escalation, Exhausted, Notify
from warnlink.consult.roster import Member
from warnlink.consult.setup import ChannelConfig
from warnlink.exchange.node import Node


class _Clock:
    """time.time, or a fixed reading while an escalation is rebuilt after a restart (at
    the time it started, then at each acknowledgement's time), so it keeps its deadlines."""

    def __init__(self, fixed: float | None = None) -> None:
        self.fixed = fixed

    def __call__(self) -> float:
        return time.time() if self.fixed is None else self.fixed


class Attention(ChannelCore):
    """Convening, acknowledgements and escalation; the hotline test."""

    def __init__(self, cfg: ChannelConfig, node: Node | None = None) -> None:
        super().__init__(cfg, node)
        self.escalations: dict[str, Escalation] = {}
        self.tests: dict[int, tuple[float, set[str]]] = {}
        """Hotline tests sent and not yet settled: number -> (sent at, parties to answer)."""
        self.channel: dict[str, str] = {p: "unknown" for p in self.members if p != self.party}
        self.last_ok: dict[str, float] = {}
        self._test_number = int(self.store.get("test_number", "0") or 0)
        self._next_test = time.time() + min(2.0, cfg.test_interval)
        self._restore_escalations()

    # -- convening and acknowledgements ---------------------------------------------------

    def convene(self, device: str, reason: str, timeouts: list[float] | None = None) -> str:
        """Ask every party's principals to acknowledge (for `should_convene`'s callers)."""
        request = secrets.token_hex(4)
        self.send(device, wire.Convene(request, reason, tuple(timeouts or self.ack_timeouts)))
        return request

    def _on_convene(self, frm: Member, body: wire.Convene) -> None:
        if body.request in self.escalations:
            return
        now = time.time()
        self.store.db.execute(
            "INSERT OR IGNORE INTO requests VALUES (?, ?, ?, ?, ?)",
            (body.request, body.reason, json.dumps(body.timeouts), now, frm.keys.device),
        )
        self._act(body.request, self._start_escalation(body.request, list(body.timeouts), now))
        self._event("consult_convened", party=self.party, request=body.request,
              by=frm.name, reason=body.reason)  # fmt: skip
        self._acknowledged(body.request, frm)  # asking is answering

    def _start_escalation(
        self, request: str, timeouts: list[float], started: float,
        acks: Iterable[tuple[str, str, float]] = (),
    ) -> list[Action]:  # fmt: skip
        """An escalation over the chains members know (holders lists) from `started`, with
        acknowledgements (party, principal, time) replayed at their times; the first pages."""
        clock = _Clock(started)
        esc = Escalation(self.primary().membership.chains(), timeouts, clock)
        actions = esc.start()
        for party, principal, at in acks:
            clock.fixed = at
            esc.acknowledge(party, principal)
        clock.fixed = None
        self.escalations[request] = esc
        return actions

    def _restore_escalations(self) -> None:
        """Rebuild the escalations a restart interrupted, with their deadlines and
        acknowledgements (the pages they sent then are not sent again)."""
        if not self.local() or not self.complete():
            return
        for request, timeouts, started in self.store.db.execute(
            "SELECT request, timeouts, started FROM requests"
        ).fetchall():
            acks = self.store.db.execute(
                "SELECT party, principal, at FROM acks WHERE request = ? ORDER BY at", (request,)
            ).fetchall()
            self._start_escalation(request, json.loads(timeouts), started, acks)

    def _on_ack(self, frm: Member, body: wire.Ack) -> None:
        self._acknowledged(body.request, frm)

    def _acknowledged(self, request: str, frm: Member) -> None:
        esc = self.escalations.get(request)
        if esc is None:
            return
        if frm.principal is None:
            raise ConsultError(f"{frm.name} answered before {frm.party} said whose device it is")
        principal = frm.principal.name
        self.store.db.execute(
            "INSERT OR IGNORE INTO acks VALUES (?, ?, ?, ?)",
            (request, frm.party, principal, time.time()),
        )
        self._act(request, esc.acknowledge(frm.party, principal))

    def _act(self, request: str, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, Notify):
                self._event("consult_page", party=a.party, principal=a.principal, rank=a.rank,
                      request=request, deadline=a.deadline, ours=a.party == self.party)  # fmt: skip
            elif isinstance(a, Acknowledged):
                self._event("consult_acknowledged", party=a.party, principal=a.principal,
                      request=request, after_s=round(a.after, 3))  # fmt: skip
            elif isinstance(a, Exhausted):
                self._alarm(a.party, "not_acknowledged", f"request {request}: nobody answered")

    # -- the hotline test -----------------------------------------------------------------

    def _test_tick(self, now: float) -> None:
        for number, (sent, waiting) in list(self.tests.items()):
            if not waiting:
                del self.tests[number]
            elif now > sent + self.cfg.test_timeout:
                for party in sorted(waiting):
                    self.channel[party] = "failing"
                    why = f"test {number} not answered in {self.cfg.test_timeout:g} s"
                    self._alarm(party, "channel_test_failed", why)
                del self.tests[number]
        if now >= self._next_test:
            self._next_test = now + self.cfg.test_interval
            self._test_number += 1
            self.store.put("test_number", str(self._test_number))
            self.tests[self._test_number] = (now, {p for p in self.members if p != self.party})
            self.send(self.primary().device, wire.Test(self._test_number))

    def _on_test(self, frm: Member, body: wire.Test) -> None:
        if frm.party != self.party:
            self.send(self.primary().device, wire.TestAck(frm.party, body.number))

    def _on_test_ack(self, frm: Member, body: wire.TestAck) -> None:
        pending = self.tests.get(body.number)
        if body.party != self.party or pending is None:
            return
        pending[1].discard(frm.party)
        if self.channel.get(frm.party) != "ok":
            self._event("consult_channel_ok", party=frm.party, test=body.number)
        self.channel[frm.party] = "ok"
        self.last_ok[frm.party] = time.time()
