"""docs/protocol.md's worked example is what our code produces and accepts, byte for byte,
and the envelope codec holds its rules on any input (property-based)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import nacl.signing
import pytest
from hypothesis import given
from hypothesis import strategies as st

from warnlink.exchange.envelope import (
    EnvelopeError,
    Kind,
    Lane,
    canonical_label,
    decode,
    seal,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


class SeedSigner:
    """An Ed25519 key from a fixed seed, as in the document (no PKI needed)."""

    def __init__(self, party: str, seed: bytes) -> None:
        self.party = party
        self.key = nacl.signing.SigningKey(seed)
        self.public = bytes(self.key.verify_key)
        self.key_id = hashlib.sha256(self.public).digest()[:8]

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message).signature


class SeedVerifier:
    def __init__(self, public: bytes) -> None:
        self.key = nacl.signing.VerifyKey(public)

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self.key.verify(message, signature)
        except nacl.exceptions.BadSignatureError:
            return False
        return True


def _doc_example() -> bytes:
    text = DOC.read_text()
    block = text.split("### Worked example", 1)[1].split("```", 2)[1]
    hexes = [re.findall(r"\b[0-9a-f]{2}\b", line[6:54]) for line in block.strip().splitlines()]
    return bytes.fromhex("".join("".join(h) for h in hexes))


def test_the_documented_example_is_ours_byte_for_byte() -> None:
    signer = SeedSigner("KR", bytes(range(32)))
    assert signer.public.hex() in DOC.read_text() and signer.key_id.hex() in DOC.read_text()
    ours = seal(
        signer, seq=7, kind=Kind.WARNING, label=["US", "JP"], payload=b"launch detected",
        msg_id=bytes.fromhex("00112233445566778899aabbccddeeff"), time_ns=1795651200000000000,
    )  # fmt: skip
    doc = _doc_example()
    assert doc == ours.raw
    env = decode(doc)
    assert (env.origin, env.seq, env.kind, env.label) == ("KR", 7, Kind.WARNING, ("JP", "US"))
    assert env.lane == Lane.URGENT and env.payload == b"launch detected"
    assert env.verify(SeedVerifier(signer.public))


parties = st.from_regex(r"\A[A-Z][A-Z0-9_-]{0,15}\Z")
SIGNER = SeedSigner("KR", b"\x07" * 32)
VERIFIER = SeedVerifier(SIGNER.public)


@given(
    seq=st.integers(1, 2**64 - 1),
    kind=st.sampled_from(list(Kind)),
    label=st.lists(parties, min_size=1, max_size=32),
    payload=st.binary(max_size=2000),
    time_ns=st.integers(-(2**63), 2**63 - 1),
)
def test_roundtrip_is_exact_and_verifies(
    seq: int, kind: Kind, label: list[str], payload: bytes, time_ns: int
) -> None:
    env = seal(SIGNER, seq=seq, kind=kind, label=label, payload=payload, time_ns=time_ns)
    back = decode(env.raw)
    assert back == env
    assert back.label == tuple(sorted(set(label)))
    assert back.payload == payload and back.verify(VERIFIER)


@given(data=st.data())
def test_any_changed_byte_is_caught(data: st.DataObject) -> None:
    env = seal(SIGNER, seq=3, kind=Kind.ESTIMATE, label=["JP", "US"], payload=b"x" * 40)
    i = data.draw(st.integers(0, len(env.raw) - 1))
    flip = data.draw(st.integers(1, 255))
    raw = bytearray(env.raw)
    raw[i] ^= flip
    try:
        changed = decode(bytes(raw))
    except EnvelopeError:
        return  # refused as malformed: fine
    assert not changed.verify(VERIFIER), f"byte {i} changed and the signature still held"


@given(raw=st.binary(max_size=400))
def test_garbage_never_crashes_the_decoder(raw: bytes) -> None:
    try:
        decode(raw)
    except EnvelopeError as exc:
        assert exc.reason in {"malformed", "bad_label", "oversized", "unknown_kind"}


@given(cut=st.integers(0, 137))
def test_every_truncation_is_refused(cut: int) -> None:
    with pytest.raises(EnvelopeError):
        decode(_doc_example()[:cut])


def test_label_rules() -> None:
    assert canonical_label(["US", "JP", "US"]) == ("JP", "US")
    for bad in ([], ["kr"], ["K R"], ["A" * 17], [f"P{i}" for i in range(33)]):
        with pytest.raises(EnvelopeError, match=r"label|party"):
            canonical_label(bad)
    raw = seal(SIGNER, seq=1, kind=Kind.WARNING, label=["JP", "US"], payload=b"").raw
    swapped = raw.replace(b"\x02JP\x02US", b"\x02US\x02JP")
    with pytest.raises(EnvelopeError, match="unsorted"):
        decode(swapped)
