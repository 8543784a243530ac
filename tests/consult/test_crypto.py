"""End-to-end encrypted consultation: rosters, pairwise Olm fan-out, transcripts."""

from __future__ import annotations

from pathlib import Path

import msgspec
import nacl.pwhash
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from warnlink.consult.crypto import (
    ConsultError,
    Device,
    GroupMessage,
    KeyBundle,
    MissingKeys,
    NotForThisDevice,
    Received,
    Sealed,
    StateKey,
    TranscriptDivergence,
    decode_message,
    encode_message,
)
from warnlink.consult.log import plain_verifier
from warnlink.consult.roster import (
    DeviceKeys,
    HeldDevice,
    Holders,
    Principal,
    Roster,
    RosterError,
    SignedHolders,
    SignedRoster,
    device_id,
    roster_hash,
    sign_holders,
    sign_roster,
)
from warnlink.exchange.signing import Signer, Verifier

CONSULTATION = "c-2026-001"
PASS = "correct horse battery staple"
T = 1_795_651_200_000_000_000

# who holds which device: party -> [(principal, role, devices)]
PEOPLE = {
    "KR": [("lee", "leader", ["desk", "phone"]), ("park", "alternate", ["desk"])],
    "US": [("smith", "leader", ["desk"]), ("jones", "alternate", ["desk"])],
    "JP": [("sato", "leader", ["desk"]), ("tanaka", "alternate", ["desk"])],
}


def _key() -> StateKey:
    # the cheapest Argon2id parameters: the tests exercise the format, not the cost
    return StateKey(
        PASS, ops=nacl.pwhash.argon2id.OPSLIMIT_MIN, mem=nacl.pwhash.argon2id.MEMLIMIT_MIN
    )


class Group:
    """Parties, their signed rosters and every member device, wired up."""

    def __init__(
        self, parties: list[str], people: dict[str, list[tuple[str, str, list[str]]]] | None = None,
        told: bool = True,
    ) -> None:  # fmt: skip
        self.people = PEOPLE if people is None else people
        self.signers = {
            p: Signer(p, SigningKey(bytes([i + 1]) * 32), b"") for i, p in enumerate(parties)
        }
        self.keys: dict[str, Verifier] = {
            p: plain_verifier(p, s.public_key) for p, s in self.signers.items()
        }
        self.devices: dict[str, Device] = {}
        self.rosters: dict[str, SignedRoster] = {}
        for party in parties:
            for name, _role, devs in self.people[party]:
                for d in devs:
                    dev_id = f"{party}/{name}/{d}"
                    self.devices[dev_id] = Device(dev_id, CONSULTATION, self.keys, _key())
        for party in parties:
            self.rosters[party] = self.roster(party, 1)
        for dev in self.devices.values():
            for r in self.rosters.values():
                dev.apply_roster(r)
                if told:  # who holds which device, as the group channel would tell it
                    dev.apply_holders(self.holders(r))
        for dev in self.devices.values():
            for other in self.devices.values():
                if other is not dev:
                    other.add_bundle(dev.key_bundle(other.device))

    def roster(self, party: str, version: int, drop: tuple[str, ...] = ()) -> SignedRoster:
        keys = []
        for name, _role, devs in self.people[party]:
            for d in devs:
                dev_id = f"{party}/{name}/{d}"
                if dev_id not in drop:
                    keys.append(DeviceKeys(dev_id, *self.devices[dev_id].identity()))
        roster = Roster(CONSULTATION, party, version, tuple(keys))
        return sign_roster(roster, self.signers[party])

    def holders(self, signed: SignedRoster, version: int | None = None) -> SignedHolders:
        """Who holds the devices of `signed` (ids here are names: the crypto does not care)."""
        roster = msgspec.msgpack.decode(signed.roster, type=Roster)
        listed = {d.device for d in roster.devices}
        principals = []
        for rank, (name, role, devs) in enumerate(self.people[roster.party]):
            held = tuple(HeldDevice(f"{roster.party}/{name}/{d}", d) for d in devs
                         if f"{roster.party}/{name}/{d}" in listed)  # fmt: skip
            principals.append(Principal(name, role, rank, held))  # type: ignore[arg-type]
        holders = Holders(CONSULTATION, roster.party, roster.version if version is None
                          else version, roster_hash(signed), tuple(principals))  # fmt: skip
        return sign_holders(holders, signed, self.signers[roster.party])

    def send(self, sender: str, text: str, to: list[str] | None = None) -> GroupMessage:
        msg = self.devices[sender].encrypt(text.encode(), T)
        # through the wire format, as the envelope payload would carry it
        msg = decode_message(encode_message(msg))
        if to is not None:
            for d in to:
                self.devices[d].decrypt(msg)
        return msg

    def deliver(self, msg: GroupMessage) -> dict[str, Received]:
        return {s.device: self.devices[s.device].decrypt(msg) for s in msg.sealed}


