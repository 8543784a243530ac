"""Who is in a consultation: each party's signed roster of devices, and, for members only,
the signed list of who holds them.

A device is only ever sent to, or believed, because its party's signing key put its
identity keys in a roster. Rosters are versioned: a party removes a device (lost, or its
holder relieved) by signing a new version without it, members refuse older or rewritten
versions, and from then on nothing is encrypted to the removed device.

The roster travels in the clear (the hub relays it, and Olm needs the keys before any
session exists), so it names devices only by opaque ids (`device_id`). Who holds each
device (principal name, role, rank: the escalation chain) is the party's signed
`Holders`, bound to one roster version by its hash and sent only inside the encrypted
group channel, so members learn it and the hub does not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

import msgspec

from warnlink.consult.log import SignerLike
from warnlink.exchange.envelope import PARTY_RE
from warnlink.exchange.signing import Verifier, key_id_of

ROSTER_CONTEXT = b"WarnLink consult roster v2\x00"
"""Prefix of the bytes a party signs for a roster (v2: devices only, no principals)."""
HOLDERS_CONTEXT = b"WarnLink consult holders v1\x00"
"""Prefix of the bytes a party signs for who holds its roster's devices."""
DEVICE_ID_CONTEXT = b"WarnLink consult device id v1\x00"

Role = Literal["leader", "alternate"]


class RosterError(ValueError):
    """A roster refused: bad signature, wrong party, rolled back, malformed."""


def device_id(party: str, ed25519: str) -> str:
    """An id that says nothing about its holder: the party, then 12 hex digits of a hash
    of the device's Ed25519 identity key (so it cannot clash with another device's)."""
    digest = hashlib.sha256(DEVICE_ID_CONTEXT + ed25519.encode()).hexdigest()
    return f"{party}/{digest[:12]}"


