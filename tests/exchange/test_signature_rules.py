"""The Ed25519 rule a verifier applies (ZIP 215, docs/protocol.md section 2), and the key
check that makes it safe: a small-order key is refused before any signature is checked."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from nacl import bindings as sodium
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from warnlink.exchange import pki, signing

L = 2**252 + 27742317777372353535851937790883648493  # the prime subgroup's order
# A point of order 8 (the torsion a cofactored check ignores), and the neutral point.
TORSION = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
NEUTRAL = (1).to_bytes(32, "little")
FOREVER = datetime.max.replace(tzinfo=UTC)


def _verifier(public: bytes) -> signing.Verifier:
    return signing.Verifier("KR", public, 0, FOREVER)


def _secret_scalar(key: SigningKey) -> bytes:
    """The clamped scalar a of an Ed25519 seed (RFC 8032, 5.1.5)."""
    h = bytearray(hashlib.sha512(bytes(key)).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return sodium.crypto_core_ed25519_scalar_reduce(bytes(h) + bytes(32))


def _torsioned_signature(key: SigningKey, message: bytes) -> bytes:
    """A signature whose R carries a small-order component, made by the key's holder:
    it holds under the cofactored equation [8][s]B = [8]R + [8][k]A (ZIP 215) and fails
    the cofactorless one libsodium checks."""
    public = bytes(key.verify_key)
    r = sodium.crypto_core_ed25519_scalar_reduce(os.urandom(64))
    big_r = sodium.crypto_core_ed25519_add(
        sodium.crypto_scalarmult_ed25519_base_noclamp(r), TORSION
    )
    k = sodium.crypto_core_ed25519_scalar_reduce(hashlib.sha512(big_r + public + message).digest())
    s = sodium.crypto_core_ed25519_scalar_add(
        r, sodium.crypto_core_ed25519_scalar_mul(k, _secret_scalar(key))
    )
    return big_r + s


def test_valid_and_invalid_signatures_as_libsodium_says() -> None:
    for _ in range(200):
        key = SigningKey(os.urandom(32))
        message = os.urandom(300)
        sig = key.sign(message).signature
        v = _verifier(bytes(key.verify_key))
        assert v.verify(sig, message)
        bad = bytearray(sig)
        bad[os.urandom(1)[0] % 64] ^= 1 << (os.urandom(1)[0] % 8)
        assert not v.verify(bytes(bad), message)
        assert not v.verify(sig, message + b"\0")
        assert not v.verify(sig[:63], message)


def test_non_canonical_s_is_refused() -> None:
    key = SigningKey(os.urandom(32))
    sig = key.sign(b"warning").signature
    s = int.from_bytes(sig[32:], "little") + L  # the same scalar, not reduced
    assert not _verifier(bytes(key.verify_key)).verify(sig[:32] + s.to_bytes(32, "little"),
                                                       b"warning")  # fmt: skip


def test_zip215_accepts_a_torsioned_r_that_libsodium_refuses() -> None:
    """The one documented difference: the signer's own odd but valid signature."""
    key = SigningKey(os.urandom(32))
    sig = _torsioned_signature(key, b"launch detected")
    with pytest.raises(BadSignatureError):
        VerifyKey(bytes(key.verify_key)).verify(b"launch detected", sig)
    v = _verifier(bytes(key.verify_key))
    assert v.verify(sig, b"launch detected")
    assert not v.verify(sig, b"launch detected!")  # still bound to the message


@pytest.mark.parametrize("public", [NEUTRAL, TORSION, bytes(32), b"\xff" * 32, b"short"])
def test_small_order_and_invalid_keys_are_refused(public: bytes) -> None:
    """Under ZIP 215 the neutral key would accept (R = neutral, s = 0) for any message."""
    with pytest.raises(pki.PkiError) as info:
        _verifier(public)
    assert info.value.reason == "weak key"


def test_a_ca_signed_certificate_for_a_small_order_key_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "pki"
    pki.init_ca(root)
    pki.issue_party(root, "KR")
    good = x509.load_der_x509_certificate(signing.Signer.load(root, "KR").certificate_der)
    ca_key = pki.load_key(root / "ca.key", "CA key")
    builder = (
        x509.CertificateBuilder()
        .subject_name(good.subject)
        .issuer_name(good.issuer)
        .public_key(ed25519.Ed25519PublicKey.from_public_bytes(NEUTRAL))
        .serial_number(x509.random_serial_number())
        .not_valid_before(good.not_valid_before_utc)
        .not_valid_after(good.not_valid_after_utc)
    )
    for ext in good.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    weak = builder.sign(ca_key, hashes.SHA256())
    der = weak.public_bytes(serialization.Encoding.DER)
    ring = signing.KeyRing(signing.SigningCertificates.for_root(root))
    with pytest.raises(pki.PkiError) as info:
        ring.add(der, "KR")
    assert info.value.reason == "weak key"
    assert not ring.der
