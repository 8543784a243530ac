"""The signed envelope every party message travels in, byte for byte as docs/protocol.md.

The encoding is canonical by construction (fixed field order, sorted label, no optional
fields), so the signed bytes are the transmitted bytes: the hub and receivers verify
exactly what they store and forward, and nothing is re-encoded on the way.

Messages published together are sealed as a batch (WLE2): one signature over the Merkle
root of their bodies, and each envelope carries its inclusion proof. Every envelope
still verifies on its own (a receiver may get only some of a batch), but a verifier that
has checked a root's signature once checks the rest of the batch with a few hashes: the
hub and each receiver verify every message, and Ed25519 was most of their CPU at load.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import NoReturn, Protocol

from warnlink.exchange.merkle import MerkleTree, leaf_hash, root_from_inclusion

MAGIC = b"WLE1"
SIGNING_CONTEXT = b"WarnLink envelope v1\x00"
BATCH_MAGIC = b"WLE2"
BATCH_CONTEXT = b"WarnLink envelope batch v1\x00"
MAX_BATCH = 1024  # envelopes under one signature: proofs of at most 10 hashes
ROOTS_KEPT = 1024  # verified batch roots remembered, per process
SIGNATURE_SIZE = 64
KEY_ID_SIZE = 8
MAX_PAYLOAD = 16 * 1024 * 1024
MAX_LABEL = 32
PARTY_PATTERN = "[A-Z][A-Z0-9_-]{0,15}"
"""A party id: short, upper case, usable as a directory name and in a URI."""
PARTY_RE = re.compile(PARTY_PATTERN.encode())

_SEQ_ID_TIME = struct.Struct(">Q16sq")
_U32 = struct.Struct(">I")
_PROOF_HEAD = struct.Struct(">HHB")  # leaf index, batch size, number of path hashes
_U16 = struct.Struct(">H")


class Kind(IntEnum):
    """What a message is; the kind decides its delivery lane."""

    TRACK_REPORT = 1
    ESTIMATE = 2
    WARNING = 3
    ALERT_NOTICE = 4
    INTEL_REPORT = 5
    CONSULTATION = 6
    HEARTBEAT = 7
    RECEIPT = 8


class Lane(IntEnum):
    """Delivery lanes, most urgent first: order is kept per origin within a lane."""

    URGENT = 0
    NORMAL = 1
    BULK = 2


LANE_OF = {
    Kind.WARNING: Lane.URGENT,
    Kind.ALERT_NOTICE: Lane.URGENT,
    Kind.CONSULTATION: Lane.URGENT,
    Kind.RECEIPT: Lane.URGENT,
    Kind.ESTIMATE: Lane.NORMAL,
    Kind.HEARTBEAT: Lane.NORMAL,
    Kind.TRACK_REPORT: Lane.BULK,
    Kind.INTEL_REPORT: Lane.BULK,
}


class EnvelopeError(ValueError):
    """A byte string that is not a well-formed, canonical envelope."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class SignerLike(Protocol):
    """What sealing needs of a party's signing key (signing.Signer)."""

    party: str
    key_id: bytes

    def sign(self, message: bytes) -> bytes: ...


