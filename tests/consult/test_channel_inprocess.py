"""The channel service's rules, fast: three parties' services in one process, their
nodes never connected, each envelope handed from one outbox to the parties its label
names (the hub's routing, without the hub). test_channel.py runs the real processes."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import nacl.pwhash
import pytest

from warnlink.consult import wire
from warnlink.consult.channel import ChannelService
from warnlink.consult.crypto import ConsultError, GroupMessage, Sealed
from warnlink.consult.log import Decision, canonical, decode_record
from warnlink.consult.party_store import Command
from warnlink.consult.setup import ChannelConfig, init_party
from warnlink.exchange import pki
from warnlink.exchange.envelope import Envelope, Kind, decode, seal
from warnlink.exchange.node import HubAddress
from warnlink.exchange.node_store import PENDING
from warnlink.exchange.signing import Signer

PARTIES = {"KR": [("lee", ["phone"]), ("kim", ["phone"])], "JP": [("sato", ["desk"])],
           "US": [("smith", ["desk"])]}  # fmt: skip
PASS = "pass"
KDF = (nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN)


class Net:
    """The services and the routing between their outboxes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pki = root / "pki"
        pki.init_ca(self.pki)
        for party in PARTIES:
            pki.issue_party(self.pki, party)
        for party, principals in PARTIES.items():
            init_party(self.pki, party, root / party, "c-1", sorted(PARTIES), "KR", principals,
                       PASS, [0.3], KDF)  # fmt: skip
        self.svc = {p: self.open(p) for p in PARTIES}
        self.wire: list[bytes] = []
        """Every envelope routed, as the hub would store it."""
        self.held_back: dict[str, list[Envelope]] = {}
        """Group messages from these origins wait here instead of being delivered."""
        self.tamper: list[str] = []
        """Parties whose next group message from KR arrives with a flipped ciphertext."""

    def open(self, party: str) -> ChannelService:
        cfg = ChannelConfig(self.pki, party, HubAddress("127.0.0.1", 1), self.root / party, PASS,
                            test_interval=3600, test_timeout=1)  # fmt: skip
        svc = ChannelService(cfg)
        for p in PARTIES:
            svc.node.keys.add(Signer.load(self.pki, p).certificate_der)
        svc.start()
        return svc

    def settle(self, rounds: int = 20) -> None:
        """Tick every service and route every envelope until nothing moves."""
        for _ in range(rounds):
            moved = False
            for svc in self.svc.values():
                svc.tick()
                store = svc.node.store
                rows = [(e, s) for e, s in store.sent() if s == PENDING]
                for env, _ in rows:
                    self.wire.append(env.raw)
                    held = self.held_back.get(env.origin)
                    if held is not None and isinstance(wire.decode_frame(env.payload),
                                                       wire.GroupFrame):  # fmt: skip
                        held.append(env)
                        continue
                    for party in env.recipients():
                        self.svc[party].on_envelope(self._maybe_tamper(env, party))
                store.settle([e.seq for e, _ in rows], [])
                moved |= bool(rows)
            if not moved:
                return

    def release(self, origin: str) -> None:
        """Deliver what was held back from `origin`, in order."""
        for env in self.held_back.pop(origin):
            for party in env.recipients():
                self.svc[party].on_envelope(env)

    def id(self, name: str) -> str:
        """A device's opaque id from its name (party/principal/label), as its party has it."""
        return self.svc[name.split("/", 1)[0]].resolve(name)

    def _maybe_tamper(self, env: Envelope, party: str) -> Envelope:
        frame = wire.decode_frame(env.payload)
        if party not in self.tamper or not isinstance(frame, wire.GroupFrame):
            return env
        self.tamper.remove(party)
        msg = frame.message
        sealed = tuple(
            Sealed(s.device, s.type, s.ciphertext[:-1] + bytes([s.ciphertext[-1] ^ 1]))
            for s in msg.sealed
        )
        bad = wire.GroupFrame(GroupMessage(msg.consultation, msg.sender, sealed))
        signer = Signer.load(self.pki, env.origin)
        raw = seal(signer, seq=env.seq, kind=Kind.CONSULTATION, label=env.label,
                   payload=canonical(bad)).raw  # fmt: skip
        return decode(raw)


@pytest.fixture
def net(tmp_path: Path) -> Net:
    return Net(tmp_path)


def _texts(svc: ChannelService) -> list[str]:
    return [m["text"] for m in svc.status()["messages"]]


def test_tampered_ciphertext_raises_an_alarm_and_the_channel_carries_on(net: Net) -> None:
    net.settle()
    assert all(s.complete() for s in net.svc.values())
    net.tamper.append("JP")
    net.svc["KR"].send(net.id("KR/lee/phone"), wire.Chat("first"))
    net.settle()
    alarms = net.svc["JP"].store.alarms()
    assert [(p, r) for _, p, r, _ in alarms] == [("KR", "decryption_failed")]
    assert "first" not in _texts(net.svc["JP"]) and "first" in _texts(net.svc["US"])
    net.svc["KR"].send(net.id("KR/lee/phone"), wire.Chat("second"))
    net.settle()
    assert "second" in _texts(net.svc["JP"])