@pytest.fixture
def group() -> Group:
    return Group(["KR", "US", "JP"])


def test_three_parties_with_alternates(group: Group) -> None:
    msg = group.send("KR/lee/desk", "launch detected, consult now")
    got = group.deliver(msg)
    assert sorted(got) == sorted(d for d in group.devices if d != "KR/lee/desk")
    assert {r.body for r in got.values()} == {b"launch detected, consult now"}
    assert len({r.hash for r in got.values()}) == 1
    assert got["US/jones/desk"].sender.party == "KR"
    sender = got["US/jones/desk"].sender.principal
    assert sender is not None and (sender.name, sender.role) == ("lee", "leader")
    # the hub sees only ciphertext
    assert b"launch detected" not in encode_message(msg)
    # replies from an alternate and from the other KR device of the same principal
    for sender, text in [("US/jones/desk", "US concurs"), ("KR/lee/phone", "KR on mobile")]:
        got = group.deliver(group.send(sender, text))
        assert all(r.body == text.encode() and not r.warnings for r in got.values())
    # everyone saw everything in order: same transcript everywhere
    assert len({d.transcript_digest() for d in group.devices.values()}) == 1


def test_two_parties() -> None:
    g = Group(["KR", "US"])
    for i in range(4):
        sender = ["KR/park/desk", "US/smith/desk"][i % 2]
        got = g.deliver(g.send(sender, f"message {i}"))
        assert len(got) == 4 and {r.counter for r in got.values()} == {i // 2 + 1}
    assert len({d.transcript_digest() for d in g.devices.values()}) == 1


def test_messages_out_of_order_and_a_late_one(group: Group) -> None:
    a, b = "US/smith/desk", "JP/sato/desk"
    m1, m2, m3 = (group.devices[a].encrypt(f"m{i}".encode(), T + i) for i in (1, 2, 3))
    r3 = group.devices[b].decrypt(m3)
    assert r3.body == b"m3" and r3.warnings == [f"messages [1, 2] from {a} not received yet"]
    r1 = group.devices[b].decrypt(m1)
    r2 = group.devices[b].decrypt(m2)
    assert (r1.body, r2.body) == (b"m1", b"m2") and not r2.warnings
    # a replay is refused by the ratchet
    with pytest.raises(ConsultError, match="cannot decrypt"):
        group.devices[b].decrypt(m2)


def test_device_survives_a_restart(group: Group, tmp_path: Path) -> None:
    a, b = "KR/lee/desk", "JP/tanaka/desk"
    group.deliver(group.send(a, "before restart"))
    path = tmp_path / "tanaka.state"
    group.devices[b].save(path)
    blob = path.read_bytes()
    assert b"before restart" not in blob and b"JP/tanaka" not in blob
    restored = Device.load(path, PASS, group.keys)
    group.devices[b] = restored
    assert restored.identity() == group.devices[b].identity()
    assert restored.transcript_digest() == group.devices[a].transcript_digest()
    # it reads what comes next and answers on its restored sessions
    assert restored.decrypt(group.send(a, "after restart")).body == b"after restart"
    got = group.deliver(group.send(b, "still here"))
    assert got[a].body == b"still here" and got[a].counter == 1
    with pytest.raises(ConsultError, match="wrong passphrase"):
        Device.load(path, "wrong passphrase", group.keys)
    bad = bytearray(blob)
    bad[-10] ^= 1
    path.write_bytes(bytes(bad))
    with pytest.raises(ConsultError, match="altered"):
        Device.load(path, PASS, group.keys)


def test_removed_device_cannot_read_later_messages(group: Group) -> None:
    lost = "KR/lee/phone"
    group.deliver(group.send("US/smith/desk", "all devices read this"))
    v2 = group.roster("KR", 2, drop=(lost,))
    for dev in group.devices.values():
        if dev.device != lost:  # whoever holds the lost phone ignores the new roster
            assert dev.apply_roster(v2)
    msg = group.send("US/smith/desk", "not for the lost phone")
    assert lost not in {s.device for s in msg.sealed}
    with pytest.raises(NotForThisDevice):
        group.devices[lost].decrypt(msg)
    # a ciphertext made for another device, relabelled, does not open either
    desk = next(s for s in msg.sealed if s.device == "KR/lee/desk")
    stolen = GroupMessage(msg.consultation, msg.sender, (Sealed(lost, desk.type, desk.ciphertext),))
    with pytest.raises(ConsultError):
        group.devices[lost].decrypt(stolen)
    # and what the removed device still sends is refused by the members
    old = group.devices[lost].encrypt(b"I am still here", T)
    with pytest.raises(ConsultError, match="not a member device"):
        group.devices["US/smith/desk"].decrypt(old)
    # rolling the roster back is refused
    with pytest.raises(RosterError, match="older"):
        group.devices["US/smith/desk"].apply_roster(group.rosters["KR"])


def test_tampered_ciphertext_fails_and_leaves_the_session_intact(group: Group) -> None:
    a, b = "JP/sato/desk", "US/jones/desk"
    group.deliver(group.send(b, "start"))
    group.deliver(group.send(a, "session up"))
    msg = group.devices[a].encrypt(b"real", T)
    sealed = list(msg.sealed)
    i = next(k for k, s in enumerate(sealed) if s.device == b)
    ct = bytearray(sealed[i].ciphertext)
    ct[len(ct) // 2] ^= 0x04
    sealed[i] = Sealed(b, sealed[i].type, bytes(ct))
    with pytest.raises(ConsultError, match="cannot decrypt"):
        group.devices[b].decrypt(GroupMessage(msg.consultation, msg.sender, tuple(sealed)))
    assert group.devices[b].decrypt(msg).body == b"real"


def test_transcript_divergence_detected(group: Group, tmp_path: Path) -> None:
    """A sender (here a cloned device) shows US one message and JP another; when US next
    speaks, JP finds that US holds a different message than it does."""
    a = "KR/park/desk"
    group.deliver(group.send(a, "hello"))
    group.deliver(group.send("US/smith/desk", "hello KR"))
    group.deliver(group.send("JP/sato/desk", "hello KR"))
    group.devices[a].save(tmp_path / "a")
    clone = Device.load(tmp_path / "a", PASS, group.keys)
    to_us = group.devices[a].encrypt(b"alert the public", T)
    to_jp = clone.encrypt(b"do not alert the public", T)
    group.devices["US/smith/desk"].decrypt(to_us)
    got = group.devices["JP/sato/desk"].decrypt(to_jp)
    assert got.counter == 2 and not got.warnings  # each on its own looks fine
    reply = group.devices["US/smith/desk"].encrypt(b"agreed", T)
    with pytest.raises(TranscriptDivergence) as err:
        group.devices["JP/sato/desk"].decrypt(reply)
    assert err.value.problems == [f"US/smith/desk holds a different message 2 of {a} than we do"]
    assert err.value.received is not None and err.value.received.body == b"agreed"
    # a third member that got the first version learns of the second from JP
    group.devices["KR/lee/desk"].decrypt(to_us)
    jp_says = group.devices["JP/sato/desk"].encrypt(b"?", T)
    with pytest.raises(TranscriptDivergence, match=f"holds a different message 2 of {a}"):
        group.devices["KR/lee/desk"].decrypt(jp_says)


def test_claim_about_a_message_not_yet_seen_is_checked_when_it_arrives(group: Group) -> None:
    a, b, c = "KR/lee/desk", "US/smith/desk", "JP/sato/desk"
    m1 = group.devices[a].encrypt(b"one", T)
    group.devices[b].decrypt(m1)
    reply = group.devices[b].encrypt(b"re: one", T)
    r = group.devices[c].decrypt(reply)  # c has not seen m1 yet: the claim waits
    assert r.body == b"re: one"
    assert group.devices[c].decrypt(m1).body == b"one"  # and matches when it comes


def test_rosters_and_bundles_are_checked(group: Group) -> None:
    dev = group.devices["US/smith/desk"]
    # same version, different content: KR equivocating
    with pytest.raises(RosterError, match="two different rosters of version 1"):
        dev.apply_roster(group.roster("KR", 1, drop=("KR/lee/phone",)))
    # a roster signed by another party's key
    r = Roster(CONSULTATION, "KR", 5, ())
    forged = sign_roster(Roster(CONSULTATION, "JP", 5, ()), group.signers["JP"])
    with pytest.raises(RosterError):
        dev.apply_roster(SignedRoster(_encode(r), forged.key_id, forged.signature))
    # JP listing a device under KR's name
    with pytest.raises(RosterError, match="not named under party JP"):
        sign_roster(
            Roster(CONSULTATION, "JP", 2, (DeviceKeys("KR/x/y", "a", "b"),)), group.signers["JP"]
        )
    # a key bundle whose signature does not hold
    bundle = group.devices["JP/sato/desk"].key_bundle(dev.device, 1)
    other = group.devices["JP/tanaka/desk"].key_bundle(dev.device, 1).signature
    with pytest.raises(ConsultError, match="bad signature"):
        dev.add_bundle(KeyBundle(bundle.body, other))
    with pytest.raises(ConsultError, match="is for KR/lee/desk"):
        dev.add_bundle(group.devices["JP/sato/desk"].key_bundle("KR/lee/desk", 1))


def _encode(r: Roster) -> bytes:
    return msgspec.msgpack.encode(r)


def test_missing_keys_are_named() -> None:
    g = Group(["KR", "US"])
    newcomer = Device("US/new/desk", CONSULTATION, g.keys, _key())
    for r in g.rosters.values():
        newcomer.apply_roster(r)
    with pytest.raises(ConsultError, match="not in the current rosters"):
        newcomer.encrypt(b"hi", T)
    PEOPLE_US = [*PEOPLE["US"], ("new", "alternate", ["desk"])]
    g.devices["US/new/desk"] = newcomer
    PEOPLE["US"], saved = PEOPLE_US, PEOPLE["US"]
    try:
        v2 = g.roster("US", 2)
    finally:
        PEOPLE["US"] = saved
    for d in g.devices.values():
        d.apply_roster(v2)
    with pytest.raises(MissingKeys) as err:
        g.devices["KR/lee/desk"].encrypt(b"hi", T)
    assert err.value.devices == ["US/new/desk"]
    g.devices["KR/lee/desk"].add_bundle(newcomer.key_bundle("KR/lee/desk", 1))
    msg = g.devices["KR/lee/desk"].encrypt(b"welcome", T)
    assert newcomer.decrypt(msg).body == b"welcome"


def test_a_party_showing_members_different_rosters_is_found_out(group: Group) -> None:
    """KR signs two different version-2 rosters and gives US one and JP the other."""
    to_us = group.roster("KR", 2, drop=("KR/lee/phone",))
    to_others = group.roster("KR", 2, drop=("KR/park/desk",))
    group.devices["US/smith/desk"].apply_roster(to_us)
    for d in ("KR/lee/desk", "JP/sato/desk"):
        group.devices[d].apply_roster(to_others)
    msg = group.devices["KR/lee/desk"].encrypt(b"under my roster", T)
    with pytest.raises(TranscriptDivergence) as err:
        group.devices["US/smith/desk"].decrypt(msg)
    assert err.value.problems == [
        "KR/lee/desk holds other rosters of the same versions than we do",
        "KR/lee/desk encrypted to other devices than the rosters name "
        "(extra ['KR/lee/phone'], left out ['KR/park/desk'])",
    ]
    # and once US hears of the other version-2 roster itself, it is refused
    with pytest.raises(RosterError, match="two different rosters of version 2"):
        group.devices["US/smith/desk"].apply_roster(to_others)


def test_roster_news_in_transit_is_a_warning(group: Group) -> None:
    v2 = group.roster("KR", 2, drop=("KR/lee/phone",))
    group.devices["KR/lee/desk"].apply_roster(v2)
    got = group.devices["JP/sato/desk"].decrypt(group.devices["KR/lee/desk"].encrypt(b"x", T))
    assert got.warnings == ["sent under KR roster v2, we hold v1"]


def test_a_member_cannot_speak_as_another_device(group: Group) -> None:
    """JP/tanaka relabels its message as JP/sato's: the Olm session is bound to the
    sender's roster identity key, so the receiver cannot open it as sato's."""
    fake = group.devices["JP/tanaka/desk"].encrypt(b"I am sato", T)
    relabelled = GroupMessage(fake.consultation, "JP/sato/desk", fake.sealed)
    with pytest.raises(ConsultError, match="cannot decrypt"):
        group.devices["US/smith/desk"].decrypt(relabelled)
    # also once sato and smith have a session of their own
    group.deliver(group.send("JP/sato/desk", "real sato"))
    group.deliver(group.send("US/smith/desk", "hello sato"))
    fake = group.devices["JP/tanaka/desk"].encrypt(b"I am sato again", T)
    relabelled = GroupMessage(fake.consultation, "JP/sato/desk", fake.sealed)
    with pytest.raises(ConsultError, match="cannot decrypt"):
        group.devices["US/smith/desk"].decrypt(relabelled)


LEADERS_ONLY = {p: people[:1] for p, people in PEOPLE.items()}
LEADERS_ONLY["KR"] = [("lee", "leader", ["desk"])]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 50)), max_size=40))
def test_any_interleaving_of_sends_and_deliveries_agrees(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[int, int, int]]
) -> None:
    """Concurrent senders, deliveries in any order (also across one sender's messages)
    and restarts never look like divergence, and in the end every device holds the
    same transcript."""
    state = tmp_path_factory.mktemp("state") / "device"
    g = Group(["KR", "US", "JP"], LEADERS_ONLY)
    names = sorted(g.devices)
    inbox: dict[str, list[GroupMessage]] = {n: [] for n in names}
    sent: dict[str, set[bytes]] = {n: set() for n in names}
    got: dict[str, set[bytes]] = {n: set() for n in names}

    def deliver(receiver: str, pick: int) -> None:
        msg = inbox[receiver].pop(pick % len(inbox[receiver]))
        got[receiver].add(g.devices[receiver].decrypt(msg).body)

    for i, (op, who, pick) in enumerate(steps):
        name = names[who]
        if op == 3:
            g.devices[name].save(state)
            g.devices[name] = Device.load(state, PASS, g.keys)
        elif op == 0 or not inbox[name]:
            body = f"{name} #{i}".encode()
            msg = g.devices[name].encrypt(body, T + i)
            for n in names:
                if n != name:
                    inbox[n].append(msg)
                    sent[n].add(body)
        else:
            deliver(name, pick)
    for n in names:
        while inbox[n]:
            deliver(n, 0)
    assert got == sent
    assert len({g.devices[n].transcript_digest() for n in names}) == 1


