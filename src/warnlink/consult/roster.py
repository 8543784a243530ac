"""Who is in a consultation: each party's signed roster of principals and their devices.

A device is only ever sent to, or believed, because its party's signing key put its
identity keys in a roster. Rosters are versioned: a party removes a device (lost, or its
holder relieved) by signing a new version without it, members refuse older or rewritten
versions, and from then on nothing is encrypted to the removed device.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import msgspec

from warnlink.consult.log import SignerLike
from warnlink.exchange.envelope import PARTY_RE
from warnlink.exchange.signing import Verifier, key_id_of

ROSTER_CONTEXT = b"WarnLink consult roster v1\x00"
"""Prefix of the bytes a party signs for a roster."""

Role = Literal["leader", "alternate"]


class RosterError(ValueError):
    """A roster refused: bad signature, wrong party, rolled back, malformed."""


class DeviceKeys(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A device's Olm identity keys (unpadded base64, as vodozemac writes them). Its id
    starts with its party's id and a slash, so a party can only list its own devices."""

    device: str
    curve25519: str
    ed25519: str


class Principal(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A leader or an alternate; `rank` orders who stands in next (0 is the leader)."""

    name: str
    role: Role
    rank: int
    devices: tuple[DeviceKeys, ...]


class Roster(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    consultation: str
    party: str
    version: int
    principals: tuple[Principal, ...]


class SignedRoster(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A roster's canonical bytes and its party's Ed25519 signature of them."""

    roster: bytes
    key_id: bytes
    signature: bytes


_encoder = msgspec.msgpack.Encoder()
_roster_decoder = msgspec.msgpack.Decoder(Roster)


def _check(roster: Roster) -> None:
    if not PARTY_RE.fullmatch(roster.party.encode()):
        raise RosterError(f"not a party id: {roster.party!r}")
    if roster.version < 1:
        raise RosterError("roster versions start at 1")
    seen: set[str] = set()
    ranks: set[int] = set()
    leaders = 0
    for p in roster.principals:
        leaders += p.role == "leader"
        if p.rank in ranks:
            raise RosterError(f"{roster.party}: two principals of rank {p.rank}")
        ranks.add(p.rank)
        if (p.role == "leader") != (p.rank == 0):
            raise RosterError(f"{roster.party}: the leader, and only the leader, has rank 0")
        for d in p.devices:
            if not d.device.startswith(roster.party + "/"):
                raise RosterError(f"device {d.device} is not named under party {roster.party}")
            if d.device in seen:
                raise RosterError(f"device {d.device} listed twice")
            seen.add(d.device)
    if roster.principals and leaders != 1:
        raise RosterError(f"{roster.party}: a roster has exactly one leader")


def sign_roster(roster: Roster, signer: SignerLike) -> SignedRoster:
    """The party's signed roster; the signer must be that party."""
    _check(roster)
    if signer.party != roster.party:
        raise RosterError(f"{signer.party} cannot sign the roster of {roster.party}")
    data = _encoder.encode(roster)
    return SignedRoster(data, key_id_of(signer.public_key), signer.sign(ROSTER_CONTEXT + data))


def open_roster(signed: SignedRoster, keys: Mapping[str, Verifier]) -> Roster:
    """The roster, once its bytes are canonical and signed by its own party's key."""
    try:
        roster = _roster_decoder.decode(signed.roster)
    except msgspec.DecodeError as exc:
        raise RosterError(f"malformed roster: {exc}") from exc
    if _encoder.encode(roster) != signed.roster:
        raise RosterError("roster bytes are not canonical")
    v = keys.get(roster.party)
    if v is None or v.key_id != signed.key_id:
        raise RosterError(f"roster of {roster.party} signed by a key not known as theirs")
    if not v.verify(signed.signature, ROSTER_CONTEXT + signed.roster):
        raise RosterError(f"bad signature on the roster of {roster.party}")
    _check(roster)
    return roster


@dataclass(frozen=True)
class Member:
    """A device as the membership knows it: its keys and whose it is."""

    keys: DeviceKeys
    party: str
    principal: str
    role: Role
    rank: int


class Membership:
    """The current roster of every party in one consultation, as this device accepted
    them. Versions only go up; a second, different roster of the same version is the
    party equivocating and is refused."""

    def __init__(self, consultation: str, keys: Mapping[str, Verifier]) -> None:
        self.consultation = consultation
        self.keys = keys
        self.rosters: dict[str, Roster] = {}
        self.signed: dict[str, SignedRoster] = {}

    def apply(self, signed: SignedRoster) -> bool:
        """Accept a party's roster; True if it changed the membership, False if already
        held. RosterError if it is not newer than the one held, or not valid."""
        roster = open_roster(signed, self.keys)
        if roster.consultation != self.consultation:
            raise RosterError(f"roster of consultation {roster.consultation}")
        held = self.rosters.get(roster.party)
        if held is not None:
            if roster.version == held.version:
                if signed.roster == self.signed[roster.party].roster:
                    return False
                raise RosterError(
                    f"{roster.party} signed two different rosters of version {roster.version}"
                )
            if roster.version < held.version:
                raise RosterError(
                    f"roster of {roster.party} version {roster.version} is older than "
                    f"version {held.version} held"
                )
        devices = self.devices()
        for p in roster.principals:
            for d in p.devices:
                other = devices.get(d.device)
                if other is not None and other.party != roster.party:
                    raise RosterError(f"device {d.device} already belongs to {other.party}")
        self.rosters[roster.party] = roster
        self.signed[roster.party] = signed
        return True

    def apply_all(self, signed: Iterable[SignedRoster]) -> None:
        for s in signed:
            self.apply(s)

    def devices(self) -> dict[str, Member]:
        """Every member device now, by id."""
        out: dict[str, Member] = {}
        for party, roster in self.rosters.items():
            for p in roster.principals:
                for d in p.devices:
                    out[d.device] = Member(d, party, p.name, p.role, p.rank)
        return out

    def versions(self) -> tuple[tuple[str, int], ...]:
        return tuple(sorted((p, r.version) for p, r in self.rosters.items()))

    def digest(self) -> bytes:
        """SHA-256 over every party's current signed roster bytes, in party order: what
        a message carries so its receivers know which membership it was sent under."""
        h = hashlib.sha256(b"WarnLink consult membership v1\x00")
        for party in sorted(self.signed):
            data = self.signed[party].roster
            h.update(len(data).to_bytes(4, "big") + data)
        return h.digest()
