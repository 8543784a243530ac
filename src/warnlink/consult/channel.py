"""The consultation channel on the exchange: a party's service beside its node.

The hub delivers each signed envelope to the parties its label names, durably and in
order; it must never read what the principals say. So this service holds the party's
principal devices (`crypto.Device`, one per leader's or alternate's device), publishes
rosters and key bundles in the clear and everything else as group messages, one Olm
ciphertext per member device, in consultation envelopes labelled to every member party.

On top of the channel it runs what a crisis consultation needs without anyone deciding
to: acknowledgement deadlines that page the next alternate (`escalation`), signed
delivery and read receipts, the hotline test (a periodic message every other party must
answer in time, or an alarm), and the decision log (`log`): one log per consultation,
kept (sequenced and checkpointed) by one party, replicated by every party, each joint
decision signed by every party to it, every checkpoint co-signed by the others as
witnesses. Commands come through the party store's queue, so one-shot commands in other
processes and the terminal client drive the same service. docs/consultation.md §4.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519

from warnlink.consult import wire
from warnlink.consult.crypto import (
    BundleBody,
    ConsultError,
    Device,
    GroupMessage,
    Head,
    MissingKeys,
    NotForThisDevice,
    Received,
    StateKey,
    TranscriptDivergence,
)
from warnlink.consult.escalation import (
    Acknowledged,
    Action,
    Escalation,
    Exhausted,
    Notify,
    Status,
)
from warnlink.consult.log import (
    NOTE_ORIGIN_PREFIX,
    Decision,
    DecisionLog,
    LogError,
    PartySignature,
    Record,
    Witness,
    canonical,
    decode_entry,
    decode_record,
    parse_note,
    required_signers,
    sign_record,
)
from warnlink.consult.party_store import Command, PartyStore
from warnlink.consult.roster import (
    DeviceKeys,
    Member,
    Principal,
    Role,
    Roster,
    RosterError,
    SignedRoster,
    open_roster,
    sign_roster,
)
from warnlink.consult.wire import ReceiptState
from warnlink.exchange.envelope import Envelope, Kind
from warnlink.exchange.logs import event
from warnlink.exchange.node import HubAddress, Node
from warnlink.exchange.node_store import Received as NodeReceived
from warnlink.exchange.pki import PkiError
from warnlink.exchange.signing import Signer, SigningCertificates, Verifier

log = logging.getLogger("warnlink.consult")
PASSPHRASE_ENV = "WARNLINK_CONSULT_PASSPHRASE"
_roster_dec = msgspec.msgpack.Decoder(SignedRoster)
_bundle_dec = msgspec.msgpack.Decoder(BundleBody)
_PROBLEMS = (ConsultError, wire.WireError, LogError, RosterError, PkiError, ValueError)


def state_path(data: Path, device: str) -> Path:
    return data / "devices" / (device.replace("/", "_") + ".state")


def log_origin(consultation: str) -> str:
    return NOTE_ORIGIN_PREFIX + consultation


def raw_key(cert_der: bytes) -> bytes:
    """The raw Ed25519 key of a signing certificate (checked by the caller)."""
    key = x509.load_der_x509_certificate(cert_der).public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise PkiError("not an Ed25519 signing certificate")
    return key.public_bytes_raw()


# --- setting a party up ----------------------------------------------------------------


def init_party(
    pki: Path, party: str, data: Path, consultation: str, members: list[str], keeper: str,
    principals: list[tuple[str, list[str]]], passphrase: str, ack_timeouts: list[float],
    kdf: tuple[int, int] | None = None,
) -> SignedRoster:  # fmt: skip
    """Create the party's devices (new Olm accounts, saved under the passphrase) and its
    first signed roster: principals in rank order, the first the leader."""
    if party not in members or keeper not in members:
        raise ValueError(f"the members {members} must include {party} and the keeper {keeper}")
    store = PartyStore(data / "consult.db")
    if store.get("settings") is not None:
        raise ValueError(f"{data} already holds a consultation")
    signer = Signer.load(pki, party)
    certs = SigningCertificates.for_root(pki)
    keys = {party: certs.check(signer.certificate_der)}
    devices: dict[str, Device] = {}
    listed = []
    for rank, (name, names) in enumerate(principals):
        entries = []
        for n in names:
            dev_id = f"{party}/{name}/{n}"
            key = StateKey(passphrase) if kdf is None else StateKey(passphrase, None, *kdf)
            devices[dev_id] = dev = Device(dev_id, consultation, keys, key)
            curve, ed = dev.identity()
            entries.append(DeviceKeys(dev_id, curve, ed))
        role: Role = "leader" if rank == 0 else "alternate"
        listed.append(Principal(name, role, rank, tuple(entries)))
    signed = sign_roster(Roster(consultation, party, 1, tuple(listed)), signer)
    (data / "devices").mkdir(parents=True, exist_ok=True)
    for dev in devices.values():
        dev.apply_roster(signed)
        dev.save(state_path(data, dev.device))
    settings = {"consultation": consultation, "party": party, "members": sorted(members),
                "keeper": keeper, "ack_timeouts": ack_timeouts}  # fmt: skip
    with store.transaction() as db:
        db.execute("INSERT INTO meta VALUES ('settings', ?)", (json.dumps(settings),))
        db.execute("INSERT INTO certs VALUES (?, ?)", (party, signer.certificate_der))
        db.execute("INSERT INTO own_rosters (version, signed) VALUES (1, ?)", (canonical(signed),))
    store.close()
    return signed


# --- the service -------------------------------------------------------------------


@dataclass
class ChannelConfig:
    pki: Path
    party: str
    hub: HubAddress
    data: Path
    passphrase: str
    test_interval: float = 30.0
    """Seconds between hotline tests."""
    test_timeout: float = 10.0
    """How long every other party has to answer a test."""
    decision_timeout: float = 600.0
    """How long the keeper waits for a proposal's signatures before giving it up."""
    tick: float = 0.05


