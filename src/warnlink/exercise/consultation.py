"""The consultation in an exercise: each party's channel on its own node, convened by the
party itself when its public alerting warns of impact on, or overflight of, its own
territory, with simulated principals who answer.

The hub takes one connection per party, so the channel (`consult.channel.ChannelService`)
shares the party process's node: the party hands it the inbox rows of kind CONSULTATION
and the channel's own work (escalation deadlines, hotline tests, the keeper's
sequencing) runs in the party's event loop. Principals are simulated: each acknowledges
a page and approves a partner's proposal `ack_delay_s` after it comes, except the leader
of `silent_leader`, who never answers, so that the page to the alternate is seen. The
party that convened proposes a requested action once every party has answered (or could
not be reached); the others approve it, so a joint decision lands in every party's log.

Times in the plan are scenario seconds; the channel's clock is wall time, so they are
divided by the speed. A clock held for a slow party (docs/exercise.md) stretches scenario
time but not these wall deadlines: a principal then has less scenario time than planned.
Hotline test timeouts are not scaled at all: they measure the channel, which runs at wall
speed, and a short one at a high speed would report a loaded machine as a failing link.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from warnlink.consult import wire
from warnlink.consult.channel import ChannelService
from warnlink.consult.commands import KDF
from warnlink.consult.convene import convene_reason, should_convene
from warnlink.consult.escalation import Status
from warnlink.consult.setup import PASSPHRASE_ENV, ChannelConfig, init_party
from warnlink.exchange.node import HubAddress, Node
from warnlink.exchange.node_store import Received
from warnlink.exercise.plan import CONSULT_DIR, AlertRecord, ConsultPlan, ConsultWhat, PartyPlan

PRINCIPALS = ["leader", "alternate"]
DEVICE = "desk"
CONVENE_STAGES = ("impact_expected", "overflight_expected")

Tell = Callable[..., None]
"""The party's recorder: tell(what: ConsultWhat, text, **ConsultRecord fields)."""


def device_of(party: str, principal: str) -> str:
    """The device's name as its party's principals know it (its id says nothing)."""
    return f"{party}/{principal}/{DEVICE}"


def init_consultation(
    pki: Path, dirs: dict[str, Path], passphrase: str, speed: float, keeper: str,
    silent_leader: str | None, consultation: str = "exercise",
) -> dict[str, ConsultPlan]:  # fmt: skip
    """Every party's devices and signed roster (`warnlink consult init`), under a throwaway
    passphrase and the cheapest KDF, like the exercise's throwaway PKI."""
    members = sorted(dirs)
    out = {}
    for party, d in dirs.items():
        plan = ConsultPlan(consultation, members, keeper, PRINCIPALS, silent_leader=silent_leader)
        init_party(
            pki, party, d / CONSULT_DIR, consultation, members, keeper,
            [(p, [DEVICE]) for p in PRINCIPALS], passphrase, [plan.ack_timeout_s / speed],
            KDF["min"],
        )  # fmt: skip
        out[party] = plan
    return out


