"""End-to-end encryption between the principals' devices: pairwise Olm, fanned out.

The hub relays consultation traffic (envelope kind 6) but must never read it, and a
device that leaves the roster must not read what follows. So every member device has an
Olm account (vodozemac: Curve25519 + Ed25519 identity keys), every pair of devices has an
Olm (Double Ratchet) session, and a group message is encrypted separately to each device
in the current rosters. No group key exists that a removed device could keep.

Each message also carries the sender's transcript: its own counter and the hash of its
previous message, and the last message it has seen from every other device. A receiver
compares those claims with what it holds itself, so a sender that shows different
members different messages (or a member that missed one) is found out. docs/
consultation.md gives the formats.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import nacl.pwhash
import nacl.secret
import nacl.utils
import vodozemac as vz
from nacl.exceptions import CryptoError

from warnlink.consult.roster import Member, Membership, RosterError, SignedHolders, SignedRoster
from warnlink.exchange.signing import Verifier

MESSAGE_CONTEXT = b"WarnLink consult message v1\x00"
BUNDLE_CONTEXT = b"WarnLink consult key bundle v1\x00"
STATE_MAGIC = b"WLCD1"
NO_MESSAGE = bytes(32)
"""The `prev` of a device's first message."""
PRE_KEY, NORMAL = 0, 1


class ConsultError(ValueError):
    """A consultation message or key bundle refused; the reason says why."""


class NotForThisDevice(ConsultError):
    """The message was not encrypted to this device (it was not a member when sent)."""


class MissingKeys(ConsultError):
    """No session and no key bundle for some member devices: fetch their bundles."""

    def __init__(self, devices: list[str]) -> None:
        super().__init__(f"no keys to start a session with {', '.join(devices)}")
        self.devices = devices


class TranscriptDivergence(ConsultError):
    """This device's transcript and the sender's disagree: someone saw other messages."""

    def __init__(self, problems: list[str], received: Received | None) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.received = received


# --- wire format ---------------------------------------------------------------------