def test_a_rekeyed_device_gets_fresh_sessions(group: Group) -> None:
    """KR replaces the lost phone's keys (a new account under the same id): members drop
    the old sessions and need the new device's keys before sending again."""
    group.deliver(group.send("US/smith/desk", "before"))
    phone = "KR/lee/phone"
    group.devices[phone] = Device(phone, CONSULTATION, group.keys, _key())
    for r in group.rosters.values():
        group.devices[phone].apply_roster(r)
    v2 = group.roster("KR", 2)
    for dev in group.devices.values():
        dev.apply_roster(v2)
    smith = group.devices["US/smith/desk"]
    with pytest.raises(MissingKeys) as err:
        smith.encrypt(b"after", T)
    assert err.value.devices == [phone]
    smith.add_bundle(group.devices[phone].key_bundle(smith.device))
    assert group.devices[phone].decrypt(smith.encrypt(b"after", T)).body == b"after"


def test_who_holds_the_devices_is_signed_bound_to_its_roster_and_only_goes_up() -> None:
    """The holders list (names, roles, ranks) is the party's signed word for one roster
    version: members refuse it forged, for another roster, rolled back or equivocated."""
    group = Group(["KR", "US", "JP"], told=False)
    us = group.devices["US/smith/desk"]
    assert us.membership.devices()["KR/park/desk"].principal is None  # not told yet
    v1 = group.holders(group.rosters["KR"])
    assert us.apply_holders(v1) and not us.apply_holders(v1)
    park = us.membership.devices()["KR/park/desk"]
    assert (park.name, park.principal and park.principal.role) == ("KR/park/desk", "alternate")
    assert us.membership.chains()["KR"] == ["lee", "park"]
    assert us.membership.chains()["JP"] == []  # JP's list has not come
    # signed by another party's key, as KR's
    stranger = Signer("KR", SigningKey(b"\x09" * 32), b"")
    forged = sign_holders(msgspec.msgpack.decode(v1.holders, type=Holders), group.rosters["KR"],
                          stranger)  # fmt: skip
    with pytest.raises(RosterError, match="not known as theirs"):
        us.apply_holders(forged)
    # the same version with other holders: equivocation
    swapped = [("park", "leader", ["desk"]), ("lee", "alternate", ["desk", "phone"])]
    group.people = {**group.people, "KR": swapped}
    with pytest.raises(RosterError, match="two different holders lists of version 1"):
        us.apply_holders(group.holders(group.rosters["KR"]))
    group.people = PEOPLE
    # a list that names another roster (here version 2's list moved onto version 1's hash)
    v2 = group.roster("KR", 2, drop=("KR/lee/phone",))
    with pytest.raises(RosterError, match="do not describe roster KR v1"):
        us.apply_holders(group.holders(v2))
    us.apply_roster(v2)
    assert "KR/lee/phone" not in us.membership.devices()
    assert not us.apply_holders(v1)  # held already; it still names the rest until v2 comes
    assert us.membership.devices()["KR/park/desk"].name == "KR/park/desk"
    v2_holders = group.holders(v2)
    assert us.apply_holders(v2_holders)
    with pytest.raises(RosterError, match="older than version 2"):
        us.apply_holders(v1)
    # a holders list for the right version but not this roster's bytes
    other_v2 = group.roster("KR", 2, drop=("KR/park/desk",))
    bad = Holders(CONSULTATION, "KR", 2, roster_hash(other_v2), ())
    with pytest.raises(RosterError, match="name another roster"):
        sign_holders(bad, v2, group.signers["KR"])
    # every device held exactly once
    lone = Holders(CONSULTATION, "KR", 2, roster_hash(v2), (Principal("lee", "leader", 0, ()),))
    with pytest.raises(RosterError, match="each roster device once"):
        sign_holders(lone, v2, group.signers["KR"])


def test_device_ids_say_nothing_of_their_holder() -> None:
    dev = Device("KR/x", CONSULTATION, {}, _key())
    _, ed = dev.identity()
    ident = device_id("KR", ed)
    assert ident.startswith("KR/") and len(ident) == 15 and ident == device_id("KR", ed)
    assert device_id("KR", Device("KR/y", CONSULTATION, {}, _key()).identity()[1]) != ident
