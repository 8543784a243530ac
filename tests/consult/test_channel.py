"""The consultation on the exchange, end to end: a real hub and one `warnlink consult run`
process per party over real TLS, driven by the one-shot commands a principal uses.

One scenario, in the order a crisis runs: the channel comes up (rosters, key bundles,
hotline tests answered), a message with delivery and read receipts, a convening whose
leader does not answer (the alternate is paged on time), the hub and a party killed and
restarted mid-consultation, a joint decision signed by all three parties and witnessed,
a device removed (it reads nothing after), tampering and a forged signature found by
`warnlink consult verify`, and the hotline alarm when a party's channel goes down.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from exchange.conftest import Federation, Proc, federation, wait_for
from warnlink.consult import wire
from warnlink.consult.convene import convene_reason, regions_concerning, should_convene
from warnlink.consult.crypto import ConsultError, Device
from warnlink.consult.log import decode_entry
from warnlink.consult.setup import PASSPHRASE_ENV, state_path
from warnlink.exchange.envelope import Kind
from warnlink.exchange.node_store import NodeStore
from warnlink.exchange.signing import Signer, SigningCertificates, Verifier

__all__ = ["federation"]  # the exchange tests' fixture, reused

PASS = "hotline passphrase"
ACK_S = 1.5
TEST_INTERVAL, TEST_TIMEOUT = 1.0, 1.5
PRINCIPALS = {  # names long enough not to turn up by chance in a megabyte of ciphertext
    "KR": ["leejin=phone,desk", "kimsoo=phone"],
    "JP": ["sato=desk", "tanaka=desk"],
    "US": ["smith=desk"],
}
NAMES = [spec.split("=")[0] for specs in PRINCIPALS.values() for spec in specs]
SECRETS = ["launch detected over the East Sea", "no public alert yet, hold", "after removal"]


def test_should_convene_on_own_regions_at_risk() -> None:
    at_risk = ["JP-13", "JP-14", "KP-01"]
    assert should_convene(["JP"], at_risk)
    assert not should_convene(["KR"], at_risk)
    assert should_convene(["kr", "US"], ["KR-11"])
    assert not should_convene(["US"], [])
    assert regions_concerning(["JP"], at_risk) == ["JP-13", "JP-14"]
    assert convene_reason(["JP"], at_risk) == "regions at risk: JP-13, JP-14"


def _warnlink(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [sys.executable, "-m", "warnlink.cli", *args], capture_output=True, text=True, timeout=60
    )
    if check:
        assert out.returncode == 0, f"warnlink {' '.join(args)}: {out.stdout}{out.stderr}"
    return out


class Consultation:
    """Three parties' channels on the federation's hub; KR keeps the log."""

    def __init__(self, fed: Federation) -> None:
        self.fed = fed
        self.procs: dict[str, Proc] = {}
        for party, principals in PRINCIPALS.items():
            args = ["consult", "init", "--pki", str(fed.pki), "--party", party, "--data",
                    str(self.data(party)), "--consultation", "c-2026-001", "--members",
                    "JP,KR,US", "--keeper", "KR", "--ack-timeout", str(ACK_S),
                    "--kdf", "min"]  # fmt: skip
            for p in principals:
                args += ["--principal", p]
            _warnlink(*args)

    def data(self, party: str) -> Path:
        return self.fed.root / f"consult-{party}"

    def start(self, party: str) -> Proc:
        ready = self.fed.root / f"consult-{party}.ready"
        proc = Proc(
            ["consult", "run", "--pki", str(self.fed.pki), "--party", party, "--hub",
             f"127.0.0.1:{self.fed.port}", "--data", str(self.data(party)), "--headless",
             "--test-interval", str(TEST_INTERVAL), "--test-timeout", str(TEST_TIMEOUT),
             "--ready-file", str(ready)],
            self.fed.root / f"consult-{party}.log", ready,
        ).start()  # fmt: skip
        self.procs[party] = proc
        self.fed.procs.append(proc)
        return proc

    def status(self, party: str) -> dict[str, Any]:
        try:
            out: dict[str, Any] = json.loads((self.data(party) / "status.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return out

    def do(self, party: str, device: str, *args: str) -> str:
        """A principal's one-shot command; what the channel answered."""
        out = _warnlink("consult", args[0], "--data", str(self.data(party)), "--device", device,
                        *args[1:])  # fmt: skip
        return out.stdout.strip()

    def events(self, party: str, name: str) -> list[dict[str, Any]]:
        return [e for e in self.procs[party].events() if e.get("event") == name]

    def texts(self, party: str) -> list[str]:
        return [m["text"] for m in self.status(party).get("messages", [])]

    def receipts(self, party: str) -> set[tuple[str, str, str]]:
        with sqlite3.connect(self.data(party) / "consult.db") as db:
            rows = db.execute("SELECT party, state, sender FROM receipts").fetchall()
        return {(p, s, d) for p, s, d in rows}

    def ids(self, party: str) -> dict[str, str]:
        """Device ids by the names the party's members know them by (opaque on the wire)."""
        return {name: d for d, name in self.status(party)["names"].items()}

    def channels_ok(self, party: str) -> bool:
        members = self.status(party).get("members", {})
        return bool(members) and all(m["channel"] in ("ok", "self") for m in members.values())