class PartyConsultation:
    """One party's channel in its exercise process, and its simulated principals."""

    def __init__(self, plan: PartyPlan, node: Node, tell: Tell) -> None:
        assert plan.consult is not None and plan.pki is not None and plan.hub is not None
        self.cp = cp = plan.consult
        self.party = plan.party
        self.speed = plan.speed
        self.tell = tell
        cfg = ChannelConfig(
            Path(plan.pki), plan.party, HubAddress.parse(plan.hub),
            Path(plan.data) / CONSULT_DIR, os.environ[PASSPHRASE_ENV],
            test_interval=cp.test_interval_s / plan.speed, test_timeout=cp.test_timeout_wall_s,
        )  # fmt: skip
        self.service = ChannelService(cfg, node=node)
        self.service.listeners.append(self._on_event)
        policy = plan.alert_policy or {}
        self.countries: list[str] = list(policy.get("countries", []))
        self.threats: set[str] = set()
        """System tracks (one per threat, as the alerting joins them) convened for."""
        self.ours: dict[str, str] = {}
        """Requests this party convened (by itself or by hand) -> their reason."""
        self.decided: set[str] = set()
        self.failing: set[str] = set()
        """Parties whose hotline test failed and has not been answered since."""

    def speaker(self) -> str:
        """The principal who acts for the party: its leader, unless the leader is silent."""
        silent = self.cp.silent_leader == self.party
        return self.cp.principals[1 if silent and len(self.cp.principals) > 1 else 0]

    def _later(self, what: Callable[[], Any]) -> None:
        """After the simulated principal's delay, in wall time."""
        asyncio.get_running_loop().call_later(self.cp.ack_delay_s / self.speed, what)

    # -- the party's side ------------------------------------------------------------

    def alerts(self, records: Sequence[AlertRecord]) -> None:
        """Convene when a warning first names our own regions for impact or overflight
        (should_convene on the alert policy's countries); a further threat to them (another
        missile, or warhead and stage warned apart) is told to the consultation already
        convened, not convened again."""
        for r in records:
            regions = [g.region for g in r.regions if g.stage in CONVENE_STAGES]
            if r.msg_type == "Cancel" or r.track in self.threats:
                continue
            if should_convene(self.countries, regions):
                reason = f"{convene_reason(self.countries, regions)} (threat {r.track})"
                device = self.service.resolve(device_of(self.party, self.speaker()))
                if self.threats:
                    self.service.send(device, wire.Chat(f"also {reason}"))
                else:
                    self.service.convene(device, reason, [self.cp.ack_timeout_s / self.speed])
                self.threats.add(r.track)

    def take(self, row: Received) -> None:
        self.service.take(row)

    async def run(self) -> None:
        await self.service.run(own_node=False)

    def close(self) -> None:
        self.service.close()

    # -- what the channel does --------------------------------------------------------

    def _on_event(self, name: str, f: dict[str, Any]) -> None:
        handler = _EVENTS.get(name)
        if handler is not None:
            handler(self, f)

    def _convened(self, f: dict[str, Any]) -> None:
        by, request = str(f["by"]), str(f["request"])
        if by.split("/", 1)[0] == self.party:
            self.ours[request] = str(f["reason"])
        self._tell("convened", f"consultation convened by {by}: {f['reason']}",
                   request=request, who=by, detail=str(f["reason"]))  # fmt: skip

    def _paged(self, f: dict[str, Any]) -> None:
        if f["party"] != self.party:
            return
        principal, request, rank = str(f["principal"]), str(f["request"]), int(f["rank"])
        if rank > 0:
            self._tell("escalated", f"{principal} paged: {self.cp.principals[rank - 1]} did not "
                       f"acknowledge in {self.cp.ack_timeout_s:g} s", request=request,
                       who=principal)  # fmt: skip
        if not (rank == 0 and self.cp.silent_leader == self.party):
            self._later(lambda: self._answer(request, principal))

    def _answer(self, request: str, principal: str) -> None:
        esc = self.service.escalations.get(request)
        if esc is not None and esc.status(self.party) is Status.WAITING:
            self.service.store.enqueue(device_of(self.party, principal), "ack", request=request)

    def _acknowledged(self, f: dict[str, Any]) -> None:
        if f["party"] == self.party:
            who, after = str(f["principal"]), float(f["after_s"]) * self.speed
            self._tell("acknowledged", f"acknowledged by {who} after {after:.0f} s",
                       request=str(f["request"]), who=who, after_s=after)  # fmt: skip
        self._decide_when_answered()

    def _alarm(self, f: dict[str, Any]) -> None:
        party, reason, detail = str(f["party"]), str(f["reason"]), str(f["detail"])
        text = (f"channel test to {party} failed ({detail})" if reason == "channel_test_failed"
                else f"alarm about {party}: {reason} ({detail})")  # fmt: skip
        self._tell("alarm", text, who=party, detail=f"{reason}: {detail}")
        if reason == "channel_test_failed":
            self.failing.add(party)
        self._decide_when_answered()

    def _channel_ok(self, f: dict[str, Any]) -> None:
        party = str(f["party"])
        if party in self.failing:
            self.failing.discard(party)
            self._tell("restored", f"channel to {party} answers tests again", who=party)

    def _decide_when_answered(self) -> None:
        """Our request answered by every party (or past its last deadline): propose."""
        for request, reason in self.ours.items():
            esc = self.service.escalations.get(request)
            if request in self.decided or esc is None or not esc.done:
                continue
            self.decided.add(request)
            self.service.store.enqueue(
                device_of(self.party, self.speaker()), "decide", category="requested_action",
                summary=f"{self.party} warns its public ({reason}); partners keep their "
                "tracks of the threat coming", parties=self.service.members,
                detail=reason, action="release tracks and estimates of the threat to "
                f"{self.party} until impact",
            )  # fmt: skip

    def _proposed(self, f: dict[str, Any]) -> None:
        proposal, author = str(f["proposal"]), str(f["author"])
        self._tell("proposed", f"decision proposed by {author}: {f['summary']}",
                   request=proposal, who=author, detail=str(f["summary"]))  # fmt: skip
        if author != self.party:
            device = device_of(self.party, self.speaker())
            self._later(lambda: self.service.store.enqueue(device, "approve", proposal=proposal))

    def _signed(self, f: dict[str, Any]) -> None:
        self._tell("signed", f"signed decision {f['proposal']} (log entry {f['index']})",
                   request=str(f["proposal"]))  # fmt: skip

    def _logged(self, f: dict[str, Any]) -> None:
        self._tell("logged", f"joint decision in the decision log (entry {f['index']})",
                   request=str(f.get("proposal", "")), detail=str(f["index"]))  # fmt: skip

    def _tell(self, what: ConsultWhat, text: str, **fields: Any) -> None:
        self.tell(what, text, **fields)


_EVENTS: dict[str, Callable[[PartyConsultation, dict[str, Any]], None]] = {
    "consult_convened": PartyConsultation._convened,
    "consult_page": PartyConsultation._paged,
    "consult_acknowledged": PartyConsultation._acknowledged,
    "consult_alarm": PartyConsultation._alarm,
    "consult_channel_ok": PartyConsultation._channel_ok,
    "consult_proposal": PartyConsultation._proposed,
    "consult_signed": PartyConsultation._signed,
    "consult_logged": PartyConsultation._logged,
}
