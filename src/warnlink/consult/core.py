"""The channel itself: keys, rosters and key bundles, group messages out and in, receipts.

`ChannelCore` is the base the service's parts (`attention`, `decisions`,
`command_queue`) stand on; what a body means is theirs, by `_handle`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec

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
    TranscriptDivergence,
)
from warnlink.consult.log import DecisionLog, canonical
from warnlink.consult.party_store import PartyStore
from warnlink.consult.roster import (
    Holders,
    Member,
    Roster,
    RosterError,
    SignedHolders,
    SignedRoster,
    open_holders,
    open_roster,
)
from warnlink.consult.setup import ChannelConfig, log_origin, raw_key, state_path
from warnlink.consult.wire import ReceiptState
from warnlink.exchange.envelope import Envelope, Kind
from warnlink.exchange.logs import event
from warnlink.exchange.node import Node
from warnlink.exchange.pki import PkiError
from warnlink.exchange.signing import SigningCertificates, Verifier

log = logging.getLogger("warnlink.consult")
_roster_dec = msgspec.msgpack.Decoder(SignedRoster)
_holders_dec = msgspec.msgpack.Decoder(SignedHolders)
_bundle_dec = msgspec.msgpack.Decoder(BundleBody)


class ChannelCore:
    """What the rest of the service stands on: the party's settings, keys, devices and
    rosters, and the group channel itself (see `channel` for the whole service)."""

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
        self._own: tuple[int, Roster, Holders] | None = None
        for party, der in self.store.db.execute("SELECT party, der FROM certs").fetchall():
            self._admit(party, der)
        self.devices: dict[str, Device] = {}
        for path in sorted((cfg.data / "devices").glob("*.state")):
            dev = Device.load(path, cfg.passphrase, self.keys)
            self.devices[dev.device] = dev
        self._missing_alarmed: set[str] = set()
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

    def _own_latest(self) -> tuple[int, Roster, Holders]:
        row = self.store.db.execute(
            "SELECT version, signed, holders FROM own_rosters ORDER BY version DESC LIMIT 1"
        ).fetchone()
        if self._own is None or self._own[0] != row[0]:
            roster = open_roster(_roster_dec.decode(row[1]), self.keys)
            holders = open_holders(_holders_dec.decode(row[2]), self.keys)
            self._own = (int(row[0]), roster, holders)
        return self._own

    def own_roster(self) -> Roster:
        return self._own_latest()[1]

    def own_holders(self) -> Holders:
        """Who holds the devices of our current roster (of the same version)."""
        return self._own_latest()[2]

    def local(self) -> list[Device]:
        """Our devices in our current roster, in rank order: the ones that take part."""
        order = [d.device for p in sorted(self.own_holders().principals, key=lambda p: p.rank)
                 for d in p.devices]  # fmt: skip
        return [self.devices[d] for d in order if d in self.devices]

    def resolve(self, device: str) -> str:
        """One of our devices now, by its id or by the name its principal knows it by
        (party/principal/label): ConsultError if it is none of them."""
        for dev in self.local():
            if device in (dev.device, self.name_of(dev.device)):
                return dev.device
        raise ConsultError(f"{device} is not one of {self.party}'s devices now")

    def name_of(self, device: str) -> str:
        """A member device as members show it (party/principal/label), else its id."""
        m = self.member(device)
        return device if m is None else m.name

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
        """Whether every member party's roster and holders list is held: only then is
        anything but our own holders list sent. A party not yet known would miss it for
        good, and as the hub serves a lane in the order it stored, a member then gets every
        holders list before anything (a page to convene) that needs the chains."""
        return set(self.primary().membership.holders) >= set(self.members)

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
        """Each new roster in the clear, then who holds its devices in the group channel
        (queued, so it goes once every member device can be encrypted to)."""
        for version, data, holders in self.store.db.execute(
            "SELECT version, signed, holders FROM own_rosters WHERE sent = 0 ORDER BY version"
        ).fetchall():
            self._publish(wire.RosterFrame(_roster_dec.decode(data)), self.members)
            self.send(self.primary().device, wire.HoldersBody(_holders_dec.decode(holders)))
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
        """Encrypt and publish queued bodies in order; stop at the first that cannot go
        (before `complete`, anything but a holders list, once every roster is held)."""
        if not set(self.primary().membership.rosters) >= set(self.members):
            return
        complete = self.complete()
        rows = self.store.db.execute("SELECT id, device, body FROM outgoing ORDER BY id").fetchall()
        local = self.local()
        for row_id, device, body in rows:
            if not complete and not isinstance(wire.decode_body(body), wire.HoldersBody):
                return
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
                  devices=len(roster.devices))  # fmt: skip
            self._make_bundles()

    def _on_holders(self, frm: Member, body: wire.HoldersBody) -> None:
        """Who holds a party's devices, from one of that party's devices: the names and
        the escalation chain, which only members learn."""
        changed = False
        try:
            holders = open_holders(body.signed, self.keys)
            if holders.party != frm.party:
                raise RosterError(f"{frm.name} sent the holders list of {holders.party}")
            for dev in self.local():
                changed |= dev.apply_holders(body.signed)
                self._save(dev)
        except RosterError as exc:
            self._alarm(frm.party, "holders_refused", str(exc))
            return
        if changed:
            self._event("consult_holders", party=holders.party, version=holders.version,
                        principals=len(holders.principals))  # fmt: skip

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
            text = body.text if isinstance(body, wire.Chat) else describe(body)
            self.store.db.execute(
                "INSERT INTO messages (sender, counter, hash, time_ns, received_ns, kind, text,"
                " read) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (frm.keys.device, got.counter, got.hash, got.time_ns, time.time_ns(),
                 type(body).__name__.lower(), text, int(frm.party == self.party)),
            )  # fmt: skip
            self._event("consult_message", party=self.party, sender=frm.name,
                  kind=type(body).__name__.lower(), counter=got.counter)  # fmt: skip
            if delivered and frm.party != self.party:
                self._receipt(
                    "delivered", delivered, [Head(frm.keys.device, got.counter, got.hash)]
                )
        self._handle(frm, body)

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

    def _handle(self, frm: Member, body: Any) -> None:
        """Act on a body by its type: `ChannelService` knows every handler."""
        raise NotImplementedError

    def _alarm(self, party: str, reason: str, detail: str) -> None:
        """The structured alarm line, and the alarm the client shows."""
        self._event("consult_alarm", logging.WARNING, party=party, reason=reason, detail=detail,
              observer=self.party)  # fmt: skip
        self.store.alarm(party, reason, detail)


def describe(body: Any) -> str:
    if isinstance(body, wire.Convene):
        return f"convenes ({body.reason})"
    if isinstance(body, wire.Propose):
        return wire.describe(body.decision)
    return type(body).__name__