class VerifierLike(Protocol):
    """What checking needs of a party's certified public key (signing.Verifier)."""

    def verify(self, signature: bytes, message: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded envelope; `raw` is the exact signed bytes, stored and forwarded as they are."""

    origin: str
    seq: int
    id: bytes
    time_ns: int
    kind: Kind
    label: tuple[str, ...]
    key_id: bytes
    payload_offset: int
    payload_end: int
    raw: bytes

    @property
    def payload(self) -> bytes:
        return self.raw[self.payload_offset : self.payload_end]

    @property
    def signature(self) -> bytes:
        return self.raw[-SIGNATURE_SIZE:]

    @property
    def lane(self) -> Lane:
        return LANE_OF[self.kind]

    def recipients(self) -> tuple[str, ...]:
        """Who receives it: the label without the origin, which never gets its own back."""
        return tuple(p for p in self.label if p != self.origin)

    def verify(self, verifier: VerifierLike) -> bool:
        if self.payload_end + SIGNATURE_SIZE == len(self.raw):  # WLE1: signed alone
            return verifier.verify(self.signature, SIGNING_CONTEXT + self.raw[:-SIGNATURE_SIZE])
        index, size, n = _PROOF_HEAD.unpack_from(self.raw, self.payload_end)
        start = self.payload_end + _PROOF_HEAD.size
        path = [self.raw[start + 32 * i : start + 32 * (i + 1)] for i in range(n)]
        root = root_from_inclusion(index, size, leaf_hash(self.raw[: self.payload_end]), path)
        if root is None:
            return False
        return _verify_root(verifier, self.signature, BATCH_CONTEXT + _U16.pack(size) + root)


_verified_roots: dict[tuple[VerifierLike, bytes], bytes] = {}


def _verify_root(verifier: VerifierLike, signature: bytes, signed: bytes) -> bool:
    """A batch root's signature, checked once per verifier: the batch's other envelopes
    then cost their proof's hashes. Only successes are remembered (the last ROOTS_KEPT),
    and only for the same signature over the same root by the same key."""
    key = (verifier, signed)
    if _verified_roots.get(key) == signature:
        return True
    if not verifier.verify(signature, signed):
        return False
    if len(_verified_roots) >= ROOTS_KEPT:
        del _verified_roots[next(iter(_verified_roots))]
    _verified_roots[key] = signature
    return True


def canonical_label(parties: Iterable[str]) -> tuple[str, ...]:
    """The label in its one valid form (sorted, no repeats), or an error naming the fault."""
    return _canonical_label(tuple(parties))


@functools.lru_cache(maxsize=1024)
def _canonical_label(parties: tuple[str, ...]) -> tuple[str, ...]:
    """Cached: a party publishes to the same few labels again and again."""
    label = tuple(sorted(set(parties)))
    if not label:
        raise EnvelopeError("bad_label", "the label names no party")
    if len(label) > MAX_LABEL:
        raise EnvelopeError("bad_label", f"{len(label)} parties (at most {MAX_LABEL})")
    for party in label:
        if not PARTY_RE.fullmatch(party.encode("ascii", "replace")):
            raise EnvelopeError("bad_label", f"{party!r} is not a party id")
    return label


def _body(
    signer: SignerLike, magic: bytes, seq: int, kind: Kind, label: Iterable[str],
    payload: bytes, msg_id: bytes, now: int,
) -> tuple[bytes, int, tuple[str, ...]]:  # fmt: skip
    """An envelope's bytes up to the end of its payload; the payload's offset; the label."""
    if len(payload) > MAX_PAYLOAD:
        raise EnvelopeError("oversized", f"payload of {len(payload)} bytes (at most {MAX_PAYLOAD})")
    if not 1 <= seq < 2**64:
        raise EnvelopeError("malformed", f"sequence {seq} outside 1..2^64-1")
    parties = canonical_label(label)
    origin = signer.party.encode("ascii")
    head = bytearray(magic)
    head.append(int(kind))
    head.append(len(origin))
    head += origin
    head += _SEQ_ID_TIME.pack(seq, msg_id, now)
    head.append(len(parties))
    for party in parties:
        head.append(len(party))
        head += party.encode("ascii")
    head += signer.key_id
    head += _U32.pack(len(payload))
    return bytes(head) + payload, len(head), parties


def seal(
    signer: SignerLike,
    *,
    seq: int,
    kind: Kind,
    label: Iterable[str],
    payload: bytes,
    msg_id: bytes | None = None,
    time_ns: int | None = None,
) -> Envelope:
    """Encode and sign a message from the signer's party (WLE1: signed alone)."""
    msg_id = msg_id if msg_id is not None else os.urandom(16)
    now = time.time_ns() if time_ns is None else time_ns
    body, offset, parties = _body(signer, MAGIC, seq, kind, label, payload, msg_id, now)
    raw = body + signer.sign(SIGNING_CONTEXT + body)
    return Envelope(
        signer.party, seq, msg_id, now, kind, parties, signer.key_id, offset, len(body), raw
    )  # fmt: skip


def seal_batch(
    signer: SignerLike, items: Sequence[tuple[int, Kind, Iterable[str], bytes]]
) -> list[Envelope]:
    """Encode and sign messages (seq, kind, label, payload) published together: one alone
    as WLE1, more as WLE2 batches of up to MAX_BATCH under one signature each.

    Ids are always random here: a receiver sees the hashes of its batch-mates' bodies, and
    128 random bits in each body keep those hashes from confirming a guess at a message
    it may not read.
    """
    if len(items) == 1:
        seq, kind, label, payload = items[0]
        return [seal(signer, seq=seq, kind=kind, label=label, payload=payload)]
    out: list[Envelope] = []
    now = time.time_ns()
    for lo in range(0, len(items), MAX_BATCH):
        chunk = items[lo : lo + MAX_BATCH]
        ids = [os.urandom(16) for _ in chunk]
        bodies = [
            _body(signer, BATCH_MAGIC, seq, kind, label, payload, msg_id, now)
            for (seq, kind, label, payload), msg_id in zip(chunk, ids, strict=True)
        ]
        tree = MerkleTree([leaf_hash(body) for body, _, _ in bodies])
        size = len(bodies)
        signature = signer.sign(BATCH_CONTEXT + _U16.pack(size) + tree.root())
        for i, ((body, offset, parties), (seq, kind, _, _), msg_id) in enumerate(
            zip(bodies, chunk, ids, strict=True)
        ):
            path = tree.inclusion_proof(i)
            raw = body + _PROOF_HEAD.pack(i, size, len(path)) + b"".join(path) + signature
            out.append(Envelope(
                signer.party, seq, msg_id, now, kind, parties, signer.key_id, offset,
                len(body), raw,
            ))  # fmt: skip
    return out


def decode(raw: bytes) -> Envelope:
    """Parse and check an envelope's form (not its signature: that needs the origin's key)."""
    try:
        return _decode(raw)
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise EnvelopeError("malformed", f"truncated or garbled envelope ({exc})") from exc


@functools.lru_cache(maxsize=4096)
def _party(name: bytes) -> str | None:
    """A party id's text, or None; cached, as a federation has few parties."""
    return name.decode("ascii") if PARTY_RE.fullmatch(name) else None


@functools.lru_cache(maxsize=4096)
def _label(entries: bytes) -> tuple[str, ...] | str:
    """The label encoded by its entries' bytes, or why it is bad; cached, as a party sends
    to the same few labels again and again (this was most of decoding's cost)."""
    label: list[str] = []
    pos = 0
    while pos < len(entries):
        m = entries[pos]
        name = entries[pos + 1 : pos + 1 + m]
        party = _party(name) if len(name) == m else None
        if party is None:
            return "a label entry is not a party id"
        label.append(party)
        pos += 1 + m
    if not label or len(label) > MAX_LABEL or any(a >= b for a, b in itertools.pairwise(label)):
        return "the label is empty, too long, unsorted or repeats"
    return tuple(label)


def _truncated_label(raw: bytes, pos: int, count: int) -> NoReturn:
    """Raise the error for a label that runs past the end of the envelope: bad_label at
    the first entry that is not a party id or is cut short, malformed (IndexError) if a
    length byte itself is missing."""
    for _ in range(count):
        m = raw[pos]
        party = _party(raw[pos + 1 : pos + 1 + m]) if len(raw) >= pos + 1 + m else None
        if party is None:
            raise EnvelopeError("bad_label", "a label entry is not a party id")
        pos += 1 + m
    raise AssertionError("unreachable: the label fits")  # pragma: no cover


_KIND_OF = {int(k): k for k in Kind}


def _decode(raw: bytes) -> Envelope:
    magic = raw[:4]
    if magic != MAGIC and magic != BATCH_MAGIC:
        raise EnvelopeError("malformed", "does not start with WLE1 or WLE2")
    kind = _KIND_OF.get(raw[4])
    if kind is None:
        raise EnvelopeError("unknown_kind", f"kind {raw[4]}")
    n = raw[5]
    origin = _party(raw[6 : 6 + n]) if len(raw) >= 6 + n else None
    if origin is None:
        raise EnvelopeError("malformed", "origin is not a party id")
    pos = 6 + n
    seq, msg_id, time_ns = _SEQ_ID_TIME.unpack_from(raw, pos)
    if seq == 0:
        raise EnvelopeError("malformed", "sequence 0")
    pos += _SEQ_ID_TIME.size
    count = raw[pos]
    start = end = pos + 1
    fits = True
    for _ in range(count):
        if end >= len(raw):
            fits = False
            break
        end += 1 + raw[end]
    if not fits or end > len(raw):  # truncated inside the label: say where, entry by entry
        _truncated_label(raw, start, count)
    label = _label(raw[start:end])
    if isinstance(label, str):
        raise EnvelopeError("bad_label", label)
    pos = end
    key_id = raw[pos : pos + KEY_ID_SIZE]
    pos += KEY_ID_SIZE
    (size,) = _U32.unpack_from(raw, pos)
    pos += _U32.size
    if size > MAX_PAYLOAD:
        raise EnvelopeError("oversized", f"payload of {size} bytes (at most {MAX_PAYLOAD})")
    end = pos + size
    trailer = SIGNATURE_SIZE
    if magic == BATCH_MAGIC:
        index, batch, n = _PROOF_HEAD.unpack_from(raw, end)
        if not 2 <= batch <= MAX_BATCH or index >= batch:
            raise EnvelopeError("malformed", f"leaf {index} of a batch of {batch}")
        trailer += _PROOF_HEAD.size + 32 * n
    if len(raw) != end + trailer:
        raise EnvelopeError("malformed", "length does not match the payload size")
    return Envelope(origin, seq, msg_id, time_ns, kind, label, key_id, pos, end, raw)