class Sealed(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The message encrypted to one device: Olm message type and ciphertext."""

    device: str
    type: int
    ciphertext: bytes


class GroupMessage(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What travels in a consultation envelope's payload: one ciphertext per device."""

    consultation: str
    sender: str
    sealed: tuple[Sealed, ...]


class Head(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A claim: `device`'s message number `counter` has hash `hash`."""

    device: str
    counter: int
    hash: bytes


class Inner(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The plaintext every recipient decrypts (the same bytes for all of them)."""

    consultation: str
    sender: str
    counter: int
    prev: bytes
    heads: tuple[Head, ...]
    membership: bytes
    rosters: tuple[tuple[str, int], ...]
    recipients: tuple[str, ...]
    time_ns: int
    body: bytes


class BundleBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    device: str
    recipient: str
    curve25519: str
    one_time_keys: tuple[str, ...]
    fallback: str


class KeyBundle(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One-time keys (and a fallback key) a device hands one other device so it can
    start an Olm session, signed with the device's roster Ed25519 key. There is no
    server to hand each one-time key out once, so each bundle is for one recipient:
    two devices never start sessions on the same one-time key."""

    body: bytes
    signature: str


_enc = msgspec.msgpack.Encoder()
_inner_dec = msgspec.msgpack.Decoder(Inner)
_group_dec = msgspec.msgpack.Decoder(GroupMessage)
_bundle_dec = msgspec.msgpack.Decoder(BundleBody)


def encode_message(msg: GroupMessage) -> bytes:
    """The envelope payload for a group message."""
    return _enc.encode(msg)


def decode_message(data: bytes) -> GroupMessage:
    try:
        return _group_dec.decode(data)
    except msgspec.DecodeError as exc:
        raise ConsultError(f"malformed consultation message: {exc}") from exc


def message_hash(inner_bytes: bytes) -> bytes:
    """What the transcript chains: SHA-256 of the context and the plaintext's bytes."""
    return hashlib.sha256(MESSAGE_CONTEXT + inner_bytes).digest()


@dataclass
class Received:
    """A decrypted message, who sent it, and what the receiver noticed on the way."""

    sender: Member
    counter: int
    time_ns: int
    body: bytes
    hash: bytes
    recipients: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)


# --- passphrase-protected state --------------------------------------------------------


class StateKey:
    """Keys derived from a device's passphrase (Argon2id): one for vodozemac's pickles,
    one to encrypt and authenticate the whole state file."""

    __slots__ = ("_box", "mem", "ops", "pickle_key", "salt")

    def __init__(
        self,
        passphrase: str,
        salt: bytes | None = None,
        ops: int = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE,
        mem: int = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE,
    ) -> None:
        self.salt = os.urandom(nacl.pwhash.argon2id.SALTBYTES) if salt is None else salt
        self.ops, self.mem = ops, mem
        root = nacl.pwhash.argon2id.kdf(32, passphrase.encode(), self.salt, ops, mem)
        self.pickle_key = hashlib.sha256(b"WarnLink consult olm pickle\x00" + root).digest()
        box_key = hashlib.sha256(b"WarnLink consult state\x00" + root).digest()
        self._box = nacl.secret.SecretBox(box_key)

    def header(self) -> bytes:
        return STATE_MAGIC + struct.pack(">IQ", self.ops, self.mem) + self.salt

    def seal(self, data: bytes) -> bytes:
        return self.header() + bytes(self._box.encrypt(data))

    @classmethod
    def open(cls, blob: bytes, passphrase: str) -> tuple[StateKey, bytes]:
        n = len(STATE_MAGIC)
        salt_end = n + 12 + nacl.pwhash.argon2id.SALTBYTES
        if len(blob) < salt_end or not blob.startswith(STATE_MAGIC):
            raise ConsultError("not a consultation device state file")
        ops, mem = struct.unpack(">IQ", blob[n : n + 12])
        key = cls(passphrase, blob[n + 12 : salt_end], ops, mem)
        try:
            return key, bytes(key._box.decrypt(blob[salt_end:]))
        except CryptoError as exc:
            raise ConsultError("wrong passphrase, or the state file was altered") from exc


class _State(msgspec.Struct, forbid_unknown_fields=True):
    device: str
    consultation: str
    account: str
    sessions: dict[str, list[str]]
    peer_keys: dict[str, list[str]]
    peer_fallback: dict[str, str]
    rosters: list[SignedRoster]
    holders: list[SignedHolders]
    chains: list[Head]
    pending: list[tuple[str, Head]]
    counter: int


# --- the device ----------------------------------------------------------------------


class Device:
    """One principal's device in one consultation: its Olm account and sessions, the
    membership it accepted, and its view of the transcript."""

    def __init__(
        self,
        device: str,
        consultation: str,
        party_keys: Mapping[str, Verifier],
        key: StateKey,
        account: vz.Account | None = None,
    ) -> None:
        self.device = device
        self.membership = Membership(consultation, party_keys)
        self.account = vz.Account() if account is None else account
        self._key = key
        self.sessions: dict[str, list[vz.Session]] = {}
        self._peer_otks: dict[str, list[str]] = {}
        self._peer_fallback: dict[str, str] = {}
        self.chains: dict[str, dict[int, bytes]] = {}
        """Every message hash seen (or sent), by device and counter."""
        self._pending: list[tuple[str, Head]] = []
        """Claims made by others about messages not seen yet: (claimant, claim)."""
        self.counter = 0

    @property
    def consultation(self) -> str:
        return self.membership.consultation

    def identity(self) -> tuple[str, str]:
        """(curve25519, ed25519) identity keys, for the party to put in its roster."""
        return self.account.curve25519_key.to_base64(), self.account.ed25519_key.to_base64()

    # membership and keys

    def apply_roster(self, signed: SignedRoster) -> bool:
        """Accept a party's roster (RosterError if refused). Sessions and keys of devices
        that left, or whose identity keys the roster changed, are dropped: nothing more
        is encrypted to them, and a re-keyed device gets fresh sessions."""
        before = self.membership.devices()
        changed = self.membership.apply(signed)
        members = self.membership.devices()
        for d in set(self.sessions) | set(self._peer_otks) | set(self._peer_fallback):
            now, then = members.get(d), before.get(d)
            if now is None or then is None or now.keys != then.keys:
                self.sessions.pop(d, None)
                self._peer_otks.pop(d, None)
                self._peer_fallback.pop(d, None)
        return changed

    def apply_holders(self, signed: SignedHolders) -> bool:
        """Learn who holds a party's devices (RosterError if refused); nothing about
        sessions changes, the roster alone says whom to encrypt to."""
        return self.membership.apply_holders(signed)

    def key_bundle(self, recipient: str, count: int = 2) -> KeyBundle:
        """Fresh one-time keys and the fallback key, signed, for the device `recipient`."""
        self.account.generate_one_time_keys(count)
        otks = tuple(k.to_base64() for k in self.account.one_time_keys.values())
        # vodozemac 0.10 has these, its type stubs do not
        account: Any = self.account
        if not account.fallback_key:
            account.generate_fallback_key()
        fallback = str(next(iter(account.fallback_key.values())).to_base64())
        self.account.mark_keys_as_published()
        curve, _ = self.identity()
        body = _enc.encode(BundleBody(self.device, recipient, curve, otks, fallback))
        sig = self.account.sign(BUNDLE_CONTEXT + body).to_base64()
        return KeyBundle(body, sig)

    def add_bundle(self, bundle: KeyBundle) -> None:
        """Keep another member device's keys, once its roster key vouches for them."""
        try:
            body = _bundle_dec.decode(bundle.body)
        except msgspec.DecodeError as exc:
            raise ConsultError(f"malformed key bundle: {exc}") from exc
        member = self.membership.devices().get(body.device)
        if body.recipient != self.device:
            raise ConsultError(f"key bundle of {body.device} is for {body.recipient}")
        if member is None:
            raise ConsultError(f"key bundle of {body.device}, not a member device")
        if body.curve25519 != member.keys.curve25519:
            raise ConsultError(f"key bundle of {body.device} with another identity key")
        try:
            vz.Ed25519PublicKey.from_base64(member.keys.ed25519).verify_signature(
                BUNDLE_CONTEXT + bundle.body, vz.Ed25519Signature.from_base64(bundle.signature)
            )
        except (vz.SignatureException, vz.KeyException, vz.DecodeException) as exc:
            raise ConsultError(f"key bundle of {body.device}: bad signature") from exc
        self._peer_otks[body.device] = list(body.one_time_keys)
        self._peer_fallback[body.device] = body.fallback

    def _session_for(self, device: str, member: Member) -> vz.Session | None:
        held = self.sessions.get(device)
        if held:
            return held[-1]
        otks = self._peer_otks.get(device, [])
        otk = otks.pop(0) if otks else self._peer_fallback.get(device)
        if otk is None:
            return None
        session = self.account.create_outbound_session(
            vz.Curve25519PublicKey.from_base64(member.keys.curve25519),
            vz.Curve25519PublicKey.from_base64(otk),
        )
        self.sessions[device] = [session]
        return session

    # transcript

    def heads(self) -> tuple[Head, ...]:
        """The last message held from every device (this one included), in device order."""
        out = []
        for d in sorted(self.chains):
            chain = self.chains[d]
            if chain:
                c = max(chain)
                out.append(Head(d, c, chain[c]))
        return tuple(out)

    def transcript_digest(self) -> bytes:
        """A hash of `heads()`: members that saw the same messages show the same digest,
        for comparing out of band."""
        h = hashlib.sha256(b"WarnLink consult transcript v1\x00" + self.consultation.encode())
        h.update(_enc.encode(self.heads()))
        return h.digest()

    def _check_claims(self, claimant: str, claims: Iterable[Head]) -> list[str]:
        """Compare claims with what is held; keep the ones about unseen messages."""
        problems = []
        for c in claims:
            held = self.chains.get(c.device, {}).get(c.counter)
            if held is None:
                self._pending.append((claimant, c))
            elif held != c.hash:
                problems.append(
                    f"{claimant} holds a different message {c.counter} of {c.device} than we do"
                )
        return problems

    # sending and receiving

    def encrypt(self, body: bytes, time_ns: int) -> GroupMessage:
        """Encrypt `body` to every other member device; MissingKeys if some device has
        neither a session nor published keys (nothing is sent then)."""
        members = self.membership.devices()
        if self.device not in members:
            raise ConsultError(f"{self.device} is not in the current rosters")
        recipients = sorted(d for d in members if d != self.device)
        missing = [
            d
            for d in recipients
            if not self.sessions.get(d)
            and not self._peer_otks.get(d)
            and d not in self._peer_fallback
        ]
        if missing:
            raise MissingKeys(missing)
        own = self.chains.setdefault(self.device, {})
        inner = Inner(
            consultation=self.consultation,
            sender=self.device,
            counter=self.counter + 1,
            prev=own.get(self.counter, NO_MESSAGE),
            heads=tuple(h for h in self.heads() if h.device != self.device),
            membership=self.membership.digest(),
            rosters=self.membership.versions(),
            recipients=tuple(recipients),
            time_ns=time_ns,
            body=body,
        )
        data = _enc.encode(inner)
        sealed = []
        for d in recipients:
            session = self._session_for(d, members[d])
            assert session is not None  # checked above
            kind, ciphertext = session.encrypt(data).to_parts()
            sealed.append(Sealed(d, kind, ciphertext))
        self.counter += 1
        own[self.counter] = message_hash(data)
        return GroupMessage(self.consultation, self.device, tuple(sealed))

    def _decrypt_from(self, sender: str, member: Member, sealed: Sealed) -> bytes:
        try:
            message = vz.AnyOlmMessage.from_parts(sealed.type, sealed.ciphertext)
        except (vz.DecodeException, ValueError) as exc:
            raise ConsultError(f"malformed ciphertext from {sender}: {exc}") from exc
        held = self.sessions.setdefault(sender, [])
        pre_key = message.to_pre_key() if sealed.type == PRE_KEY else None
        for session in reversed(held):
            if pre_key is not None and not session.session_matches(pre_key):
                continue
            try:
                plaintext = session.decrypt(message)
            except vz.OlmDecryptionException:
                continue
            held.remove(session)
            held.append(session)  # the session last heard on is the one to answer on
            return plaintext
        if pre_key is None:
            raise ConsultError(f"cannot decrypt the message from {sender} (tampered, replayed?)")
        try:
            session, plaintext = self.account.create_inbound_session(
                vz.Curve25519PublicKey.from_base64(member.keys.curve25519), pre_key
            )
        except (vz.SessionCreationException, vz.DecodeException, vz.KeyException) as exc:
            raise ConsultError(f"cannot decrypt the message from {sender}: {exc}") from exc
        held.append(session)
        return plaintext

    def decrypt(self, msg: GroupMessage) -> Received:
        """Decrypt a group message and check it against the transcript; ConsultError
        (or a subclass) says why a message is refused."""
        if msg.consultation != self.consultation:
            raise ConsultError(f"message of consultation {msg.consultation}")
        member = self.membership.devices().get(msg.sender)
        if member is None:
            raise ConsultError(f"message from {msg.sender}, not a member device now")
        mine = [s for s in msg.sealed if s.device == self.device]
        if len(mine) != 1:
            raise NotForThisDevice(f"message from {msg.sender} not encrypted to {self.device}")
        data = self._decrypt_from(msg.sender, member, mine[0])
        try:
            inner = _inner_dec.decode(data)
        except msgspec.DecodeError as exc:
            raise ConsultError(f"malformed plaintext from {msg.sender}: {exc}") from exc
        if inner.sender != msg.sender or inner.consultation != self.consultation:
            raise ConsultError(f"plaintext from {msg.sender} names another sender or consultation")
        # the authenticated recipient list is the inner one; the outer list is only
        # routing, and the membership check below compares the inner one with the rosters
        if self.device not in inner.recipients:
            raise ConsultError(f"message from {msg.sender}: we are not among its recipients")
        if inner.counter < 1 or (inner.counter == 1 and inner.prev != NO_MESSAGE):
            raise ConsultError(f"message from {msg.sender}: bad counter or chain start")
        h = message_hash(data)
        got = Received(member, inner.counter, inner.time_ns, inner.body, h, inner.recipients)
        chain = self.chains.setdefault(msg.sender, {})
        problems: list[str] = []
        known = chain.get(inner.counter)
        if known is not None and known != h:
            problems.append(f"{msg.sender} sent two different messages {inner.counter}")
        chain[inner.counter] = h
        # claims about this very message made earlier by others
        still = []
        for claimant, c in self._pending:
            if (c.device, c.counter) == (msg.sender, inner.counter):
                if c.hash != h:
                    problems.append(
                        f"{claimant} holds a different message {c.counter} of {msg.sender} "
                        "than we do"
                    )
            else:
                still.append((claimant, c))
        self._pending = still
        prior = [Head(msg.sender, inner.counter - 1, inner.prev)] if inner.counter > 1 else []
        problems += self._check_claims(msg.sender, [*prior, *inner.heads])
        gaps = [c for c in range(1, inner.counter) if c not in chain]
        if gaps:
            got.warnings.append(f"messages {gaps} from {msg.sender} not received yet")
        problems += self._check_membership(inner, got)
        if problems:
            raise TranscriptDivergence(problems, got)
        return got

    def _check_membership(self, inner: Inner, got: Received) -> list[str]:
        """Roster versions that differ are news in transit (warnings); the same versions
        with other content, or another set of recipients, mean someone was shown other
        rosters (problems)."""
        ours = dict(self.membership.versions())
        theirs = dict(inner.rosters)
        for party in sorted(ours.keys() | theirs.keys()):
            have, used = ours.get(party), theirs.get(party)
            if have != used:
                got.warnings.append(f"sent under {party} roster v{used}, we hold v{have}")
        if ours != theirs:
            return []
        problems = []
        if inner.membership != self.membership.digest():
            problems.append(f"{inner.sender} holds other rosters of the same versions than we do")
        expected = tuple(sorted(d for d in self.membership.devices() if d != inner.sender))
        if inner.recipients != expected:
            extra = sorted(set(inner.recipients) - set(expected))
            left = sorted(set(expected) - set(inner.recipients))
            problems.append(
                f"{inner.sender} encrypted to other devices than the rosters name "
                f"(extra {extra}, left out {left})"
            )
        return problems

    # persistence

    def save(self, path: Path) -> None:
        """Write the whole device state, encrypted, atomically: after every message sent
        or received, or a restart reuses ratchet keys or loses sessions."""
        key = self._key
        state = _State(
            device=self.device,
            consultation=self.consultation,
            account=self.account.pickle(key.pickle_key),
            sessions={d: [s.pickle(key.pickle_key) for s in ss] for d, ss in self.sessions.items()},
            peer_keys=self._peer_otks,
            peer_fallback=self._peer_fallback,
            rosters=[self.membership.signed[p] for p in sorted(self.membership.signed)],
            holders=[h for _, h in sorted(self.membership.signed_holders.items())],
            chains=[Head(d, c, h) for d, chain in self.chains.items() for c, h in chain.items()],
            pending=self._pending,
            counter=self.counter,
        )
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(key.seal(_enc.encode(state)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, passphrase: str, party_keys: Mapping[str, Verifier]) -> Device:
        """A device as saved; ConsultError on a wrong passphrase or an altered file."""
        key, data = StateKey.open(Path(path).read_bytes(), passphrase)
        try:
            state = msgspec.msgpack.decode(data, type=_State)
            account = vz.Account.from_pickle(state.account, key.pickle_key)
            dev = cls(state.device, state.consultation, party_keys, key, account)
            for d, pickles in state.sessions.items():
                dev.sessions[d] = [vz.Session.from_pickle(p, key.pickle_key) for p in pickles]
        except (msgspec.DecodeError, vz.PickleException) as exc:
            raise ConsultError(f"{path}: unreadable device state: {exc}") from exc
        try:
            dev.membership.apply_all(state.rosters)
            for held in state.holders:
                dev.membership.apply_holders(held)
        except RosterError as exc:
            raise ConsultError(f"{path}: a saved roster no longer verifies: {exc}") from exc
        dev._peer_otks = state.peer_keys
        dev._peer_fallback = state.peer_fallback
        for h in state.chains:
            dev.chains.setdefault(h.device, {})[h.counter] = h.hash
        dev._pending = [(c, h) for c, h in state.pending]
        dev.counter = state.counter
        return dev
