"""docs/consultation.md's worked example is what the code produces."""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey

from warnlink.consult.log import (
    Decision,
    DecisionLog,
    Message,
    Witness,
    canonical,
    plain_verifier,
    sign_record,
)
from warnlink.consult.verify import verify_log
from warnlink.exchange.signing import Signer

DOC = Path(__file__).resolve().parents[2] / "docs" / "consultation.md"


def _example_block() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### 1.6 Worked example") :]
    start = section.index("```\n") + 4
    return section[start : section.index("```\n", start)]


def test_worked_example(tmp_path: Path) -> None:
    kr = Signer("KR", SigningKey(bytes(range(32))), b"")
    jp = Signer("JP", SigningKey(bytes(range(32, 64))), b"")
    t0 = 1_795_651_200_000_000_000
    with DecisionLog(tmp_path / "log.db", "warnlink.consult/c-2026-001", "KR") as log:
        log.register("KR", kr.public_key)
        log.register("JP", jp.public_key)
        rec = log.new_record("KR", Message("launch detected"), t0)
        log.append(rec, [sign_record(canonical(rec), kr)])
        decision = Decision("decision", "no public alert", ("JP", "KR"), refs=(0,))
        rec = log.new_record("KR", decision, t0 + 60_000_000_000)
        data = canonical(rec)
        log.append(rec, [sign_record(data, kr), sign_record(data, jp)])
        note = log.checkpoint(kr, t0 + 61_000_000_000)
        witness = Witness(jp, log.origin, plain_verifier("KR", kr.public_key), kr.public_key)
        log.add_cosignature(2, witness.cosign(note, [], 1_795_651_262))
        full = log.latest_checkpoint()
    assert full == _example_block()
    assert verify_log(tmp_path / "log.db", full).ok
