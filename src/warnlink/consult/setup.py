"""Setting a party up: its devices, first roster and settings, and where they live.

What `init_party` writes (devices' state under the passphrase, the first signed roster
and holders list, the settings) is all a `ChannelService` needs to start, in this or any
later process.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import vodozemac as vz
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519

from warnlink.consult.crypto import Device, StateKey
from warnlink.consult.log import NOTE_ORIGIN_PREFIX, canonical
from warnlink.consult.party_store import PartyStore
from warnlink.consult.roster import (
    DeviceKeys,
    HeldDevice,
    Holders,
    Principal,
    Role,
    Roster,
    SignedRoster,
    device_id,
    roster_hash,
    sign_holders,
    sign_roster,
)
from warnlink.exchange.node import HubAddress
from warnlink.exchange.pki import PkiError
from warnlink.exchange.signing import Signer, SigningCertificates

PASSPHRASE_ENV = "WARNLINK_CONSULT_PASSPHRASE"


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


def init_party(
    pki: Path, party: str, data: Path, consultation: str, members: list[str], keeper: str,
    principals: list[tuple[str, list[str]]], passphrase: str, ack_timeouts: list[float],
    kdf: tuple[int, int] | None = None,
) -> SignedRoster:  # fmt: skip
    """Create the party's devices (new Olm accounts, saved under the passphrase), its
    first signed roster (opaque device ids and keys: public) and who holds them
    (principals in rank order, the first the leader: for members only)."""
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
    for rank, (name, labels) in enumerate(principals):
        held = []
        for label in labels:
            account = vz.Account()
            dev_id = device_id(party, account.ed25519_key.to_base64())
            key = StateKey(passphrase) if kdf is None else StateKey(passphrase, None, *kdf)
            devices[dev_id] = Device(dev_id, consultation, keys, key, account)
            held.append(HeldDevice(dev_id, label))
        role: Role = "leader" if rank == 0 else "alternate"
        listed.append(Principal(name, role, rank, tuple(held)))
    entries = tuple(DeviceKeys(d, *dev.identity()) for d, dev in devices.items())
    signed = sign_roster(Roster(consultation, party, 1, entries), signer)
    holders = sign_holders(
        Holders(consultation, party, 1, roster_hash(signed), tuple(listed)), signed, signer
    )
    (data / "devices").mkdir(parents=True, exist_ok=True)
    for dev in devices.values():
        dev.apply_roster(signed)
        dev.apply_holders(holders)
        dev.save(state_path(data, dev.device))
    settings = {"consultation": consultation, "party": party, "members": sorted(members),
                "keeper": keeper, "ack_timeouts": ack_timeouts}  # fmt: skip
    with store.transaction() as db:
        db.execute("INSERT INTO meta VALUES ('settings', ?)", (json.dumps(settings),))
        db.execute("INSERT INTO certs VALUES (?, ?)", (party, signer.certificate_der))
        db.execute("INSERT INTO own_rosters (version, signed, holders) VALUES (1, ?, ?)",
                   (canonical(signed), canonical(holders)))  # fmt: skip
    store.close()
    return signed


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


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
