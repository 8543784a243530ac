"""The exchange's command lines: a message and a report sent with `warnlink node send`
reach the partner's inbox and report listing; bad input gets a clear error, exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import Federation, wait_for

from warnlink.exchange.node_store import NodeStore


def warnlink(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warnlink.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_send_inbox_and_reports_through_the_cli(federation: Federation, tmp_path: Path) -> None:
    fed = federation
    fed.start_hub()
    fed.start_node("KR")
    fed.start_node("US")
    kr = ["--pki", str(fed.pki), "--party", "KR", "--data", str(fed.node_dir("KR"))]
    sent = warnlink("node", "send", *kr, "--kind", "warning", "--to", "US", "--text", "shelter")
    assert sent.returncode == 0, sent.stderr
    doc = tmp_path / "assessment.txt"
    doc.write_text("site activity\n")
    sent = warnlink("node", "send", *kr, "--kind", "intel-report", "--to", "US",
                    "--title", "Assessment", "--file", str(doc))  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    us = fed.store("US")
    wait_for(lambda: us.inbox_count() == 2, 30, "both messages at US")
    inbox = warnlink("node", "inbox", "--data", str(fed.node_dir("US")))
    assert inbox.returncode == 0 and "warning" in inbox.stdout and "intel_report" in inbox.stdout
    hub = f"127.0.0.1:{fed.port}"
    listed = warnlink("node", "reports", "--pki", str(fed.pki), "--party", "US", "--hub", hub)
    assert listed.returncode == 0 and "Assessment" in listed.stdout
    report_id = us.inbox()[1].envelope.id.hex()
    out = tmp_path / "fetched.txt"
    got = warnlink("node", "reports", "--pki", str(fed.pki), "--party", "US", "--hub", hub,
                   "--fetch", report_id, "--out", str(out))  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert out.read_text() == "site activity\n"
    refused = warnlink("node", "reports", "--pki", str(fed.pki), "--party", "JP", "--hub", hub,
                       "--fetch", report_id)  # fmt: skip
    assert refused.returncode == 1 and "no report" in refused.stderr


def test_bad_input_gets_a_clear_error(federation: Federation) -> None:
    fed = federation
    base = ["node", "send", "--pki", str(fed.pki), "--data", str(fed.root / "n")]
    cases = {
        "missing signing key of party ZZ": [*base, "--party", "ZZ", "--kind", "warning",
                                            "--to", "US", "--text", "x"],
        "'us' is not a party id": [*base, "--party", "KR", "--kind", "warning",
                                   "--to", "us", "--text", "x"],
        "is not HOST:PORT": ["node", "reports", "--pki", str(fed.pki), "--party", "KR",
                             "--hub", "nowhere"],
        "missing CA certificate": ["hub", "--pki", str(fed.root / "nope"), "--data",
                                   str(fed.root / "h")],
    }  # fmt: skip
    for expected, args in cases.items():
        result = warnlink(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert expected in result.stderr and "Traceback" not in result.stderr
    outbox = NodeStore(fed.root / "n" / "node.db").outbox_counts()
    assert outbox == {"pending": 0, "acked": 0, "rejected": 0}, "a refused send left a message"
