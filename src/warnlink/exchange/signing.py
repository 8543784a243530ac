"""Party signing keys: the Ed25519 key that signs every envelope, and checking the
certificates that vouch for others' keys against the CA and CRL (not the hub's word)."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from ed25519_zebra import ed_verify
from nacl.bindings import crypto_core_ed25519_is_valid_point
from nacl.signing import SigningKey

from warnlink.exchange.envelope import Envelope
from warnlink.exchange.pki import (
    WARNLINK_SIGNING_EKU,
    PkiError,
    check_party,
    iso,
    key_usage,
    load_cert,
    load_key,
    party_dir,
    read_bytes,
)
from warnlink.exchange.tls import cert_party, extended_key_usages


def key_id_of(raw_public_key: bytes) -> bytes:
    """The 8-byte key id envelopes carry: the start of SHA-256 of the raw Ed25519 key."""
    return hashlib.sha256(raw_public_key).digest()[:8]


class Signer:
    """A party's Ed25519 signing key, held by libsodium for the hot path."""

    __slots__ = ("_certificate_der", "_key", "key_id", "party")

    def __init__(self, party: str, key: SigningKey, certificate_der: bytes) -> None:
        self.party = party
        self._key = key
        self._certificate_der = certificate_der
        self.key_id = key_id_of(bytes(key.verify_key))

    @classmethod
    def load(cls, root: Path, party: str) -> Signer:
        """Load parties/<P>/signing.key and check it matches signing.crt."""
        check_party(party)
        folder = party_dir(Path(root), party)
        key = load_key(folder / "signing.key", f"signing key of party {party}")
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise PkiError(f"{folder / 'signing.key'}: not an Ed25519 key")
        cert = load_cert(folder / "signing.crt", f"signing certificate of party {party}")
        cert_key = cert.public_key()
        raw = key.public_key().public_bytes_raw()
        if not isinstance(cert_key, ed25519.Ed25519PublicKey) or cert_key.public_bytes_raw() != raw:
            raise PkiError(f"{folder / 'signing.crt'}: does not certify signing.key")
        signing = SigningKey(key.private_bytes_raw())
        return cls(party, signing, cert.public_bytes(serialization.Encoding.DER))

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `message`."""
        return self._key.sign(message).signature

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key, for those who check our signatures."""
        return bytes(self._key.verify_key)

    @property
    def certificate_der(self) -> bytes:
        """The signing certificate, DER, to hand to whoever must verify our envelopes."""
        return self._certificate_der


class Verifier:
    """The public key of a checked signing certificate.

    Signatures are checked by ed25519-zebra under ZIP 215's rules (docs/protocol.md, section 2):
    about 30% less CPU than libsodium, and the hub and every receiver verify each message.
    ZIP 215 would accept anything under a small-order key, so such keys (and any key
    libsodium deems invalid) are refused here, before any signature is checked with them.
    """

    __slots__ = ("_key", "key_id", "not_after", "party", "serial")

    def __init__(self, party: str, raw_public_key: bytes, serial: int, not_after: datetime) -> None:
        if len(raw_public_key) != 32 or not crypto_core_ed25519_is_valid_point(raw_public_key):
            raise PkiError(f"weak key: party {party} key {raw_public_key.hex()}", reason="weak key")
        self.party = party
        self._key = bytes(raw_public_key)
        self.key_id = key_id_of(raw_public_key)
        self.serial = serial
        self.not_after = not_after

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Whether `signature` is this key's over `message`; False, never an exception."""
        try:
            return bool(ed_verify(signature, message, self._key))
        except TypeError:  # not bytes
            return False


