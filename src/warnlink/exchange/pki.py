"""The federation PKI: one CA certifies the hub, each party's TLS identity and its signing key.

Parties reach the hub over mutual TLS 1.3 and are known by their client certificate; every
envelope a party publishes is signed with an Ed25519 key certified by the same CA, so a
message can be checked by anyone holding ca.crt and crl.pem, long after the connection
that carried it. Layout of a PKI root directory (all files PEM, private keys mode 0600):

    ca.crt ca.key              federation CA (ECDSA P-256)
    crl.pem                    CA-signed CRL, always present; rewritten on every revocation
    index.json                 every issued certificate (see CertRecord)
    hub/hub.crt hub.key        hub TLS server certificate
    parties/<P>/tls.crt tls.key          party TLS client certificate
    parties/<P>/signing.crt signing.key  party Ed25519 signing certificate
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from warnlink.exchange.envelope import PARTY_PATTERN

PARTY_ID = re.compile(PARTY_PATTERN)

WARNLINK_SIGNING_EKU = x509.ObjectIdentifier("1.3.6.1.4.1.57264.99.1")
"""Extended key usage of a party signing certificate; no TLS certificate carries it."""

FEDERATION_ORG = "WarnLink federation"
PARTY_OU = "party"
HUB_OU = "hub"
PARTY_URI_PREFIX = "warnlink:party:"
CLOCK_SKEW = timedelta(minutes=5)
CRL_LIFETIME = timedelta(days=30)

Kind = Literal["hub", "party-tls", "party-signing"]
KINDS: tuple[Kind, ...] = ("hub", "party-tls", "party-signing")

_REASONS: dict[str, x509.ReasonFlags] = {}
for _flag in x509.ReasonFlags:
    _REASONS[_flag.value.lower()] = _flag
    _REASONS[_flag.name.lower()] = _flag
    _REASONS[_flag.name.lower().replace("_", "-")] = _flag


class PkiError(Exception):
    """A PKI operation or certificate check failed; the message names the file or party.

    `reason` is a short fixed phrase for certificate checks ("expired", "revoked", ...) so
    callers can count rejections by cause; it is empty for other errors.
    """

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


# --- index ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertRecord:
    """One issued certificate as recorded in index.json."""

    serial: int
    kind: Kind
    subject: str
    party: str | None  # None for the hub
    not_before: datetime
    not_after: datetime
    revoked_at: datetime | None = None
    reason: str | None = None

    @property
    def expired(self) -> bool:
        """Whether the certificate's validity has ended, as of now."""
        return datetime.now(UTC) > self.not_after

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "kind": self.kind,
            "subject": self.subject,
            "party": self.party,
            "not_before": iso(self.not_before),
            "not_after": iso(self.not_after),
            "revoked_at": None if self.revoked_at is None else iso(self.revoked_at),
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, obj: Any, where: Path) -> CertRecord:
        try:
            kind = obj["kind"]
            if kind not in KINDS:
                raise ValueError(f"unknown kind {kind!r}")
            serial = obj["serial"]
            if not isinstance(serial, int) or isinstance(serial, bool):
                raise ValueError(f"serial {serial!r} is not an integer")
            revoked = obj.get("revoked_at")
            return cls(
                serial=serial,
                kind=kind,
                subject=str(obj["subject"]),
                party=None if obj.get("party") is None else str(obj["party"]),
                not_before=_parse_iso(obj["not_before"]),
                not_after=_parse_iso(obj["not_after"]),
                revoked_at=None if revoked is None else _parse_iso(revoked),
                reason=None if obj.get("reason") is None else str(obj["reason"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PkiError(f"{where}: bad index entry {obj!r}: {exc}") from exc


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_iso(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not an ISO 8601 time")
    t = datetime.fromisoformat(text)
    if t.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return t.astimezone(UTC)


def _read_index(root: Path) -> list[CertRecord]:
    path = root / "index.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PkiError(f"{path}: missing (is {root} a PKI root? run `pki init`)") from exc
    except (OSError, ValueError) as exc:
        raise PkiError(f"{path}: unreadable: {exc}") from exc
    if not isinstance(data, list):
        raise PkiError(f"{path}: expected a JSON list of certificates")
    return [CertRecord.from_json(obj, path) for obj in data]


def _write_index(root: Path, records: Sequence[CertRecord]) -> None:
    text = json.dumps([r.to_json() for r in records], indent=2) + "\n"
    _write_atomic(root / "index.json", text.encode("utf-8"))


# --- files ---------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write via a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            if private:
                os.fchmod(f.fileno(), 0o600)  # whatever the umask
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomic(path, pem, private=True)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    _write_atomic(path, cert.public_bytes(serialization.Encoding.PEM))


def read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise PkiError(f"{path}: missing {what}") from exc
    except OSError as exc:
        raise PkiError(f"{path}: cannot read {what}: {exc}") from exc


def load_cert(path: Path, what: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(read_bytes(path, what))
    except ValueError as exc:
        raise PkiError(f"{path}: not a PEM certificate ({what}): {exc}") from exc


def load_key(path: Path, what: str) -> Any:
    try:
        return serialization.load_pem_private_key(read_bytes(path, what), password=None)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"{path}: not an unencrypted PEM private key ({what}): {exc}") from exc


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Serialise changes to a PKI root, so two issuers cannot lose each other's index entry."""
    if not root.is_dir():
        raise PkiError(f"{root}: no such PKI root directory")
    with open(root / ".lock", "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


# --- certificate building ------------------------------------------------------------------


def check_party(party: str) -> None:
    if not isinstance(party, str) or not PARTY_ID.fullmatch(party):
        raise PkiError(
            f"bad party id {party!r}: expected 1-16 characters, an upper-case letter "
            "then upper-case letters, digits, '_' or '-' (e.g. KR, US, NATO-1)"
        )


def party_name(party: str) -> x509.Name:
    """The subject of both of a party's certificates."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, FEDERATION_ORG),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, PARTY_OU),
            x509.NameAttribute(NameOID.COMMON_NAME, party),
        ]
    )


def party_dir(root: Path, party: str) -> Path:
    return root / "parties" / party


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _validity(
    days: int, not_before: datetime | None, not_after: datetime | None
) -> tuple[datetime, datetime]:
    if not_before is not None and not_before.tzinfo is None:
        raise PkiError("not_before must be timezone-aware (UTC)")
    if not_after is not None and not_after.tzinfo is None:
        raise PkiError("not_after must be timezone-aware (UTC)")
    now = _now()
    if not_after is None and days <= 0:
        raise PkiError(f"days must be positive, not {days}")
    start = (now - CLOCK_SKEW if not_before is None else not_before).astimezone(UTC)
    end = (now + timedelta(days=days) if not_after is None else not_after).astimezone(UTC)
    start, end = start.replace(microsecond=0), end.replace(microsecond=0)
    if end <= start:
        raise PkiError(f"not_after {iso(end)} is not after not_before {iso(start)}")
    return start, end


class _Ca:
    """The CA certificate and key of a root, loaded for issuing."""

    def __init__(self, root: Path) -> None:
        key_path = root / "ca.key"
        if not key_path.exists():
            raise PkiError(f"{key_path}: missing CA key (run `pki init {root}` first)")
        self.cert = load_cert(root / "ca.crt", "CA certificate")
        key = load_key(key_path, "CA key")
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError(f"{key_path}: the CA key is not an ECDSA key")
        self.key: ec.EllipticCurvePrivateKey = key
        self.ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())

    def builder(
        self, subject: x509.Name, public_key: Any, serial: int, start: datetime, end: datetime
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(serial)
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(self.ski),
                critical=False,
            )
        )

    def sign(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        return builder.sign(self.key, hashes.SHA256())


def key_usage(*, digital_signature: bool = False, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _new_serial(records: Sequence[CertRecord]) -> int:
    """A random positive 63-bit serial: unpredictable, unique in the index, easy to type."""
    used = {r.serial for r in records}
    while True:
        serial = secrets.randbits(63)
        if serial > 0 and serial not in used:
            return serial


def _write_crl(root: Path, ca: _Ca, records: Sequence[CertRecord]) -> None:
    path = root / "crl.pem"
    number = 1
    if path.exists():
        try:
            old = x509.load_pem_x509_crl(path.read_bytes())
            number = old.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
        except (ValueError, x509.ExtensionNotFound):
            pass
    now = _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now)
        .next_update(now + CRL_LIFETIME)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca.ski), critical=False
        )
    )
    for r in records:
        if r.revoked_at is None:
            continue
        entry = (
            x509.RevokedCertificateBuilder().serial_number(r.serial).revocation_date(r.revoked_at)
        )
        flag = _REASONS.get((r.reason or "").lower())
        if flag is not None and flag is not x509.ReasonFlags.unspecified:
            entry = entry.add_extension(x509.CRLReason(flag), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(ca.key, hashes.SHA256())
    _write_atomic(path, crl.public_bytes(serialization.Encoding.PEM))


# --- public operations ---------------------------------------------------------------------


def init_ca(root: Path, name: str = "WarnLink federation", days: int = 3650) -> None:
    """Create the federation CA, an empty CRL and an empty index; never overwrite a CA."""
    root = Path(root)
    if (root / "ca.key").exists():
        raise PkiError(f"{root / 'ca.key'}: a CA already exists here; refusing to replace it")
    if not name.strip():
        raise PkiError("the CA name must not be empty")
    if days <= 0:
        raise PkiError(f"days must be positive, not {days}")
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root):
        if (root / "ca.key").exists():
            raise PkiError(f"{root / 'ca.key'}: a CA already exists here; refusing to replace it")
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, FEDERATION_ORG),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        now = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(secrets.randbits(63) | 1)
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(key_usage(cert_sign=True), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                critical=False,
            )
            .sign(key, hashes.SHA256())
        )
        _write_key(root / "ca.key", key)
        _write_cert(root / "ca.crt", cert)
        _write_index(root, [])
        _write_crl(root, _Ca(root), [])


def issue_hub(
    root: Path,
    hosts: Sequence[str] = ("localhost", "127.0.0.1"),
    days: int = 365,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> int:
    """Issue the hub's TLS server certificate for `hosts`; IP literals become IP SANs."""
    root = Path(root)
    if isinstance(hosts, str):
        hosts = (hosts,)
    if not hosts:
        raise PkiError("the hub certificate needs at least one host name or IP address")
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            if not host or any(c.isspace() for c in host) or not host.isascii():
                raise PkiError(f"bad hub host name {host!r}") from None
            names.append(x509.DNSName(host.lower()))
    start, end = _validity(days, not_before, not_after)
    with _locked(root):
        ca = _Ca(root)
        records = _read_index(root)
        serial = _new_serial(records)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, FEDERATION_ORG),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, HUB_OU),
                x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
            ]
        )
        cert = ca.sign(
            ca.builder(subject, key.public_key(), serial, start, end)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
        _write_key(root / "hub" / "hub.key", key)
        _write_cert(root / "hub" / "hub.crt", cert)
        records.append(_record(cert, "hub", None))
        _write_index(root, records)
    return serial


def issue_party(
    root: Path,
    party: str,
    days: int = 365,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> tuple[int, int]:
    """Issue a party's TLS client and Ed25519 signing certificates; returns their serials.

    Re-issuing replaces the files; the old certificates stay valid until revoked.
    """
    root = Path(root)
    check_party(party)
    start, end = _validity(days, not_before, not_after)
    uri = x509.SubjectAlternativeName([x509.UniformResourceIdentifier(PARTY_URI_PREFIX + party)])
    subject = party_name(party)
    with _locked(root):
        ca = _Ca(root)
        records = _read_index(root)
        tls_serial = _new_serial(records)
        tls_key = ec.generate_private_key(ec.SECP256R1())
        tls_cert = ca.sign(
            ca.builder(subject, tls_key.public_key(), tls_serial, start, end)
            .add_extension(uri, critical=False)
            .add_extension(key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        )
        records.append(_record(tls_cert, "party-tls", party))
        sign_serial = _new_serial(records)
        sign_key = ed25519.Ed25519PrivateKey.generate()
        sign_cert = ca.sign(
            ca.builder(subject, sign_key.public_key(), sign_serial, start, end)
            .add_extension(uri, critical=False)
            .add_extension(key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([WARNLINK_SIGNING_EKU]), critical=True)
        )
        records.append(_record(sign_cert, "party-signing", party))
        folder = party_dir(root, party)
        _write_key(folder / "tls.key", tls_key)
        _write_cert(folder / "tls.crt", tls_cert)
        _write_key(folder / "signing.key", sign_key)
        _write_cert(folder / "signing.crt", sign_cert)
        _write_index(root, records)
    return tls_serial, sign_serial


def _record(cert: x509.Certificate, kind: Kind, party: str | None) -> CertRecord:
    return CertRecord(
        serial=cert.serial_number,
        kind=kind,
        subject=cert.subject.rfc4514_string(),
        party=party,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def revoke(
    root: Path, *, party: str | None = None, serial: int | None = None, reason: str = "unspecified"
) -> list[int]:
    """Revoke one certificate, or all of a party's unrevoked ones, and rewrite the CRL.

    Servers and SigningCertificates pick the new CRL up when they next load crl.pem.
    """
    root = Path(root)
    if (party is None) == (serial is None):
        raise PkiError("revoke needs exactly one of a party or a serial number")
    flag = _REASONS.get(reason.lower())
    if flag is None:
        choices = ", ".join(f.value for f in x509.ReasonFlags)
        raise PkiError(f"unknown revocation reason {reason!r}; one of: {choices}")
    if flag is x509.ReasonFlags.remove_from_crl:
        raise PkiError("revocation reason removeFromCRL is only for delta CRLs")
    if party is not None:
        check_party(party)
    with _locked(root):
        ca = _Ca(root)
        records = _read_index(root)
        if party is not None:
            mine = [r for r in records if r.party == party]
            if not mine:
                raise PkiError(f"party {party}: no certificates issued in {root}")
            hits = {r.serial for r in mine if r.revoked_at is None}
            if not hits:
                raise PkiError(f"party {party}: all its certificates are already revoked")
        else:
            found = [r for r in records if r.serial == serial]
            if not found:
                raise PkiError(f"serial {serial}: no such certificate in {root / 'index.json'}")
            if found[0].revoked_at is not None:
                raise PkiError(f"serial {serial}: already revoked at {iso(found[0].revoked_at)}")
            hits = {found[0].serial}
        now = _now()
        records = [
            CertRecord(
                r.serial, r.kind, r.subject, r.party, r.not_before, r.not_after, now, flag.value
            )
            if r.serial in hits
            else r
            for r in records
        ]
        _write_crl(root, ca, records)
        _write_index(root, records)
    return [r.serial for r in records if r.serial in hits]


def refresh_crl(root: Path) -> None:
    """Re-sign crl.pem with a new nextUpdate; run it well within 30 days of the last one.

    TLS peers refuse every certificate once the CRL is past its nextUpdate, so a federation
    with no revocations for a month must still refresh its CRL (e.g. from cron).
    """
    root = Path(root)
    with _locked(root):
        _write_crl(root, _Ca(root), _read_index(root))


def listing(root: Path) -> list[CertRecord]:
    """Every certificate issued under `root`, in issuing order."""
    return _read_index(Path(root))
