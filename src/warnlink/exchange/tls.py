"""TLS 1.3 contexts for the hub and the parties, and a party's identity in a certificate.

The hub knows a connection's party by its verified client certificate only; the CRL is
checked in the handshake, so a revoked or expired certificate never gets a session.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from warnlink.exchange.pki import (
    FEDERATION_ORG,
    PARTY_ID,
    PARTY_OU,
    PARTY_URI_PREFIX,
    WARNLINK_SIGNING_EKU,
    PkiError,
    check_party,
    party_dir,
)


def uri_parties(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return [u[len(PARTY_URI_PREFIX) :] for u in uris if u.startswith(PARTY_URI_PREFIX)]


def extended_key_usages(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    try:
        return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return set()


def cert_party(cert: x509.Certificate) -> str | None:
    """The party named consistently by the subject and the SAN URI, or None."""
    subject = cert.subject
    cns = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    ous = subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    orgs = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if len(cns) != 1 or [a.value for a in ous] != [PARTY_OU]:
        return None
    if [a.value for a in orgs] != [FEDERATION_ORG]:
        return None
    party = cns[0].value
    if not isinstance(party, str) or not PARTY_ID.fullmatch(party):
        return None
    return party if uri_parties(cert) == [party] else None


def _load_trust(ctx: ssl.SSLContext, root: Path) -> None:
    for name, what in (("ca.crt", "CA certificate"), ("crl.pem", "CRL")):
        path = root / name
        if not path.exists():
            raise PkiError(f"{path}: missing {what}")
        try:
            ctx.load_verify_locations(cafile=path)
        except ssl.SSLError as exc:
            raise PkiError(f"{path}: cannot load {what}: {exc}") from exc
    ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF | ssl.VERIFY_X509_STRICT


def _load_identity(ctx: ssl.SSLContext, cert: Path, key: Path, who: str) -> None:
    for path in (cert, key):
        if not path.exists():
            raise PkiError(f"{path}: missing ({who})")
    try:
        ctx.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise PkiError(f"{cert}: cannot load certificate and key ({who}): {exc}") from exc


def server_context(root: Path) -> ssl.SSLContext:
    """The hub's TLS 1.3 context: clients must present a CA-issued, unrevoked certificate.

    The CRL is read now: build a new context after a revocation. Session tickets are off,
    so every connection is a full handshake that checks the client certificate again.
    """
    root = Path(root)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.num_tickets = 0
    _load_trust(ctx, root)
    _load_identity(ctx, root / "hub" / "hub.crt", root / "hub" / "hub.key", "hub")
    return ctx


def client_context(root: Path, party: str) -> ssl.SSLContext:
    """A party's TLS 1.3 context: presents its client certificate, checks the hub's."""
    root = Path(root)
    check_party(party)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = True
    _load_trust(ctx, root)
    folder = party_dir(root, party)
    _load_identity(ctx, folder / "tls.crt", folder / "tls.key", f"party {party}")
    return ctx


def peer_party(peer_der: bytes) -> str:
    """The party id of a peer whose TLS certificate the handshake has already verified."""
    try:
        cert = x509.load_der_x509_certificate(peer_der)
        party = cert_party(cert)
        ekus = extended_key_usages(cert)
    except ValueError as exc:
        raise PkiError(f"peer certificate is malformed: {exc}") from exc
    if party is None:
        raise PkiError(f"peer certificate {cert.subject.rfc4514_string()!r} names no party")
    if ExtendedKeyUsageOID.CLIENT_AUTH not in ekus or WARNLINK_SIGNING_EKU in ekus:
        raise PkiError(f"party {party}: peer certificate is not a party TLS client certificate")
    if not isinstance(cert.public_key(), ec.EllipticCurvePublicKey):
        raise PkiError(f"party {party}: peer certificate does not hold a TLS (ECDSA) key")
    return party