class SigningCertificates:
    """Checks signing certificates presented by others against the federation CA and CRL."""

    def __init__(self, ca_cert: Path, crl: Path) -> None:
        self._ca_path = Path(ca_cert)
        self._crl_path = Path(crl)
        self._ca = load_cert(self._ca_path, "CA certificate")
        self._revoked: frozenset[int] = frozenset()
        self._crl_stamp: tuple[int, int, int] | None = None
        self.reload_crl()
        if self._crl_stamp is None:
            raise PkiError(f"{self._crl_path}: missing CRL")

    @classmethod
    def for_root(cls, root: Path) -> SigningCertificates:
        root = Path(root)
        return cls(root / "ca.crt", root / "crl.pem")

    def reload_crl(self) -> None:
        """Re-read the CRL if the file changed, so a revocation applies without a restart.

        A changed CRL that is unreadable or not signed by the CA raises PkiError and the
        previous revocation list stays in force.
        """
        try:
            st = os.stat(self._crl_path)
        except FileNotFoundError as exc:
            if self._crl_stamp is None:
                raise PkiError(f"{self._crl_path}: missing CRL") from exc
            return  # being replaced, or removed: keep the last good list
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == self._crl_stamp:
            return
        data = read_bytes(self._crl_path, "CRL")
        try:
            crl = x509.load_pem_x509_crl(data)
        except ValueError as exc:
            raise PkiError(f"{self._crl_path}: not a PEM CRL: {exc}") from exc
        ca_key = self._ca.public_key()
        if crl.issuer != self._ca.subject or not crl.is_signature_valid(
            cast(ec.EllipticCurvePublicKey, ca_key)
        ):
            raise PkiError(f"{self._crl_path}: CRL not signed by the federation CA")
        self._revoked = frozenset(r.serial_number for r in crl)
        self._crl_stamp = stamp

    def _refuse(self, reason: str, what: str) -> PkiError:
        return PkiError(f"{reason}: {what}", reason=reason)

    def check(self, cert_der: bytes, *, now: datetime | None = None) -> Verifier:
        """A Verifier for `cert_der` if it is a valid, unrevoked party signing certificate."""
        try:
            cert = x509.load_der_x509_certificate(cert_der)
            serial = cert.serial_number
            public_key = cert.public_key()
        except (ValueError, TypeError) as exc:
            raise self._refuse("malformed certificate", f"{exc}") from exc
        what = f"signing certificate serial {serial} ({cert.subject.rfc4514_string()})"
        try:
            cert.verify_directly_issued_by(self._ca)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise self._refuse("not signed by the federation CA", what) from exc
        try:
            party = cert_party(cert)
            ekus = extended_key_usages(cert)
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            raise self._refuse("not a signing certificate", what) from None
        except ValueError as exc:
            raise self._refuse("malformed certificate", f"{what}: {exc}") from exc
        only_signature = usage == key_usage(digital_signature=True)
        if (
            party is None
            or not isinstance(public_key, ed25519.Ed25519PublicKey)
            or ekus != {WARNLINK_SIGNING_EKU}
            or not only_signature
            or basic.ca
        ):
            raise self._refuse("not a signing certificate", what)
        what = f"party {party} {what}"
        if now is not None and now.tzinfo is None:
            raise PkiError("check(now=...) needs a timezone-aware time")
        t = datetime.now(UTC) if now is None else now
        if t < cert.not_valid_before_utc:
            raise self._refuse("not yet valid", f"{what} (from {iso(cert.not_valid_before_utc)})")
        if t > cert.not_valid_after_utc:
            raise self._refuse("expired", f"{what} (at {iso(cert.not_valid_after_utc)})")
        if serial in self._revoked:
            raise self._refuse("revoked", what)
        return Verifier(party, public_key.public_bytes_raw(), serial, cert.not_valid_after_utc)


class KeyRing:
    """The federation's signing keys known here, each admitted only once its certificate
    has been checked here against the CA and CRL (the hub's and the node's one lookup)."""

    def __init__(self, certs: SigningCertificates) -> None:
        self.certs = certs
        self.der: dict[tuple[str, bytes], bytes] = {}
        self._verifiers: dict[tuple[str, bytes], Verifier] = {}

    def add(self, der: bytes, party: str | None = None) -> Verifier | None:
        """Admit a signing certificate (of `party`, if given); its verifier if it is new,
        None if already known. PkiError says why a certificate is refused."""
        verifier = self.certs.check(der)
        if party is not None and verifier.party != party:
            raise PkiError(f"signing certificate of {verifier.party}, presented by {party}")
        key = (verifier.party, verifier.key_id)
        new = key not in self.der
        self._verifiers[key] = verifier
        self.der[key] = der
        return verifier if new else None

    def check(self, env: Envelope) -> str | None:
        """None if the origin's signature holds, else why not: unknown_key, bad_signature."""
        verifier = self._verifiers.get((env.origin, env.key_id))
        if verifier is None:
            return "unknown_key"
        return None if env.verify(verifier) else "bad_signature"