class _Clock:
    """time.time, or a fixed reading while an escalation is rebuilt after a restart (at
    the time it started, then at each acknowledgement's time), so it keeps its deadlines."""

    def __init__(self, fixed: float | None = None) -> None:
        self.fixed = fixed

    def __call__(self) -> float:
        return time.time() if self.fixed is None else self.fixed


@dataclass
class _Open:
    """The keeper's proposal in flight: its record and the signatures gathered."""

    proposal: str
    record: Record
    data: bytes
    since: float
    signatures: dict[str, PartySignature]


class ChannelService:
    """One party's side of one consultation (see the module docstring)."""

    def __init__(self, cfg: ChannelConfig, node: Node | None = None) -> None:
        self.cfg = cfg
        self.party = cfg.party
        self.store = PartyStore(cfg.data / "consult.db")
        s = self.store.settings()
        self.consultation: str = s["consultation"]
        self.members: list[str] = s["members"]
        self.keeper: str = s["keeper"]
        self.ack_timeouts: list[float] = s["ack_timeouts"]
        self.node = node or Node(cfg.pki, cfg.party, cfg.hub, cfg.data / "node")
        self.signer = self.node.signer
        self.certs = SigningCertificates.for_root(cfg.pki)
        self.keys: dict[str, Verifier] = {}
        """Every member party's signing key, checked here against the CA (shared with
        the devices' memberships, so keys learnt later count at once)."""
        self.log = DecisionLog(
            cfg.data / "decisions.db", log_origin(self.consultation), self.keeper
        )
        self._own: tuple[bytes, Roster] | None = None
        for party, der in self.store.db.execute("SELECT party, der FROM certs").fetchall():
            self._admit(party, der)
        self.devices: dict[str, Device] = {}
        for path in sorted((cfg.data / "devices").glob("*.state")):
            dev = Device.load(path, cfg.passphrase, self.keys)
            self.devices[dev.device] = dev
        self.escalations: dict[str, Escalation] = {}
        self.tests: dict[int, tuple[float, set[str]]] = {}
        """Hotline tests sent and not yet settled: number -> (sent at, parties to answer)."""
        self.channel: dict[str, str] = {p: "unknown" for p in self.members if p != self.party}
        self.last_ok: dict[str, float] = {}
        self._test_number = int(self.store.get("test_number", "0") or 0)
        self._next_test = time.time() + min(2.0, cfg.test_interval)
        self._open: _Open | None = None
        self._early: dict[str, tuple[Member, wire.SignRequest]] = {}
        """Sign requests that came before their proposal (from another origin)."""
        self._missing_alarmed: set[str] = set()
        self._restore_escalations()
        self._witness: Witness | None = None
        self._status_due = 0.0
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        """Called with each event the service logs (name, fields): what drives the
        exercise's simulated principals and its timeline, in the same process."""

    def _event(self, name: str, level: int = logging.INFO, **fields: Any) -> None:
        event(log, name, level, **fields)
        for listener in self.listeners:
            listener(name, fields)

    def close(self) -> None:
        self.store.close()
        self.log.close()

    # -- keys and devices -------------------------------------------------------------

    def _admit(self, party: str, der: bytes) -> None:
        """Accept a party's signing certificate once the federation CA vouches for it."""
        verifier = self.certs.check(der)
        if verifier.party != party or party not in self.members:
            return
        held = self.keys.get(party)
        if held is not None and held.key_id == verifier.key_id:
            return
        self.keys[party] = verifier
        self.log.register(party, raw_key(der), der)
        self.store.db.execute("INSERT OR REPLACE INTO certs VALUES (?, ?)", (party, der))

    def _sync_keys(self) -> None:
        """Take the signing certificates the node learnt from the hub's CERT frames."""
        for (party, _kid), der in list(self.node.keys.der.items()):
            if party in self.members and self.keys.get(party, None) is None:
                try:
                    self._admit(party, der)
                except PkiError as exc:
                    self._event("consult_key_refused", logging.WARNING, party=party, error=str(exc))

    def own_roster(self) -> Roster:
        row = self.store.db.execute(
            "SELECT signed FROM own_rosters ORDER BY version DESC LIMIT 1"
        ).fetchone()
        data = bytes(row[0])
        if self._own is None or self._own[0] != data:
            self._own = (data, open_roster(_roster_dec.decode(data), self.keys))
        return self._own[1]

    def local(self) -> list[Device]:
        """Our devices in our current roster, in rank order: the ones that take part."""
        order = [d.device for p in sorted(self.own_roster().principals, key=lambda p: p.rank)
                 for d in p.devices]  # fmt: skip
        return [self.devices[d] for d in order if d in self.devices]

    def primary(self) -> Device:
        """The device that sends what the service itself says (receipts, tests, log
        traffic): the highest-ranked one we hold."""
        devs = self.local()
        if not devs:
            raise ConsultError(f"{self.party} holds none of its roster's devices")
        return devs[0]

    def _save(self, dev: Device) -> None:
        dev.save(state_path(self.cfg.data, dev.device))

    def member(self, device: str) -> Member | None:
        return self.primary().membership.devices().get(device)

    def complete(self) -> bool:
        """Whether every member party's roster is held: only then is anything sent, or a
        party that is not yet known would miss it for good."""
        return set(self.primary().membership.rosters) >= set(self.members)

    # -- sending ------------------------------------------------------------------------

    def send(self, device: str, body: wire.Body) -> None:
        """Queue a body for the group from one of our devices (durably: it is encrypted
        and published once every member device's keys are there)."""
        self.store.db.execute(
            "INSERT INTO outgoing (device, body) VALUES (?, ?)", (device, canonical(body))
        )

    def _publish(self, frame: wire.Frame, label: list[str]) -> Envelope:
        return self.node.publish(Kind.CONSULTATION, label, canonical(frame))

    def _publish_rosters(self) -> None:
        for version, data in self.store.db.execute(
            "SELECT version, signed FROM own_rosters WHERE sent = 0 ORDER BY version"
        ).fetchall():
            self._publish(wire.RosterFrame(_roster_dec.decode(data)), self.members)
            self.store.db.execute("UPDATE own_rosters SET sent = 1 WHERE version = ?", (version,))
            self._event("consult_roster_sent", party=self.party, version=version)

    def _make_bundles(self) -> None:
        """Give every member device we have no session with one-time keys of each of our
        devices: in process for our own devices, in a bundles frame to other parties."""
        sent = set(self.store.db.execute("SELECT * FROM bundles_sent").fetchall())
        out: dict[str, list[Any]] = {}
        new: list[tuple[str, str, str]] = []
        for dev in self.local():
            for r, m in dev.membership.devices().items():
                mark = (dev.device, r, m.keys.curve25519)
                if r == dev.device or mark in sent or dev.sessions.get(r):
                    continue
                bundle = dev.key_bundle(r)
                if m.party == self.party:
                    peer = self.devices.get(r)
                    if peer is None:
                        continue
                    peer.add_bundle(bundle)
                    self._save(peer)
                else:
                    out.setdefault(m.party, []).append(bundle)
                new.append(mark)
            self._save(dev)
        for party, bundles in sorted(out.items()):
            self._publish(wire.BundlesFrame(tuple(bundles)), [party])
        self.store.db.executemany("INSERT OR IGNORE INTO bundles_sent VALUES (?, ?, ?)", new)

    def _flush(self) -> None:
        """Encrypt and publish queued bodies in order; stop at the first that cannot go."""
        if not self.complete():
            return
        rows = self.store.db.execute("SELECT id, device, body FROM outgoing ORDER BY id").fetchall()
        local = self.local()
        for row_id, device, body in rows:
            dev = self.devices.get(device)
            if dev is None or dev not in local:
                self._event("consult_dropped", logging.WARNING, device=device,
                      reason="not one of our devices now")  # fmt: skip
                self.store.db.execute("DELETE FROM outgoing WHERE id = ?", (row_id,))
                continue
            try:
                msg = dev.encrypt(body, time.time_ns())
            except MissingKeys as exc:
                new = set(exc.devices) - self._missing_alarmed
                if new:
                    self._missing_alarmed |= new
                    self._event("consult_waiting_for_keys", party=self.party, devices=sorted(new))
                return
            # saved before it goes out: a crash in between loses this message (members
            # see the gap in the transcript) rather than reusing its ratchet keys
            self._save(dev)
            self._publish(wire.GroupFrame(msg), self.members)
            self.store.db.execute("DELETE FROM outgoing WHERE id = ?", (row_id,))
            self._loopback(dev, msg, body)

    def _loopback(self, sender: Device, msg: GroupMessage, body: bytes) -> None:
        """The hub never returns our own envelopes: our other devices decrypt here, and
        the service acts on what it said as it does on what others say."""
        for dev in self.local():
            if dev is not sender and any(s.device == dev.device for s in msg.sealed):
                self._decrypt(dev, msg)
        member = self.member(sender.device)
        assert member is not None
        own = sender.chains[sender.device][sender.counter]
        got = Received(member, sender.counter, time.time_ns(), body, own, ())
        self._dispatch(got)

    # -- receiving ----------------------------------------------------------------------

    def on_envelope(self, env: Envelope) -> None:
        if env.kind != Kind.CONSULTATION:
            return
        self._sync_keys()
        frame = wire.decode_frame(env.payload)
        if isinstance(frame, wire.RosterFrame):
            self._on_roster(frame.signed, env.origin)
        elif isinstance(frame, wire.BundlesFrame):
            for bundle in frame.bundles:
                dev = self.devices.get(_bundle_dec.decode(bundle.body).recipient)
                if dev is not None:
                    dev.add_bundle(bundle)
                    self._save(dev)
        else:
            self._on_group(frame.message)

    def _on_roster(self, signed: SignedRoster, origin: str) -> None:
        changed = False
        for dev in self.local():
            try:
                changed |= dev.apply_roster(signed)
            except RosterError as exc:
                self._alarm(origin, "roster_refused", str(exc))
                return
            self._save(dev)
        if changed:
            roster = open_roster(signed, self.keys)
            self._event("consult_roster", party=roster.party, version=roster.version,
                  devices=sum(len(p.devices) for p in roster.principals))  # fmt: skip
            self._make_bundles()

    def _decrypt(self, dev: Device, msg: GroupMessage) -> Received | None:
        sender = msg.sender.split("/", 1)[0]
        try:
            got: Received | None = dev.decrypt(msg)
        except NotForThisDevice as exc:
            self._event("consult_not_for_us", logging.WARNING, device=dev.device, error=str(exc))
            return None
        except TranscriptDivergence as exc:
            self._alarm(sender, "transcript_divergence", str(exc))
            got = exc.received
        except ConsultError as exc:
            self._alarm(sender, "decryption_failed", f"{dev.device}: {exc}")
            got = None
        self._save(dev)
        return got

    def _on_group(self, msg: GroupMessage) -> None:
        got = None
        for dev in self.local():
            if any(s.device == dev.device for s in msg.sealed):
                got = self._decrypt(dev, msg) or got
        if got is not None:
            self._dispatch(got, delivered=[d.device for d in self.local()])

    def _dispatch(self, got: Received, delivered: list[str] | None = None) -> None:
        """Act on a body, from another party or (by loopback) from ourselves."""
        body = wire.decode_body(got.body)
        frm = got.sender
        if isinstance(body, wire.RECEIPTED):
            text = body.text if isinstance(body, wire.Chat) else _describe(body)
            self.store.db.execute(
                "INSERT INTO messages (sender, counter, hash, time_ns, received_ns, kind, text,"
                " read) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (frm.keys.device, got.counter, got.hash, got.time_ns, time.time_ns(),
                 type(body).__name__.lower(), text, int(frm.party == self.party)),
            )  # fmt: skip
            self._event("consult_message", party=self.party, sender=frm.keys.device,
                  kind=type(body).__name__.lower(), counter=got.counter)  # fmt: skip
            if delivered and frm.party != self.party:
                self._receipt(
                    "delivered", delivered, [Head(frm.keys.device, got.counter, got.hash)]
                )
        handler = _HANDLERS.get(type(body))
        if handler is not None:
            handler(self, frm, body)

    def _receipt(self, state: ReceiptState, devices: list[str], heads: list[Head]) -> None:
        body = wire.ReceiptBody(self.consultation, self.party, state, tuple(devices),
                                tuple(heads), time.time_ns())  # fmt: skip
        self.send(self.primary().device if state == "delivered" else devices[0],
                  wire.sign_receipt(body, self.signer))  # fmt: skip

    def _on_receipt(self, frm: Member, body: wire.Receipt) -> None:
        r = wire.open_receipt(body, self.keys)
        if r.party != frm.party:
            raise ConsultError(f"{frm.keys.device} forwarded a receipt of {r.party}")
        self.store.db.executemany(
            "INSERT INTO receipts (party, state, devices, sender, counter, received_ns, receipt)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(r.party, r.state, ",".join(r.devices), h.device, h.counter, time.time_ns(),
              canonical(body)) for h in r.messages],
        )  # fmt: skip
        self._event("consult_receipt", party=r.party, state=r.state, messages=len(r.messages))

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
              by=frm.keys.device, reason=body.reason)  # fmt: skip
        self._acknowledged(body.request, frm.party, frm.principal)  # asking is answering

    def _start_escalation(
        self, request: str, timeouts: list[float], started: float,
        acks: Iterable[tuple[str, str, float]] = (),
    ) -> list[Action]:  # fmt: skip
        """An escalation over the current rosters from `started`, with acknowledgements
        (party, principal, time) replayed at their times; the first pages."""
        clock = _Clock(started)
        esc = Escalation.for_rosters(self.primary().membership.rosters.values(), timeouts, clock)
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
        self._acknowledged(body.request, frm.party, frm.principal)

    def _acknowledged(self, request: str, party: str, principal: str) -> None:
        esc = self.escalations.get(request)
        if esc is None:
            return
        self.store.db.execute(
            "INSERT OR IGNORE INTO acks VALUES (?, ?, ?, ?)",
            (request, party, principal, time.time()),
        )
        self._act(request, esc.acknowledge(party, principal))

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

    def _alarm(self, party: str, reason: str, detail: str) -> None:
        """The structured alarm line, and the alarm the client shows."""
        self._event("consult_alarm", logging.WARNING, party=party, reason=reason, detail=detail,
              observer=self.party)  # fmt: skip
        self.store.alarm(party, reason, detail)

    # -- decisions and the log ------------------------------------------------------------

    def _on_propose(self, frm: Member, body: wire.Propose) -> None:
        self.store.db.execute(
            "INSERT OR IGNORE INTO proposals (proposal, body, author, approved, created)"
            " VALUES (?, ?, ?, ?, ?)",
            (body.proposal, canonical(body), frm.party, int(frm.party == self.party),
             time.time()),
        )  # fmt: skip
        self._event("consult_proposal", party=self.party, proposal=body.proposal,
                    author=frm.party, summary=wire.describe(body.decision))  # fmt: skip
        early = self._early.pop(body.proposal, None)
        if early is not None:
            self._on_sign_request(*early)

    def _proposal(self, proposal: str) -> tuple[wire.Propose, str, bool, bytes | None] | None:
        row = self.store.db.execute(
            "SELECT body, author, approved, record FROM proposals WHERE proposal = ?", (proposal,)
        ).fetchone()
        if row is None:
            return None
        body = wire.decode_body(row[0])
        assert isinstance(body, wire.Propose)
        return body, str(row[1]), bool(row[2]), row[3]

    def _sequence(self, now: float) -> None:
        """The keeper's part: one proposal at a time takes the next log position and goes
        out for signatures; given up (with an alarm) if they do not all come."""
        if self.party != self.keeper:
            return
        if self._open is not None:
            if now - self._open.since > self.cfg.decision_timeout:
                self._settle(self._open.proposal, "expired")
                self._alarm(self.party, "decision_expired", f"proposal {self._open.proposal}")
                self._open = None
            return
        row = self.store.db.execute(
            "SELECT proposal FROM proposals WHERE state = 'open' ORDER BY rowid LIMIT 1"
        ).fetchone()
        if row is None:
            return
        found = self._proposal(str(row[0]))
        assert found is not None
        p, author, _, _ = found
        record = self.log.new_record(author, p.decision, time.time_ns())
        self._open = _Open(p.proposal, record, canonical(record), now, {})
        self.send(self.primary().device, wire.SignRequest(p.proposal, canonical(record)))

    def _settle(self, proposal: str, state: str) -> None:
        self.store.db.execute(
            "UPDATE proposals SET state = ? WHERE proposal = ?", (state, proposal)
        )

    def _on_sign_request(self, frm: Member, body: wire.SignRequest) -> None:
        if frm.party != self.keeper:
            raise ConsultError(f"sign request from {frm.party}, who does not keep the log")
        record = decode_record(body.record)
        found = self._proposal(body.proposal)
        if found is None:  # the proposal comes from another origin: it may be behind
            self._early[body.proposal] = (frm, body)
            return
        p, author, approved, _ = found
        if record.log != self.log.origin or record.body != p.decision or record.author != author:
            self._alarm(frm.party, "bad_sign_request", f"record for {body.proposal} is not it")
            return
        if self.party not in required_signers(record):
            return
        self.store.db.execute(
            "UPDATE proposals SET record = ? WHERE proposal = ?", (body.record, body.proposal)
        )
        if approved:
            self._sign(body.proposal, record, body.record, self.primary().device)

    def _sign(self, proposal: str, record: Record, data: bytes, device: str) -> None:
        sig = sign_record(data, self.signer)
        self.send(device, wire.RecordSignature(proposal, record.index, sig))
        self._event("consult_signed", party=self.party, proposal=proposal, index=record.index)

    def approve(self, proposal: str, device: str) -> str:
        found = self._proposal(proposal)
        if found is None:
            raise ConsultError(f"no proposal {proposal} here (yet)")
        self.store.db.execute("UPDATE proposals SET approved = 1 WHERE proposal = ?", (proposal,))
        record = found[3]
        if record is not None:
            self._sign(proposal, decode_record(record), record, device)
            return f"approved and signed {proposal}"
        return f"approved {proposal}; signing when the keeper asks"

    def _on_record_signature(self, frm: Member, body: wire.RecordSignature) -> None:
        cur = self._open
        if self.party != self.keeper or cur is None or cur.proposal != body.proposal:
            return
        if body.signature.party != frm.party or body.index != cur.record.index:
            raise ConsultError(f"signature from {frm.party} for another party or position")
        cur.signatures[frm.party] = body.signature
        if set(cur.signatures) >= required_signers(cur.record):
            index = self.log.append(cur.record, list(cur.signatures.values()))
            self._settle(cur.proposal, "logged")
            self._open = None
            entry = self.log.entry_bytes(index)
            self.send(self.primary().device, wire.NewEntry(cur.proposal, entry))
            note = self.log.checkpoint(self.signer, time.time_ns())
            self.send(self.primary().device, wire.CheckpointNote(note))
            self._event("consult_logged", party=self.party, index=index, proposal=cur.proposal)

    def _on_new_entry(self, frm: Member, body: wire.NewEntry) -> None:
        if frm.party != self.keeper or self.party == self.keeper:
            return
        entry, record = decode_entry(body.entry)
        if record.index < len(self.log) and self.log.entry_bytes(record.index) == body.entry:
            return  # sent again after a restart
        self.log.append(record, entry.signatures)
        self._settle(body.proposal, "logged")
        self._event("consult_logged", party=self.party, index=record.index)

    def _witness_for(self) -> Witness | None:
        keeper = self.keys.get(self.keeper)
        if keeper is None:
            return None
        if self._witness is None:
            state = self.store.get("witness_state")
            cp = parse_note(state + "\n").checkpoint if state else None
            self._witness = Witness(self.signer, self.log.origin, keeper,
                                    self.log.raw_keys[self.keeper], cp)  # fmt: skip
        return self._witness

    def _on_checkpoint(self, frm: Member, body: wire.CheckpointNote) -> None:
        witness = self._witness_for()
        if frm.party != self.keeper or self.party == self.keeper or witness is None:
            return
        cp = parse_note(body.note).checkpoint
        old = witness.state.size if witness.state else 0
        if cp.size > len(self.log):
            raise ConsultError(f"checkpoint of {cp.size} entries, we hold {len(self.log)}")
        proof = self.log.consistency_proof(old, cp.size) if old else []
        try:
            line = witness.cosign(body.note, proof, int(time.time()))
        except LogError as exc:
            self._alarm(frm.party, "checkpoint_refused", str(exc))
            return
        self.store.put("witness_state", cp.body())
        _atomic_write(self.cfg.data / "checkpoint.note", body.note)
        self.send(self.primary().device, wire.Cosigned(cp.size, line.text()))
        self._event("consult_cosigned", party=self.party, size=cp.size)

    def _on_cosigned(self, frm: Member, body: wire.Cosigned) -> None:
        if self.party != self.keeper:
            return
        note = self.log.latest_checkpoint()
        if note is None:
            return
        cp = parse_note(note).checkpoint
        line = parse_note(cp.body() + "\n" + body.line).signatures[0]
        if line.name != frm.party:
            raise ConsultError(f"co-signature of {line.name} sent by {frm.party}")
        self.log.add_cosignature(body.size, line)
        self._event("consult_cosignature", party=frm.party, size=body.size)

    # -- commands (from the queue) --------------------------------------------------------

    def run_command(self, cmd: Command) -> str:
        dev = self.devices.get(cmd.device)
        if cmd.name != "remove-device" and (dev is None or dev not in self.local()):
            raise ConsultError(f"{cmd.device} is not one of {self.party}'s devices now")
        a = cmd.args
        if cmd.name == "send":
            self.send(cmd.device, wire.Chat(a["text"]))
            return "queued"
        if cmd.name == "convene":
            return "request " + self.convene(cmd.device, a["reason"], a.get("timeouts"))
        if cmd.name == "ack":
            request = a.get("request") or self._latest_request()
            if request is None:
                raise ConsultError("no request to acknowledge")
            self.send(cmd.device, wire.Ack(request))
            self._mark_read(cmd.device)
            return f"acknowledged {request}"
        if cmd.name == "read":
            return f"read {self._mark_read(cmd.device)} message(s)"
        if cmd.name == "decide":
            proposal = secrets.token_hex(4)
            decision = Decision(
                a["category"], a["summary"], tuple(sorted(a["parties"])), a.get("detail", ""),
                a.get("action", ""), tuple(a.get("refs", ())),
            )  # fmt: skip
            strangers = set(decision.parties) - set(self.members)
            if not decision.parties or strangers:
                raise ConsultError(f"a decision's parties must be members (not {strangers})")
            if any(not 0 <= r < len(self.log) for r in decision.refs):
                raise ConsultError(f"refs {decision.refs}: the log has {len(self.log)} entries")
            self.send(cmd.device, wire.Propose(proposal, decision))
            return f"proposal {proposal}"
        if cmd.name == "approve":
            return self.approve(a["proposal"], cmd.device)
        if cmd.name == "remove-device":
            return self.remove_device(a["remove"])
        raise ConsultError(f"unknown command {cmd.name}")

    def _latest_request(self) -> str | None:
        row = self.store.db.execute(
            "SELECT request FROM requests ORDER BY started DESC LIMIT 1"
        ).fetchone()
        return None if row is None else str(row[0])

    def _mark_read(self, device: str) -> int:
        rows = self.store.db.execute(
            "SELECT id, sender, counter, hash FROM messages WHERE read = 0 ORDER BY id"
        ).fetchall()
        if rows:
            self.store.db.execute("UPDATE messages SET read = 1 WHERE id <= ?", (rows[-1][0],))
            self._receipt("read", [device], [Head(s, c, h) for _, s, c, h in rows])
        return len(rows)

    def remove_device(self, device: str) -> str:
        """Sign a new roster without `device`: nobody encrypts to it from then on."""
        old = self.own_roster()
        principals = tuple(
            Principal(p.name, p.role, p.rank, tuple(d for d in p.devices if d.device != device))
            for p in old.principals
        )
        if principals == old.principals:
            raise ConsultError(f"{device} is not in {self.party}'s roster")
        signed = sign_roster(Roster(old.consultation, old.party, old.version + 1, principals),
                             self.signer)  # fmt: skip
        self.store.db.execute(
            "INSERT INTO own_rosters (version, signed) VALUES (?, ?)",
            (old.version + 1, canonical(signed)),
        )
        for dev in list(self.devices.values()):
            if dev.device in self.primary().membership.devices():
                dev.apply_roster(signed)
                self._save(dev)
        self._publish_rosters()
        return f"roster v{old.version + 1} without {device}"

    def _commands(self) -> None:
        for cmd in self.store.pending_commands():
            try:
                result = self.run_command(cmd)
            except _PROBLEMS as exc:
                self.store.finish(cmd.id, False, str(exc))
                continue
            self.store.finish(cmd.id, True, result)
            self._event("consult_command", party=self.party, device=cmd.device, command=cmd.name,
                  result=result)  # fmt: skip

    # -- the loop ---------------------------------------------------------------------

    def start(self) -> None:
        """What needs no hub: our roster out, bundles for members we know."""
        self._publish_rosters()
        self._make_bundles()

    def tick(self) -> None:
        now = time.time()
        self._commands()
        if self.complete():
            if not self.escalations:
                self._restore_escalations()
            self._test_tick(now)
            self._sequence(now)
        self._flush()
        for request, esc in self.escalations.items():
            self._act(request, esc.poll())
        if now >= self._status_due:
            self._status_due = now + 0.5
            self.write_status()

    async def run(self, own_node: bool = True) -> None:
        """Run the node, take in its inbox, and tick; for ever. With `own_node` False the
        node is someone else's (the exercise's party process, whose node carries its
        tracks too): its owner runs it and hands the consultation's rows to `take`."""
        self.start()
        tasks = (
            [asyncio.create_task(c) for c in (self.node.run(), self._inbox())] if own_node else []
        )
        try:
            while True:
                for task in tasks:
                    if task.done():
                        task.result()
                try:
                    self.tick()
                except Exception:
                    log.exception("consult_error", extra={"party": self.party})
                await asyncio.sleep(self.cfg.tick)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _inbox(self) -> None:
        after = int(self.store.get("inbox_row", "0") or 0)
        async for row in self.node.messages(after):
            self.take(row)

    def take(self, row: NodeReceived) -> None:
        """One inbox row of the node: a refused envelope is an alarm, not a stop."""
        try:
            self.on_envelope(row.envelope)
        except Exception as exc:
            self._alarm(row.envelope.origin, "refused", f"{type(exc).__name__}: {exc}")
        self.store.put("inbox_row", str(row.row))
        self._flush()

    # -- what the client shows ------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        now = time.time()
        members = {}
        rosters = self.primary().membership.rosters if self.local() else {}
        for party in self.members:
            r = rosters.get(party)
            members[party] = {
                "roster": r.version if r else None,
                "principals": [
                    {"name": p.name, "role": p.role, "rank": p.rank,
                     "devices": [d.device for d in p.devices]}
                    for p in sorted(r.principals, key=lambda p: p.rank)
                ] if r else [],
                "channel": "self" if party == self.party else self.channel.get(party, "unknown"),
                "last_ok": self.last_ok.get(party),
            }  # fmt: skip
        requests = []
        for request, esc in self.escalations.items():
            parties = {}
            for party in esc.parties():
                status = esc.status(party)
                left = None if status is not Status.WAITING else esc.deadline(party) - now
                parties[party] = {
                    "status": status.value, "asked": esc.current(party),
                    "by": esc.acknowledged_by(party),
                    "left_s": None if left is None else round(left, 1),
                }  # fmt: skip
            requests.append({"request": request, "parties": parties})
        msgs = self.store.db.execute(
            "SELECT sender, kind, text, time_ns, read FROM messages ORDER BY id DESC LIMIT 15"
        ).fetchall()
        receipts = dict(self.store.db.execute(
            "SELECT sender || '#' || counter || '/' || party, state FROM receipts"
        ).fetchall())  # fmt: skip
        props = self.store.db.execute(
            "SELECT proposal, body, author, approved, state FROM proposals ORDER BY rowid DESC"
            " LIMIT 10"
        ).fetchall()
        return {
            "party": self.party, "consultation": self.consultation, "time": now,
            "connected": self.node.connected.is_set(), "keeper": self.keeper,
            "devices": [d.device for d in self.local()], "members": members,
            "requests": requests,
            "messages": [{"sender": s, "kind": k, "text": t, "time_ns": tn, "read": bool(r)}
                         for s, k, t, tn, r in reversed(msgs)],
            "receipts": len(receipts),
            "proposals": [{"proposal": p, "summary": _describe(wire.decode_body(b)),
                           "author": a, "approved": bool(ap), "state": st}
                          for p, b, a, ap, st in props],
            "alarms": [{"at": at, "party": p, "reason": r, "detail": d}
                       for at, p, r, d in self.store.alarms(10)],
            "log_size": len(self.log),
            "outgoing": self.store.db.execute("SELECT count(*) FROM outgoing").fetchone()[0],
        }  # fmt: skip

    def write_status(self) -> None:
        _atomic_write(self.cfg.data / "status.json", json.dumps(self.status()))


def _describe(body: Any) -> str:
    if isinstance(body, wire.Convene):
        return f"convenes ({body.reason})"
    if isinstance(body, wire.Propose):
        return wire.describe(body.decision)
    return type(body).__name__


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


_HANDLERS: dict[type, Callable[[ChannelService, Member, Any], None]] = {
    wire.Convene: ChannelService._on_convene,
    wire.Ack: ChannelService._on_ack,
    wire.Receipt: ChannelService._on_receipt,
    wire.Test: ChannelService._on_test,
    wire.TestAck: ChannelService._on_test_ack,
    wire.Propose: ChannelService._on_propose,
    wire.SignRequest: ChannelService._on_sign_request,
    wire.RecordSignature: ChannelService._on_record_signature,
    wire.NewEntry: ChannelService._on_new_entry,
    wire.CheckpointNote: ChannelService._on_checkpoint,
    wire.Cosigned: ChannelService._on_cosigned,
}
