"""The federation PKI on real files and real TLS 1.3 handshakes over loopback sockets."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import ipaddress
import json
import ssl
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from warnlink.exchange import pki, pki_cli, signing, tls

PAST_START = datetime(2020, 1, 1, tzinfo=UTC)
PAST_END = datetime(2021, 1, 1, tzinfo=UTC)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A PKI root with a CA, a hub certificate for localhost and parties KR and US."""
    r = tmp_path / "pki"
    pki.init_ca(r)
    pki.issue_hub(r)
    pki.issue_party(r, "KR")
    pki.issue_party(r, "US")
    return r


@pytest.fixture
def foreign(tmp_path: Path) -> Path:
    """A second, unrelated federation with the same layout and party names."""
    r = tmp_path / "foreign"
    pki.init_ca(r, name="Somebody else")
    pki.issue_hub(r)
    pki.issue_party(r, "KR")
    return r


# --- a TLS handshake harness -----------------------------------------------------------------


@dataclass
class Outcome:
    """What each side of one connection saw."""

    server_party: str | None = None
    server_error: BaseException | None = None
    client_line: bytes = b""
    client_error: BaseException | None = None

    @property
    def connected(self) -> bool:
        return self.server_party is not None and self.client_line.startswith(b"hello ")


async def _connect(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> Outcome:
    outcome = Outcome()
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            # start_tls (not start_server(ssl=...)) so the server's handshake error reaches us
            await writer.start_tls(server_ctx)
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
            outcome.server_party = tls.peer_party(der)
            writer.write(f"hello {outcome.server_party}\n".encode())
            await writer.drain()
        except Exception as exc:
            outcome.server_error = exc
        finally:
            done.set()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    "127.0.0.1", port, ssl=client_ctx, server_hostname="localhost"
                ),
                10,
            )
            try:
                outcome.client_line = await asyncio.wait_for(reader.readline(), 10)
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
        except (OSError, asyncio.IncompleteReadError) as exc:  # ssl.SSLError is an OSError
            outcome.client_error = exc
        await asyncio.wait_for(done.wait(), 10)
    finally:
        server.close()
        await server.wait_closed()
    return outcome