def _ts(e: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(e["ts"]).replace("Z", "+00:00")).timestamp()


def _keys(pki: Path) -> dict[str, Verifier]:
    certs = SigningCertificates.for_root(pki)
    return {p: certs.check(Signer.load(pki, p).certificate_der) for p in PRINCIPALS}


def _verify(*args: str) -> subprocess.CompletedProcess[str]:
    return _warnlink("consult", "verify", *args, check=False)


def test_consultation_over_the_exchange(
    federation: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    fed = federation
    monkeypatch.setenv(PASSPHRASE_ENV, PASS)
    c = Consultation(fed)
    fed.start_hub()
    for party in PRINCIPALS:
        c.start(party)

    # the channel comes up: rosters, bundles, and every party answers the others' tests
    wait_for(lambda: all(c.channels_ok(p) for p in PRINCIPALS), 30, "hotline tests answered")

    # a message, with signed delivery receipts from both others and a read receipt
    assert c.do("KR", "KR/leejin/phone", "send", SECRETS[0]) == "queued"
    wait_for(lambda: all(SECRETS[0] in c.texts(p) for p in ("JP", "US")), 10, "the message")
    c.do("JP", "JP/tanaka/desk", "read")
    lee = c.ids("KR")["KR/leejin/phone"]
    assert lee.startswith("KR/") and "leejin" not in lee
    want = {("JP", "delivered", lee), ("US", "delivered", lee), ("JP", "read", lee)}
    wait_for(lambda: want <= c.receipts("KR"), 10, "delivery and read receipts at KR")

    # JP convenes; KR's leader does not answer, so KR's first alternate is paged on time
    out = c.do("JP", "JP/sato/desk", "convene", "--reason", "impact predicted in JP-13")
    request = out.split()[-1]

    def paged(principal: str) -> list[dict[str, Any]]:
        return [e for e in c.events("KR", "consult_page")
                if e["principal"] == principal and e["request"] == request]  # fmt: skip

    wait_for(lambda: paged("kimsoo"), 10, "KR's alternate paged")
    late = _ts(paged("kimsoo")[0]) - _ts(paged("leejin")[0])
    assert ACK_S - 0.05 <= late <= ACK_S + 0.5, f"alternate paged after {late:.2f} s"
    c.do("KR", "KR/kimsoo/phone", "ack")
    c.do("US", "US/smith/desk", "ack", "--request", request)

    def acked(party: str) -> dict[str, Any]:
        reqs = c.status("JP").get("requests", [])
        return next((r["parties"][party] for r in reqs if r["request"] == request), {})

    wait_for(lambda: acked("KR").get("by") == "kimsoo" and acked("US").get("by") == "smith", 10,
             "KR (by its alternate) and US acknowledged, as JP sees it")  # fmt: skip

    # the hub and KR (the log's keeper) crash mid-consultation; US speaks meanwhile
    assert fed.hub is not None
    fed.hub.kill9()
    c.procs["KR"].kill9()
    c.do("US", "US/smith/desk", "send", SECRETS[1], "--wait", "2")
    fed.start_hub()
    c.start("KR")
    wait_for(lambda: SECRETS[1] in c.texts("KR") and SECRETS[1] in c.texts("JP"), 20,
             "the message sent while the hub was down")  # fmt: skip

    # a joint decision: KR proposes, JP and US approve, every party signs; the entry is
    # replicated to every party's log and the checkpoint co-signed by JP and US
    out = c.do("KR", "KR/leejin/phone", "decide", "--category", "decision", "--summary",
               "no public alert", "--parties", "JP,KR,US", "--refs", "")  # fmt: skip
    proposal = out.split()[-1]
    wait_for(lambda: any(p["proposal"] == proposal for p in c.status("US").get("proposals", [])),
             10, "the proposal at US")  # fmt: skip
    c.do("JP", "JP/sato/desk", "approve", proposal)
    c.do("US", "US/smith/desk", "approve", proposal)
    wait_for(lambda: all(c.status(p).get("log_size") == 1 for p in PRINCIPALS), 15,
             "the entry in every party's log")  # fmt: skip

    def cosigned() -> bool:
        out = _warnlink("consult", "log", "--data", str(c.data("KR"))).stdout
        return out.count("\u2014 ") == 3  # KR's signature, JP's and US's co-signatures

    wait_for(cosigned, 15, "the checkpoint co-signed by JP and US")
    log_out = _warnlink("consult", "log", "--data", str(c.data("JP"))).stdout
    assert "decision [JP,KR,US]: no public alert (signed JP,KR,US)" in log_out
    kr_log = c.data("KR") / "decisions.db"
    for party in PRINCIPALS:
        got = _verify("--log", str(c.data(party) / "decisions.db"), "--pki", str(fed.pki))
        assert got.returncode == 0, got.stdout
    held = c.data("JP") / "checkpoint.note"
    assert _verify("--log", str(kr_log), "--checkpoint", str(held)).returncode == 0

    # a device removed: members stop encrypting to it, it reads nothing said after
    desk = c.ids("KR")["KR/leejin/desk"]
    c.do("KR", "KR/leejin/phone", "roster", "--remove", "KR/leejin/desk")
    wait_for(lambda: c.status("JP")["members"]["KR"]["roster"] == 2, 10, "KR's roster v2 at JP")
    wait_for(lambda: "KR/leejin/desk" not in c.ids("JP"), 10, "who holds KR's v2 devices, at JP")
    assert c.ids("JP")["KR/leejin/phone"] == lee
    c.do("JP", "JP/sato/desk", "send", SECRETS[2])
    wait_for(lambda: SECRETS[2] in c.texts("KR"), 10, "the message after the removal at KR")
    removed = Device.load(state_path(c.data("KR"), desk), PASS, _keys(fed.pki))
    store = NodeStore(c.data("KR") / "node" / "node.db")
    frames = [wire.decode_frame(r.envelope.payload) for r in store.inbox(0, 10_000)
              if r.envelope.kind == Kind.CONSULTATION]  # fmt: skip
    store.close()
    groups = [f.message for f in frames if isinstance(f, wire.GroupFrame)]
    last_jp = [g for g in groups if g.sender.startswith("JP/")][-5:]
    for msg in last_jp:
        with pytest.raises(ConsultError):
            removed.decrypt(msg)
    assert all(desk not in {s.device for s in g.sealed} for g in last_jp[-1:])

    # the hub holds ciphertext only: no plaintext of anything said or decided, and no
    # principal's name or role, in what it stores or what it logs
    c.procs["KR"].stop()
    hub_bytes = b"".join(p.read_bytes() for p in (fed.root / "hub").glob("hub.db*"))
    assert len(hub_bytes) > 10_000 and lee.encode() in hub_bytes  # the routing is there
    for secret in [*SECRETS, "no public alert", "impact predicted in JP-13"]:
        assert secret.encode() not in hub_bytes, f"{secret!r} in the hub's storage"
    stored = b"".join(p.read_bytes() for p in (fed.root / "hub").rglob("*") if p.is_file())
    hub_log = (fed.root / "hub.log").read_bytes()
    assert len(hub_log) > 1_000
    for word in [*NAMES, "leader", "alternate", "KR/leejin/phone", "JP/sato/desk"]:
        assert word.encode() not in stored, f"{word!r} in the hub's storage"
        assert word.encode() not in hub_log, f"{word!r} in the hub's log"

    # tampering with a record, and a forged signature of a party to the joint decision
    for how in ("record", "signature"):
        copy = fed.root / f"tampered-{how}.db"
        with sqlite3.connect(kr_log) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)  # the log is in WAL mode: a file copy may miss the newest pages
        with sqlite3.connect(copy) as db:
            db.execute("DROP TRIGGER entries_no_update")
            (data,) = db.execute("SELECT data FROM entries WHERE idx = 0").fetchone()
            entry, _ = decode_entry(data)
            if how == "record":
                bad = data.replace(b"no public alert", b"do public alert")
            else:
                jp = next(s for s in entry.signatures if s.party == "JP")
                forged = bytes([jp.signature[0] ^ 1]) + jp.signature[1:]
                bad = data.replace(jp.signature, forged)
            assert bad != data
            db.execute("UPDATE entries SET data = ? WHERE idx = 0", (bad,))
        got = _verify("--log", str(copy), "--checkpoint", str(held))
        assert got.returncode == 1, got.stdout
        if how == "signature":
            assert "bad signature by JP" in got.stdout

    # the hotline: JP's channel goes down, KR's and US's tests go unanswered: alarm
    c.start("KR")
    wait_for(lambda: c.channels_ok("KR"), 15, "KR's channel back")
    down = time.time()
    c.procs["JP"].stop()

    def alarmed(party: str) -> list[dict[str, Any]]:
        return [e for e in c.events(party, "consult_alarm")
                if e["party"] == "JP" and e["reason"] == "channel_test_failed"
                and _ts(e) > down]  # fmt: skip

    wait_for(lambda: alarmed("KR") and alarmed("US"), 10, "the channel test alarm for JP")
    assert _ts(alarmed("KR")[0]) - down <= TEST_INTERVAL + TEST_TIMEOUT + 1.5
    wait_for(lambda: c.status("KR")["members"]["JP"]["channel"] == "failing", 5, "JP failing")
    assert _warnlink("consult", "status", "--data", str(c.data("KR")), check=False).returncode == 1