class DeviceKeys(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A device's Olm identity keys (unpadded base64, as vodozemac writes them). Its id
    starts with its party's id and a slash, so a party can only list its own devices."""

    device: str
    curve25519: str
    ed25519: str


class Roster(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The public part: which devices the party's members encrypt to."""

    consultation: str
    party: str
    version: int
    devices: tuple[DeviceKeys, ...]


class SignedRoster(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A roster's canonical bytes and its party's Ed25519 signature of them."""

    roster: bytes
    key_id: bytes
    signature: bytes


class HeldDevice(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One of a principal's devices: its roster id and what its holder calls it."""

    device: str
    label: str


class Principal(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A leader or an alternate; `rank` orders who stands in next (0 is the leader)."""

    name: str
    role: Role
    rank: int
    devices: tuple[HeldDevice, ...]


class Holders(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Who holds the devices of the party's roster `version`, whose signed bytes hash to
    `roster` (SHA-256): the binding, so a list cannot be moved onto another roster."""

    consultation: str
    party: str
    version: int
    roster: bytes
    principals: tuple[Principal, ...]


class SignedHolders(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    holders: bytes
    key_id: bytes
    signature: bytes


_encoder = msgspec.msgpack.Encoder()
_roster_decoder = msgspec.msgpack.Decoder(Roster)
_holders_decoder = msgspec.msgpack.Decoder(Holders)
T = TypeVar("T", Roster, Holders)


def roster_hash(signed: SignedRoster) -> bytes:
    return hashlib.sha256(signed.roster).digest()


def _check(roster: Roster) -> None:
    if not PARTY_RE.fullmatch(roster.party.encode()):
        raise RosterError(f"not a party id: {roster.party!r}")
    if roster.version < 1:
        raise RosterError("roster versions start at 1")
    seen: set[str] = set()
    for d in roster.devices:
        if not d.device.startswith(roster.party + "/"):
            raise RosterError(f"device {d.device} is not named under party {roster.party}")
        if d.device in seen:
            raise RosterError(f"device {d.device} listed twice")
        seen.add(d.device)


def check_holders(holders: Holders, roster: Roster, signed: SignedRoster) -> None:
    """RosterError unless `holders` describes exactly this signed roster: every device
    held by one principal, ranks distinct, one leader and it has rank 0."""
    if (holders.consultation, holders.party, holders.version) != (
        roster.consultation, roster.party, roster.version,
    ):  # fmt: skip
        raise RosterError(
            f"holders of {holders.party} v{holders.version} do not describe roster "
            f"{roster.party} v{roster.version}"
        )
    if holders.roster != roster_hash(signed):
        raise RosterError(f"holders of {roster.party} v{roster.version} name another roster")
    ranks: set[int] = set()
    held: list[str] = []
    names: set[tuple[str, str]] = set()
    leaders = 0
    for p in holders.principals:
        for d in p.devices:
            if (p.name, d.label) in names:
                raise RosterError(f"{roster.party}: two devices named {p.name}/{d.label}")
            names.add((p.name, d.label))
        leaders += p.role == "leader"
        if p.rank in ranks:
            raise RosterError(f"{roster.party}: two principals of rank {p.rank}")
        ranks.add(p.rank)
        if (p.role == "leader") != (p.rank == 0):
            raise RosterError(f"{roster.party}: the leader, and only the leader, has rank 0")
        held += [d.device for d in p.devices]
    if holders.principals and leaders != 1:
        raise RosterError(f"{roster.party}: a roster has exactly one leader")
    listed = [d.device for d in roster.devices]
    if sorted(held) != sorted(listed):
        raise RosterError(
            f"holders of {roster.party} v{roster.version} do not hold each roster device once"
        )


def sign_roster(roster: Roster, signer: SignerLike) -> SignedRoster:
    """The party's signed roster; the signer must be that party."""
    _check(roster)
    return SignedRoster(*_sign(roster, "roster", ROSTER_CONTEXT, signer))


def sign_holders(holders: Holders, signed: SignedRoster, signer: SignerLike) -> SignedHolders:
    """Who holds the devices of `signed` (the party's own roster), signed by the party."""
    roster = _roster_decoder.decode(signed.roster)
    check_holders(holders, roster, signed)
    return SignedHolders(*_sign(holders, "holders", HOLDERS_CONTEXT, signer))


def _sign(
    value: Roster | Holders, what: str, context: bytes, signer: SignerLike
) -> tuple[bytes, bytes, bytes]:
    """Canonical bytes, key id and signature of a value only its own party may sign."""
    if signer.party != value.party:
        raise RosterError(f"{signer.party} cannot sign the {what} of {value.party}")
    data = _encoder.encode(value)
    return data, key_id_of(signer.public_key), signer.sign(context + data)


def _open(
    decoder: msgspec.msgpack.Decoder[T], what: str, data: bytes, key_id: bytes,
    signature: bytes, context: bytes, keys: Mapping[str, Verifier],
) -> T:  # fmt: skip
    """The decoded value once its bytes are canonical and signed by its own party's key."""
    try:
        value = decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise RosterError(f"malformed {what}: {exc}") from exc
    if _encoder.encode(value) != data:
        raise RosterError(f"{what} bytes are not canonical")
    v = keys.get(value.party)
    if v is None or v.key_id != key_id:
        raise RosterError(f"{what} of {value.party} signed by a key not known as theirs")
    if not v.verify(signature, context + data):
        raise RosterError(f"bad signature on the {what} of {value.party}")
    return value


def open_roster(signed: SignedRoster, keys: Mapping[str, Verifier]) -> Roster:
    """The roster, once its bytes are canonical and signed by its own party's key."""
    roster = _open(_roster_decoder, "roster", signed.roster, signed.key_id, signed.signature,
                   ROSTER_CONTEXT, keys)  # fmt: skip
    _check(roster)
    return roster


def open_holders(signed: SignedHolders, keys: Mapping[str, Verifier]) -> Holders:
    """The holders list, once canonical and signed by its party (not yet bound to a roster:
    `Membership.apply_holders` does that)."""
    return _open(_holders_decoder, "holders list", signed.holders, signed.key_id, signed.signature,
                 HOLDERS_CONTEXT, keys)  # fmt: skip


@dataclass(frozen=True)
class Member:
    """A device as the membership knows it: its keys, its party and, once the party's
    holders list has come through the channel, whose it is."""

    keys: DeviceKeys
    party: str
    principal: Principal | None = None
    label: str = ""

    @property
    def name(self) -> str:
        """How members show the device: party/principal/label, or its id if not known."""
        if self.principal is None:
            return self.keys.device
        return f"{self.party}/{self.principal.name}/{self.label}"


class Membership:
    """The current roster of every party in one consultation, as this device accepted
    them, and who holds their devices. Versions only go up; a second, different roster
    (or holders list) of the same version is the party equivocating and is refused."""

    def __init__(self, consultation: str, keys: Mapping[str, Verifier]) -> None:
        self.consultation = consultation
        self.keys = keys
        self.rosters: dict[str, Roster] = {}
        self.signed: dict[str, SignedRoster] = {}
        self.holders: dict[str, Holders] = {}
        self.signed_holders: dict[str, SignedHolders] = {}

    def apply(self, signed: SignedRoster) -> bool:
        """Accept a party's roster; True if it changed the membership, False if already
        held. RosterError if it is not newer than the one held, or not valid."""
        roster = open_roster(signed, self.keys)
        if roster.consultation != self.consultation:
            raise RosterError(f"roster of consultation {roster.consultation}")
        held = self.rosters.get(roster.party)
        if held is not None and not _newer(
            roster.party,
            "roster",
            roster.version,
            held.version,
            signed.roster,
            self.signed[roster.party].roster,
        ):
            return False
        devices = self.devices()
        for d in roster.devices:
            other = devices.get(d.device)
            if other is not None and other.party != roster.party:
                raise RosterError(f"device {d.device} already belongs to {other.party}")
        self.rosters[roster.party] = roster
        self.signed[roster.party] = signed
        return True

    def apply_all(self, signed: Iterable[SignedRoster]) -> None:
        for s in signed:
            self.apply(s)

    def apply_holders(self, signed: SignedHolders) -> bool:
        """Accept who holds a party's devices, for the roster version held now; True if
        new, False if held or older than the roster held. RosterError if older than the
        list held, equivocating, or for a roster not held (the party sends each roster
        before its list, so a list for a newer one is not to be believed)."""
        holders = open_holders(signed, self.keys)
        roster = self.rosters.get(holders.party)
        if holders.consultation != self.consultation or roster is None:
            raise RosterError(f"holders list of {holders.party} for no roster held")
        held = self.holders.get(holders.party)
        old = self.signed_holders.get(holders.party)
        if held is not None and old is not None and not _newer(
            holders.party, "holders list", holders.version, held.version, signed.holders,
            old.holders,
        ):  # fmt: skip
            return False
        if holders.version < roster.version:
            return False  # stale: the party removed a device before this list went out
        check_holders(holders, roster, self.signed[holders.party])
        self.holders[holders.party] = holders
        self.signed_holders[holders.party] = signed
        return True

    def devices(self) -> dict[str, Member]:
        """Every member device now, by id (with its holder once known)."""
        out: dict[str, Member] = {}
        for party, roster in self.rosters.items():
            for d in roster.devices:
                out[d.device] = Member(d, party)
        for party, holders in self.holders.items():
            for p in holders.principals:
                for h in p.devices:
                    m = out.get(h.device)
                    if m is not None:  # a newer roster may have removed it
                        out[h.device] = Member(m.keys, party, p, h.label)
        return out

    def chains(self) -> dict[str, list[str]]:
        """Every party's principals in the order they stand in (leader, then alternates
        by rank) who still hold a device; empty while its holders list is not here."""
        devices = self.devices()
        out: dict[str, list[str]] = {}
        for party in self.rosters:
            holders = self.holders.get(party)
            principals = sorted(holders.principals, key=lambda p: p.rank) if holders else []
            out[party] = [p.name for p in principals
                          if any(h.device in devices for h in p.devices)]  # fmt: skip
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


def _newer(party: str, what: str, version: int, held: int, data: bytes, held_data: bytes) -> bool:
    """True for a newer version, False for the one held; RosterError for an older one or
    another one of the same version."""
    if version == held:
        if data == held_data:
            return False
        raise RosterError(f"{party} signed two different {what}s of version {version}")
    if version < held:
        raise RosterError(f"{what} of {party} version {version} is older than version {held} held")
    return True
