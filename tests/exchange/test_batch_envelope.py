"""Batch-signed envelopes (WLE2): each verifies alone, none can be altered or re-proved,
and docs/protocol.md's definition of the batch root is what we sign (checked here with
an independent Merkle hash and libsodium, not with our own tree code)."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_protocol_doc import SIGNER, SeedSigner, SeedVerifier

from warnlink.exchange import envelope
from warnlink.exchange.envelope import (
    BATCH_CONTEXT,
    MAX_BATCH,
    ROOTS_KEPT,
    EnvelopeError,
    Kind,
    decode,
    seal_batch,
)

items = st.lists(
    st.tuples(
        st.sampled_from(list(Kind)),
        st.lists(st.sampled_from(["JP", "US", "KR", "AU", "NZ"]), min_size=1, max_size=4),
        st.binary(max_size=300),
    ),
    min_size=2,
    max_size=40,
)


def _numbered(batch: list[tuple[Kind, list[str], bytes]], first: int = 1) -> list:
    return [(first + i, kind, label, payload) for i, (kind, label, payload) in enumerate(batch)]


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162's MTH, recursively, as the document states it."""
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


@given(batch=items)
def test_each_envelope_of_a_batch_decodes_and_verifies_alone(batch: list) -> None:
    envs = seal_batch(SIGNER, _numbered(batch))
    assert [e.seq for e in envs] == list(range(1, len(batch) + 1))
    for env, (kind, label, payload) in zip(envs, batch, strict=True):
        assert env.raw[:4] == b"WLE2"
        back = decode(env.raw)
        assert back == env and back.payload == payload and back.kind == kind
        assert back.label == tuple(sorted(set(label)))
        assert back.verify(SeedVerifier(SIGNER.public))  # a verifier that has seen nothing


@given(batch=items)
def test_the_signed_root_is_the_documented_one(batch: list) -> None:
    """docs/protocol.md: the leaves are the envelopes' bytes up to the end of the payload,
    the root is RFC 9162's MTH of them, and the signature is over the batch context, the
    batch size (u16) and the root; the trailer is index, size, path length, path, signature."""
    envs = seal_batch(SIGNER, _numbered(batch))
    n = len(envs)
    bodies = [e.raw[: e.payload_end] for e in envs]
    root = _mth(bodies)
    for i, env in enumerate(envs):
        index, size, hashes = struct.unpack_from(">HHB", env.raw, env.payload_end)
        assert (index, size) == (i, n)
        assert len(env.raw) == env.payload_end + 5 + 32 * hashes + 64
        SIGNER.key.verify_key.verify(BATCH_CONTEXT + struct.pack(">H", n) + root, env.signature)


@settings(max_examples=60)
@given(batch=items, data=st.data())
def test_any_changed_byte_is_caught_even_after_the_root_was_verified(
    batch: list, data: st.DataObject
) -> None:
    envs = seal_batch(SIGNER, _numbered(batch))
    verifier = SeedVerifier(SIGNER.public)
    assert envs[0].verify(verifier)  # the batch's root is now known good to this verifier
    env = envs[data.draw(st.integers(0, len(envs) - 1))]
    raw = bytearray(env.raw)
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    try:
        changed = decode(bytes(raw))
    except EnvelopeError:
        return  # refused as malformed: fine
    assert not changed.verify(verifier), f"byte {i} changed and the envelope still held"


def test_a_proof_or_signature_from_elsewhere_does_not_hold() -> None:
    batch = [(Kind.TRACK_REPORT, ["US"], bytes([i]) * 20) for i in range(5)]
    envs = seal_batch(SIGNER, _numbered(batch))
    verifier = SeedVerifier(SIGNER.public)
    assert all(e.verify(verifier) for e in envs)
    a, b = envs[1], envs[2]
    # a's body with b's proof (index, size, path) and the batch's signature
    swapped = decode(a.raw[: a.payload_end] + b.raw[b.payload_end :])
    assert not swapped.verify(verifier)
    # a's body and proof under the same root signed by another key
    other = SeedSigner("KR", b"\x09" * 32)
    root_msg = BATCH_CONTEXT + struct.pack(">H", 5) + _mth([e.raw[: e.payload_end] for e in envs])
    forged = decode(a.raw[:-64] + other.sign(root_msg))
    assert not forged.verify(verifier)
    # the same envelope under a batch of another size: the proof no longer fits
    index, size, hashes = struct.unpack_from(">HHB", a.raw, a.payload_end)
    resized = bytearray(a.raw)
    struct.pack_into(">HHB", resized, a.payload_end, index, size + 1, hashes)
    assert not decode(bytes(resized)).verify(verifier)


def test_one_message_is_sealed_alone_and_big_batches_are_split() -> None:
    [one] = seal_batch(SIGNER, [(1, Kind.WARNING, ["US"], b"alone")])
    assert one.raw[:4] == b"WLE1" and one.verify(SeedVerifier(SIGNER.public))
    envs = seal_batch(SIGNER, [(i + 1, Kind.HEARTBEAT, ["US"], b"") for i in range(MAX_BATCH + 3)])
    signatures = {e.signature for e in envs}
    assert len(signatures) == 2
    assert struct.unpack_from(">HHB", envs[-1].raw, envs[-1].payload_end)[:2] == (2, 3)
    verifier = SeedVerifier(SIGNER.public)
    assert all(e.verify(verifier) for e in envs)


def test_bad_batch_trailers_are_malformed() -> None:
    env = seal_batch(SIGNER, _numbered([(Kind.ESTIMATE, ["JP"], b"x")] * 3))[2]
    for index, size in ((3, 3), (0, 1), (0, MAX_BATCH + 1)):
        raw = bytearray(env.raw)
        struct.pack_into(">HH", raw, env.payload_end, index, size)
        with pytest.raises(EnvelopeError, match="malformed"):
            decode(bytes(raw))
    with pytest.raises(EnvelopeError, match="malformed"):
        decode(env.raw[:-1])


def test_the_verified_roots_kept_are_bounded() -> None:
    verifier = SeedVerifier(SIGNER.public)
    for k in range(ROOTS_KEPT + 20):
        assert seal_batch(SIGNER, _numbered([(Kind.HEARTBEAT, ["US"], b"")] * 2, k * 2 + 1))[
            0
        ].verify(verifier)
    assert len(envelope._verified_roots) <= ROOTS_KEPT