def connect(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> Outcome:
    return asyncio.run(_connect(server_ctx, client_ctx))


def _bare_client(root: Path) -> ssl.SSLContext:
    """A client that trusts the CA but has no certificate of its own."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(cafile=root / "ca.crt")
    return ctx


# --- TLS -------------------------------------------------------------------------------------


def test_good_party_connects_and_is_identified(root: Path) -> None:
    out = connect(tls.server_context(root), tls.client_context(root, "KR"))
    assert out.server_error is None and out.client_error is None
    assert out.server_party == "KR"
    assert out.client_line == b"hello KR\n"


def test_contexts_are_tls13_only_with_crl_checks(root: Path) -> None:
    for ctx in (tls.server_context(root), tls.client_context(root, "US")):
        assert ctx.minimum_version == ctx.maximum_version == ssl.TLSVersion.TLSv1_3
        assert ctx.verify_mode == ssl.CERT_REQUIRED
        assert ctx.verify_flags & ssl.VERIFY_CRL_CHECK_LEAF
    assert tls.client_context(root, "US").check_hostname


def test_expired_party_cert_is_refused_at_handshake(root: Path) -> None:
    pki.issue_party(root, "JP", not_before=PAST_START, not_after=PAST_END)
    out = connect(tls.server_context(root), tls.client_context(root, "JP"))
    assert not out.connected
    assert isinstance(out.server_error, ssl.SSLCertVerificationError)
    assert "expired" in str(out.server_error)


def test_revoked_party_cert_is_refused_at_handshake(root: Path) -> None:
    assert connect(tls.server_context(root), tls.client_context(root, "KR")).connected
    revoked = pki.revoke(root, party="KR", reason="keyCompromise")
    assert len(revoked) == 2
    out = connect(tls.server_context(root), tls.client_context(root, "KR"))
    assert not out.connected
    assert isinstance(out.server_error, ssl.SSLCertVerificationError)
    assert "revoked" in str(out.server_error)
    # the other party is unaffected
    assert connect(tls.server_context(root), tls.client_context(root, "US")).server_party == "US"


def test_client_without_certificate_is_refused(root: Path) -> None:
    out = connect(tls.server_context(root), _bare_client(root))
    assert not out.connected
    assert isinstance(out.server_error, ssl.SSLError)
    assert "certificate" in str(out.server_error).lower()


def test_hub_cert_from_another_ca_is_refused_by_client(root: Path, foreign: Path) -> None:
    out = connect(tls.server_context(foreign), tls.client_context(root, "KR"))
    assert not out.connected
    assert isinstance(out.client_error, ssl.SSLCertVerificationError)
    assert out.server_error is not None


def test_party_cert_from_another_ca_is_refused_by_hub(root: Path, foreign: Path) -> None:
    client = _bare_client(root)  # trusts our CA, so it accepts our hub ...
    client.load_cert_chain(foreign / "parties/KR/tls.crt", foreign / "parties/KR/tls.key")
    out = connect(tls.server_context(root), client)  # ... but presents the foreign KR cert
    assert not out.connected
    assert isinstance(out.server_error, ssl.SSLCertVerificationError)


def test_signing_cert_cannot_be_used_as_tls_client_cert(root: Path) -> None:
    client = _bare_client(root)
    client.load_cert_chain(root / "parties/KR/signing.crt", root / "parties/KR/signing.key")
    out = connect(tls.server_context(root), client)
    assert not out.connected
    assert isinstance(out.server_error, ssl.SSLCertVerificationError)  # no clientAuth EKU


def test_hub_cert_for_another_host_fails_hostname_check(tmp_path: Path) -> None:
    r = tmp_path / "pki"
    pki.init_ca(r)
    pki.issue_hub(r, ["hub.example.org"])
    pki.issue_party(r, "KR")
    out = connect(tls.server_context(r), tls.client_context(r, "KR"))
    assert isinstance(out.client_error, ssl.SSLCertVerificationError)
    assert "localhost" in str(out.client_error)


def test_peer_party_refuses_non_party_tls_certs(root: Path) -> None:
    def der(rel: str) -> bytes:
        return x509.load_pem_x509_certificate((root / rel).read_bytes()).public_bytes(
            serialization.Encoding.DER
        )

    assert tls.peer_party(der("parties/US/tls.crt")) == "US"
    with pytest.raises(pki.PkiError, match="not a party TLS"):
        tls.peer_party(der("parties/US/signing.crt"))
    with pytest.raises(pki.PkiError, match="names no party"):
        tls.peer_party(der("hub/hub.crt"))
    with pytest.raises(pki.PkiError, match="malformed"):
        tls.peer_party(b"not a certificate")


# --- files -----------------------------------------------------------------------------------


def test_layout_index_and_key_modes(root: Path) -> None:
    for rel in ("ca.key", "hub/hub.key", "parties/KR/tls.key", "parties/KR/signing.key"):
        assert stat.S_IMODE((root / rel).stat().st_mode) == 0o600, rel
        assert (root / rel).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    index = json.loads((root / "index.json").read_text())
    assert [e["kind"] for e in index] == ["hub", "party-tls", "party-signing"] * 1 + [
        "party-tls",
        "party-signing",
    ]
    for e in index:
        assert isinstance(e["serial"], int)
        assert e["revoked_at"] is None and e["reason"] is None
        assert datetime.fromisoformat(e["not_before"]) < datetime.now(UTC)
    records = pki.listing(root)
    assert [r.serial for r in records] == [e["serial"] for e in index]
    assert not any(r.expired for r in records)
    crl = x509.load_pem_x509_crl((root / "crl.pem").read_bytes())
    assert len(crl) == 0
    assert crl.next_update_utc is not None
    assert abs(crl.next_update_utc - datetime.now(UTC) - timedelta(days=30)) < timedelta(minutes=1)


def test_certificate_contents(tmp_path: Path) -> None:
    r = tmp_path / "pki"
    pki.init_ca(r)
    pki.issue_hub(r, ["hub.example.org", "10.1.2.3", "::1"])
    pki.issue_party(r, "NATO-1")
    ca = x509.load_pem_x509_certificate((r / "ca.crt").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign

    hub = x509.load_pem_x509_certificate((r / "hub/hub.crt").read_bytes())
    san = hub.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["hub.example.org"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.1.2.3"),
        ipaddress.ip_address("::1"),
    ]
    assert list(hub.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH
    ]

    for name, eku in (
        ("tls.crt", ExtendedKeyUsageOID.CLIENT_AUTH),
        ("signing.crt", pki.WARNLINK_SIGNING_EKU),
    ):
        cert = x509.load_pem_x509_certificate((r / "parties/NATO-1" / name).read_bytes())
        assert cert.subject.rfc4514_string() == "CN=NATO-1,OU=party,O=WarnLink federation"
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["warnlink:party:NATO-1"]
        assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [eku]
        cert.verify_directly_issued_by(ca)
        skew = datetime.now(UTC) - cert.not_valid_before_utc
        assert timedelta(minutes=4) < skew < timedelta(minutes=6)


def test_reissue_replaces_files_and_old_certs_stay_valid_until_revoked(root: Path) -> None:
    certs = signing.SigningCertificates.for_root(root)
    old_der = signing.Signer.load(root, "KR").certificate_der
    old_tls = (root / "parties/KR/tls.crt").read_bytes()
    tls2, sign2 = pki.issue_party(root, "KR")
    assert (root / "parties/KR/tls.crt").read_bytes() != old_tls
    new = signing.Signer.load(root, "KR")
    assert certs.check(new.certificate_der).serial == sign2
    assert certs.check(old_der).party == "KR"  # not revoked yet
    revoked = pki.revoke(root, party="KR", reason="superseded")
    assert len(revoked) == 4 and tls2 in revoked and sign2 in revoked
    certs.reload_crl()
    with pytest.raises(pki.PkiError, match="revoked"):
        certs.check(old_der)


def test_revoke_by_serial_writes_crl_and_index(root: Path) -> None:
    us_tls = next(r for r in pki.listing(root) if r.party == "US" and r.kind == "party-tls")
    assert pki.revoke(root, serial=us_tls.serial, reason="key_compromise") == [us_tls.serial]
    crl = x509.load_pem_x509_crl((root / "crl.pem").read_bytes())
    entry = crl.get_revoked_certificate_by_serial_number(us_tls.serial)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    rec = next(r for r in pki.listing(root) if r.serial == us_tls.serial)
    assert rec.revoked and rec.reason == "keyCompromise"
    assert sum(r.revoked for r in pki.listing(root)) == 1
    with pytest.raises(pki.PkiError, match="already revoked"):
        pki.revoke(root, serial=us_tls.serial)


def test_refresh_crl_keeps_revocations(root: Path) -> None:
    revoked = pki.revoke(root, party="US")
    pki.refresh_crl(root)
    crl = x509.load_pem_x509_crl((root / "crl.pem").read_bytes())
    assert sorted(r.serial_number for r in crl) == sorted(revoked)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 3


# --- errors ----------------------------------------------------------------------------------


def test_init_twice_is_refused(root: Path) -> None:
    ca = (root / "ca.crt").read_bytes()
    with pytest.raises(pki.PkiError, match=r"ca\.key"):
        pki.init_ca(root)
    assert (root / "ca.crt").read_bytes() == ca


@pytest.mark.parametrize("party", ["kr", "", "1KR", "K R", "ABCDEFGHIJKLMNOPQ", "../KR"])
def test_bad_party_id_is_refused(root: Path, party: str) -> None:
    with pytest.raises(pki.PkiError, match="bad party id"):
        pki.issue_party(root, party)
    with pytest.raises(pki.PkiError, match="bad party id"):
        tls.client_context(root, party)


def test_revoke_errors(root: Path) -> None:
    with pytest.raises(pki.PkiError, match="party JP: no certificates"):
        pki.revoke(root, party="JP")
    with pytest.raises(pki.PkiError, match="no such certificate"):
        pki.revoke(root, serial=12345)
    with pytest.raises(pki.PkiError, match="exactly one"):
        pki.revoke(root)
    with pytest.raises(pki.PkiError, match="exactly one"):
        pki.revoke(root, party="KR", serial=1)
    with pytest.raises(pki.PkiError, match="unknown revocation reason"):
        pki.revoke(root, party="KR", reason="bored")
    pki.revoke(root, party="KR")
    with pytest.raises(pki.PkiError, match="already revoked"):
        pki.revoke(root, party="KR")


def test_issue_without_ca_and_contexts_without_files(tmp_path: Path) -> None:
    with pytest.raises(pki.PkiError, match="PKI root"):
        pki.issue_party(tmp_path / "nowhere", "KR")
    tmp_path.joinpath("empty").mkdir()
    with pytest.raises(pki.PkiError, match="missing CA key"):
        pki.issue_hub(tmp_path / "empty")
    r = tmp_path / "pki"
    pki.init_ca(r)
    with pytest.raises(pki.PkiError, match="hub"):
        tls.server_context(r)
    with pytest.raises(pki.PkiError, match="party KR"):
        tls.client_context(r, "KR")
    with pytest.raises(pki.PkiError, match=r"signing\.key"):
        signing.Signer.load(r, "KR")


# --- signing ---------------------------------------------------------------------------------


def test_signer_verifier_roundtrip(root: Path) -> None:
    signer = signing.Signer.load(root, "KR")
    verifier = signing.SigningCertificates.for_root(root).check(signer.certificate_der)
    sign_serial = next(
        r.serial for r in pki.listing(root) if r.party == "KR" and r.kind == "party-signing"
    )
    assert (verifier.party, verifier.serial) == ("KR", sign_serial)
    assert signer.party == "KR" and len(signer.key_id) == 8
    assert verifier.key_id == signer.key_id
    cert = x509.load_der_x509_certificate(signer.certificate_der)
    raw = cert.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert signer.key_id == hashlib.sha256(raw).digest()[:8]
    assert verifier.not_after == cert.not_valid_after_utc

    message = b"launch detected, track 17" * 10
    sig = signer.sign(message)
    assert len(sig) == 64
    assert verifier.verify(sig, message)
    flipped = bytearray(message)
    flipped[5] ^= 0x01
    assert not verifier.verify(sig, bytes(flipped))
    bad_sig = bytearray(sig)
    bad_sig[40] ^= 0x80
    assert not verifier.verify(bytes(bad_sig), message)
    assert not verifier.verify(sig[:63], message)
    assert not verifier.verify(b"", message)
    other = signing.SigningCertificates.for_root(root).check(
        signing.Signer.load(root, "US").certificate_der
    )
    assert not other.verify(sig, message)


def _reason(certs: signing.SigningCertificates, der: bytes, now: datetime | None = None) -> str:
    with pytest.raises(pki.PkiError) as info:
        certs.check(der, now=now)
    assert info.value.reason in str(info.value)
    return info.value.reason


def test_check_refuses_with_reasons(root: Path, foreign: Path) -> None:
    certs = signing.SigningCertificates.for_root(root)
    good = signing.Signer.load(root, "KR").certificate_der
    assert certs.check(good).party == "KR"

    foreign_der = signing.Signer.load(foreign, "KR").certificate_der
    assert _reason(certs, foreign_der) == "not signed by the federation CA"

    tls_der = x509.load_pem_x509_certificate(
        (root / "parties/KR/tls.crt").read_bytes()
    ).public_bytes(serialization.Encoding.DER)
    assert _reason(certs, tls_der) == "not a signing certificate"
    hub_der = x509.load_pem_x509_certificate((root / "hub/hub.crt").read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    assert _reason(certs, hub_der) == "not a signing certificate"

    assert _reason(certs, b"\x30\x03garbage") == "malformed certificate"
    assert _reason(certs, good, now=datetime.now(UTC) - timedelta(hours=1)) == "not yet valid"
    assert _reason(certs, good, now=datetime.now(UTC) + timedelta(days=400)) == "expired"

    pki.issue_party(root, "JP", not_before=PAST_START, not_after=PAST_END)
    expired = signing.Signer.load(root, "JP").certificate_der
    assert _reason(certs, expired) == "expired"
    assert certs.check(expired, now=datetime(2020, 6, 1, tzinfo=UTC)).party == "JP"


def test_revocation_reaches_a_running_checker_on_reload(root: Path) -> None:
    certs = signing.SigningCertificates.for_root(root)
    der = signing.Signer.load(root, "KR").certificate_der
    assert certs.check(der).party == "KR"
    pki.revoke(root, party="KR")
    assert certs.check(der).party == "KR"  # the CRL is read on reload_crl, not per check
    certs.reload_crl()
    assert _reason(certs, der) == "revoked"
    assert certs.check(signing.Signer.load(root, "US").certificate_der).party == "US"
    fresh = signing.SigningCertificates(root / "ca.crt", root / "crl.pem")
    assert _reason(fresh, der) == "revoked"


def test_crl_from_another_ca_is_rejected(root: Path, foreign: Path) -> None:
    with pytest.raises(pki.PkiError, match="not signed by the federation CA"):
        signing.SigningCertificates(root / "ca.crt", foreign / "crl.pem")


# --- command line ----------------------------------------------------------------------------


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="warnlink")
    sub = parser.add_subparsers(dest="command", required=True)
    pki_cli.add_parser(sub)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_cli_init_party_revoke_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = str(tmp_path / "pki")
    assert _run(["pki", "init", r, "--name", "Test federation", "--days", "30"]) == 0
    assert "Test federation" in capsys.readouterr().out
    assert _run(["pki", "hub", r, "--host", "hub.example.org", "--host", "10.0.0.1"]) == 0
    assert "hub.example.org, 10.0.0.1" in capsys.readouterr().out
    assert _run(["pki", "party", r, "KR"]) == 0
    assert _run(["pki", "party", r, "US", "--days", "10"]) == 0
    assert "party US" in capsys.readouterr().out

    us = [x.serial for x in pki.listing(Path(r)) if x.party == "US"]
    assert _run(["pki", "revoke", r, "--serial", str(us[0]), "--reason", "superseded"]) == 0
    assert str(us[0]) in capsys.readouterr().out
    assert _run(["pki", "revoke", r, "--party", "KR"]) == 0
    assert "revoked 2 certificate(s)" in capsys.readouterr().out
    assert _run(["pki", "crl", r]) == 0
    capsys.readouterr()

    assert _run(["pki", "list", r]) == 0
    listing = capsys.readouterr().out
    for x in pki.listing(Path(r)):
        assert str(x.serial) in listing
    assert "superseded" in listing and "(hub)" in listing and "valid" in listing


def test_cli_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = str(tmp_path / "pki")
    assert _run(["pki", "init", r]) == 0
    capsys.readouterr()
    assert _run(["pki", "init", r]) == 2
    assert "already exists" in capsys.readouterr().err
    assert _run(["pki", "revoke", r, "--party", "JP"]) == 2
    assert "party JP" in capsys.readouterr().err
    assert _run(["pki", "party", r, "jp"]) == 2
    assert "bad party id" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _run(["pki", "revoke", r])  # needs --party or --serial