def test_escalation_keeps_its_deadlines_across_a_restart(net: Net) -> None:
    net.settle()
    request = net.svc["JP"].convene(net.id("JP/sato/desk"), "test", [0.3, 5])
    net.settle()
    esc = net.svc["KR"].escalations[request]
    assert esc.current("KR") == "lee"
    deadline = esc.next_deadline()
    net.svc["KR"].store.close()
    net.svc["KR"] = kr = net.open("KR")
    assert kr.escalations[request].next_deadline() == deadline
    time.sleep(0.35)
    kr.tick()
    assert kr.escalations[request].current("KR") == "kim"  # the alternate is paged


def test_a_signer_refuses_a_record_that_is_not_the_proposal(net: Net) -> None:
    net.settle()
    jp, kr = net.svc["JP"], net.svc["KR"]
    decision = Decision("decision", "evacuate Busan", ("JP", "KR"))
    jp.send(net.id("JP/sato/desk"), wire.Propose("p1", decision))
    net.settle()
    # KR (the keeper) sent a sign request; JP signed (it proposed), KR had not approved
    assert len(kr.log) == 0 and kr._open is not None
    record = kr._open.record
    assert decode_record(kr._open.data) == record
    forged = kr.log.new_record("JP", Decision("decision", "do nothing", ("JP", "KR")), 1)
    member = jp.member(net.id("KR/lee/phone"))
    assert member is not None
    jp._on_sign_request(member, wire.SignRequest("p1", canonical(forged)))
    assert ("KR", "bad_sign_request") in [(p, r) for _, p, r, _ in jp.store.alarms()]
    kr.approve("p1", net.id("KR/kim/phone"))
    net.settle()
    assert all(len(s.log) == 1 for s in net.svc.values())
    assert [s.party for s in next(iter(jp.log.entries()))[0].signatures] == ["JP", "KR"]


def test_a_receipt_must_be_signed_by_its_own_party(net: Net) -> None:
    net.settle()  # KR learns the others' keys
    body = wire.ReceiptBody("c-1", "JP", "read", ("JP/sato/desk",), (), 1)
    good = wire.sign_receipt(body, Signer.load(net.pki, "JP"))
    assert wire.open_receipt(good, net.svc["KR"].keys) == body
    forged = wire.sign_receipt(body, Signer.load(net.pki, "US"))
    with pytest.raises(wire.WireError, match="signed by US"):
        wire.open_receipt(forged, net.svc["KR"].keys)


def test_a_decision_names_members_and_earlier_entries(net: Net) -> None:
    kr = net.svc["KR"]
    for args, why in [({"parties": ["JP", "CN"]}, "must be members"),
                      ({"parties": ["KR"], "refs": [0]}, "the log has 0 entries")]:  # fmt: skip
        cmd = Command(1, "KR/lee/phone", "decide", {"category": "statement", "summary": "s",
                                                   **args})  # fmt: skip
        with pytest.raises(ConsultError, match=why):
            kr.run_command(cmd)


def test_members_learn_who_holds_which_device_and_the_wire_does_not(net: Net) -> None:
    net.settle()
    jp, us = net.svc["JP"], net.svc["US"]
    kr = jp.status()["members"]["KR"]["principals"]
    assert [(p["name"], p["role"], p["devices"]) for p in kr] == [
        ("lee", "leader", ["KR/lee/phone"]), ("kim", "alternate", ["KR/kim/phone"])
    ]  # fmt: skip
    net.svc["KR"].send(net.id("KR/kim/phone"), wire.Chat("from the alternate"))
    net.settle()
    assert jp.status()["messages"][-1]["sender"] == "KR/kim/phone"
    assert net.id("KR/kim/phone") != "KR/kim/phone"
    wire_bytes = b"".join(net.wire)
    assert net.id("KR/kim/phone").encode() in wire_bytes  # what routing needs is there
    for name in ("lee", "kim", "sato", "smith", "phone", "desk", "leader", "alternate"):
        for form in (msgspec.msgpack.encode(name), f"/{name}".encode()):
            assert form not in wire_bytes, f"{form!r} on the wire"
    # a party speaks only for its own devices: US forwarding KR's list is refused
    held = us.primary().membership.signed_holders["KR"]
    us.send(net.id("US/smith/desk"), wire.HoldersBody(held))
    net.settle()
    assert ("US", "holders_refused") in [(p, r) for _, p, r, _ in jp.store.alarms()]


def test_nothing_but_holders_lists_goes_until_every_party_s_list_is_held(net: Net) -> None:
    """A page needs every party's chain: while JP's holders list (its first group message)
    is held back, KR sends its own list but not what a principal says."""
    net.held_back["JP"] = []
    net.settle()
    kr, us = net.svc["KR"], net.svc["US"]
    assert set(kr.primary().membership.rosters) == {"JP", "KR", "US"}
    assert not kr.complete() and set(us.primary().membership.holders) == {"KR", "US"}
    kr.send(net.id("KR/lee/phone"), wire.Chat("wait for JP's names"))
    net.settle()
    assert "wait for JP's names" not in _texts(us)
    assert kr.store.db.execute("SELECT count(*) FROM outgoing").fetchone()[0] >= 1
    net.release("JP")
    net.settle()
    assert kr.complete() and "wait for JP's names" in _texts(us)
