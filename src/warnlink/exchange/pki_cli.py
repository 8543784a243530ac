"""The `warnlink pki` command: create the federation CA, issue, revoke and list certificates."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from warnlink.exchange import pki
from warnlink.tables import table

out = Console()
err = Console(stderr=True)

Handler = Callable[[argparse.Namespace], int]


def _guarded(handler: Handler) -> Handler:
    """Turn a PkiError into one clear line on stderr and exit code 2, not a traceback."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except pki.PkiError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            return 2

    return run


def _say(text: str) -> None:
    out.print(escape(text), highlight=False, soft_wrap=True)


@_guarded
def _cmd_init(args: argparse.Namespace) -> int:
    root = Path(args.root)
    pki.init_ca(root, name=args.name, days=args.days)
    _say(f"created the federation CA {args.name!r} in {root} (ca.crt, ca.key, crl.pem)")
    return 0


@_guarded
def _cmd_hub(args: argparse.Namespace) -> int:
    root = Path(args.root)
    hosts = args.host or ["localhost", "127.0.0.1"]
    serial = pki.issue_hub(root, hosts, days=args.days)
    _say(f"issued the hub certificate serial {serial} for {', '.join(hosts)}: {root / 'hub'}")
    return 0


@_guarded
def _cmd_party(args: argparse.Namespace) -> int:
    root = Path(args.root)
    tls, signing = pki.issue_party(root, args.party, days=args.days)
    _say(
        f"issued party {args.party}: TLS certificate serial {tls}, signing certificate "
        f"serial {signing}: {root / 'parties' / args.party}"
    )
    return 0


@_guarded
def _cmd_revoke(args: argparse.Namespace) -> int:
    root = Path(args.root)
    serials = pki.revoke(root, party=args.party, serial=args.serial, reason=args.reason)
    _say(
        f"revoked {len(serials)} certificate(s): {', '.join(map(str, serials))}; "
        f"rewrote {root / 'crl.pem'} (the hub applies it from its next connection)"
    )
    return 0


@_guarded
def _cmd_crl(args: argparse.Namespace) -> int:
    root = Path(args.root)
    pki.refresh_crl(root)
    _say(f"re-signed {root / 'crl.pem'}, valid for {pki.CRL_LIFETIME.days} days")
    return 0


def _status(r: pki.CertRecord, now: datetime) -> str:
    if r.revoked_at is not None:
        return f"revoked ({r.reason})"
    if now > r.not_after:
        return "expired"
    if now < r.not_before:
        return "not yet valid"
    return "valid"


@_guarded
def _cmd_list(args: argparse.Namespace) -> int:
    records = pki.listing(Path(args.root))
    now = datetime.now(UTC)
    t = table(
        f"Certificates in {args.root}",
        ("party", "kind", "expires (UTC)", "status"),
        ("serial",),
    )
    party_col, kind_col, date_col, status_col = t.columns[:4]
    kind_col.no_wrap = date_col.no_wrap = True
    party_col.overflow = "fold"
    status_col.min_width = len("revoked")
    status_col.overflow = "fold"
    serial_col = t.columns[-1]
    serial_col.no_wrap = True  # a serial is typed back into `pki revoke`: never cut it
    serial_col.min_width = max((len(str(r.serial)) for r in records), default=6)
    for r in records:
        t.add_row(
            escape(r.party or "(hub)"),
            r.kind.removeprefix("party-"),
            r.not_after.strftime("%Y-%m-%d"),
            escape(_status(r, now)),
            str(r.serial),
        )
    out.print(t)
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `pki` and its subcommands to the `warnlink` command line."""
    p = sub.add_parser("pki", help="federation certificates: CA, hub, parties, revocation")
    pki_sub = p.add_subparsers(dest="pki_command", required=True)

    c = pki_sub.add_parser("init", help="create the federation CA in a new PKI root")
    c.add_argument("root", help="PKI root directory")
    c.add_argument("--name", default="WarnLink federation", help="CA common name")
    c.add_argument("--days", type=int, default=3650, help="CA validity (default 3650)")
    c.set_defaults(func=_cmd_init)

    c = pki_sub.add_parser("hub", help="issue the hub's TLS server certificate")
    c.add_argument("root", help="PKI root directory")
    c.add_argument(
        "--host",
        action="append",
        help="DNS name or IP address of the hub (repeatable; default localhost and 127.0.0.1)",
    )
    c.add_argument("--days", type=int, default=365, help="validity (default 365)")
    c.set_defaults(func=_cmd_hub)

    c = pki_sub.add_parser("party", help="issue a party's TLS and signing certificates")
    c.add_argument("root", help="PKI root directory")
    c.add_argument("party", help="party id, e.g. KR, US, JP, NATO-1")
    c.add_argument("--days", type=int, default=365, help="validity (default 365)")
    c.set_defaults(func=_cmd_party)

    c = pki_sub.add_parser("revoke", help="revoke a certificate or all of a party's")
    c.add_argument("root", help="PKI root directory")
    which = c.add_mutually_exclusive_group(required=True)
    which.add_argument("--party", help="revoke all of this party's unrevoked certificates")
    which.add_argument("--serial", type=int, help="revoke the certificate with this serial")
    c.add_argument(
        "--reason", default="unspecified", help="RFC 5280 reason, e.g. keyCompromise, superseded"
    )
    c.set_defaults(func=_cmd_revoke)

    c = pki_sub.add_parser("crl", help="re-sign the CRL (it expires 30 days after signing)")
    c.add_argument("root", help="PKI root directory")
    c.set_defaults(func=_cmd_crl)

    c = pki_sub.add_parser("list", help="list every issued certificate")
    c.add_argument("root", help="PKI root directory")
    c.set_defaults(func=_cmd_list)
