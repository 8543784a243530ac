"""The decision log: signed records, checkpoints, witnesses, and `consult verify`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from warnlink.cli import main
from warnlink.consult.log import (
    Checkpoint,
    Decision,
    DecisionLog,
    LogError,
    Message,
    Witness,
    canonical,
    parse_note,
    plain_verifier,
    sign_record,
)
from warnlink.consult.verify import verify_log
from warnlink.exchange.signing import Signer

ORIGIN = "warnlink.consult/c-2026-001"
T0 = 1_795_651_200_000_000_000


def _signer(party: str, seed: int) -> Signer:
    return Signer(party, SigningKey(bytes([seed]) * 32), b"")


@pytest.fixture
def parties() -> dict[str, Signer]:
    return {p: _signer(p, i + 1) for i, p in enumerate(["KR", "US", "JP"])}


def _log(tmp_path: Path, parties: dict[str, Signer]) -> DecisionLog:
    log = DecisionLog(tmp_path / "log.db", ORIGIN, "KR")
    for s in parties.values():
        log.register(s.party, s.public_key)
    return log


def _fill(log: DecisionLog, parties: dict[str, Signer]) -> None:
    """Three messages and a joint decision of all three parties."""
    for i, (author, text) in enumerate(
        [("KR", "launch detected"), ("US", "concur, track 17"), ("JP", "impact east sea")]
    ):
        rec = log.new_record(author, Message(text), T0 + i)
        log.append(rec, [sign_record(canonical(rec), parties[author])])
    dec = Decision(
        "decision", "no public alert", ("JP", "KR", "US"), detail="impact at sea", refs=(0, 1, 2)
    )
    rec = log.new_record("KR", dec, T0 + 10)
    data = canonical(rec)
    log.append(rec, [sign_record(data, s) for s in parties.values()])


def test_append_checkpoint_and_verify(tmp_path: Path, parties: dict[str, Signer]) -> None:
    with _log(tmp_path, parties) as log:
        _fill(log, parties)
        note = log.checkpoint(parties["KR"], T0 + 20)
        assert len(log) == 4
        cp = parse_note(note).checkpoint
        assert cp.size == 4 and cp.root == log.tree.root()
        for w in ("US", "JP"):
            witness = Witness(
                parties[w],
                ORIGIN,
                plain_verifier("KR", parties["KR"].public_key),
                parties["KR"].public_key,
            )
            log.add_cosignature(4, witness.cosign(note, [], 1_795_651_300))
        full = log.latest_checkpoint()
    assert full is not None and full.count("\u2014") == 3
    report = verify_log(tmp_path / "log.db", full)
    assert report.ok, report.problems
    assert any("co-signed by JP" in c for c in report.checked)
    # reopening keeps everything
    with DecisionLog(tmp_path / "log.db") as log:
        assert len(log) == 4 and log.tree.root() == cp.root
        assert [r.index for _, r in log.entries()] == [0, 1, 2, 3]


def test_joint_decision_needs_every_party(tmp_path: Path, parties: dict[str, Signer]) -> None:
    with _log(tmp_path, parties) as log:
        rec = log.new_record("KR", Decision("requested_action", "raise alert", ("KR", "US")), T0)
        with pytest.raises(LogError, match="missing signature of US"):
            log.append(rec, [sign_record(canonical(rec), parties["KR"])])
        bad = sign_record(canonical(rec), parties["JP"])  # JP's key, claimed as US
        bad.party = "US"
        with pytest.raises(LogError, match="US with an unknown key"):
            log.append(rec, [sign_record(canonical(rec), parties["KR"]), bad])
        wrong_index = log.new_record("KR", Message("x"), T0)
        wrong_index.index = 5
        with pytest.raises(LogError, match="expected"):
            log.append(wrong_index, [sign_record(canonical(wrong_index), parties["KR"])])


def test_log_is_append_only_in_sqlite(tmp_path: Path, parties: dict[str, Signer]) -> None:
    with _log(tmp_path, parties) as log:
        _fill(log, parties)
    db = sqlite3.connect(tmp_path / "log.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE entries SET data = x'00' WHERE idx = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM entries WHERE idx = 3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def _tamper(path: Path, sql: str) -> None:
    """Change the log behind its back, as someone with the file could."""
    db = sqlite3.connect(path)
    db.executescript("DROP TRIGGER entries_no_update; DROP TRIGGER entries_no_delete;" + sql)
    db.close()


def _checkpointed(tmp_path: Path, parties: dict[str, Signer]) -> str:
    with _log(tmp_path, parties) as log:
        _fill(log, parties)
        return log.checkpoint(parties["KR"], T0 + 20)


def test_verify_names_a_changed_entry(tmp_path: Path, parties: dict[str, Signer]) -> None:
    _checkpointed(tmp_path, parties)
    with DecisionLog(tmp_path / "log.db") as log:
        entry, rec = list(log.entries())[1]
    rec.body = Message("do not concur")
    forged = canonical(type(entry)(canonical(rec), entry.signatures))
    _tamper(tmp_path / "log.db", f"UPDATE entries SET data = x'{forged.hex()}' WHERE idx = 1;")
    problems = verify_log(tmp_path / "log.db").problems
    assert "entry 1: stored leaf hash differs from its data's" in problems
    assert "entry 1: bad signature by US" in problems
    assert any(p.startswith("checkpoint 4: root hash differs") for p in problems)


SMALL_ORDER_KEY = (1).to_bytes(32, "little")  # the neutral point: anything verifies under it


def test_a_small_order_key_is_refused_and_a_log_holding_one_is_reported(
    tmp_path: Path, parties: dict[str, Signer]
) -> None:
    """Signatures are checked under ZIP 215 (docs/protocol.md), which a small-order key
    would pass with any message: registering one is refused, and `consult verify` names
    one written into the file behind the log's back instead of trusting or crashing."""
    with _log(tmp_path, parties) as log:
        with pytest.raises(LogError, match="weak key"):
            log.register("NZ", SMALL_ORDER_KEY)
        assert "NZ" not in log.keys
    db = sqlite3.connect(tmp_path / "log.db")
    assert db.execute("SELECT count(*) FROM parties WHERE party = 'NZ'").fetchone()[0] == 0
    db.close()
    (tmp_path / "b").mkdir()
    _checkpointed(tmp_path / "b", parties)
    _tamper(
        tmp_path / "b" / "log.db",
        f"UPDATE parties SET public_key = x'{SMALL_ORDER_KEY.hex()}' WHERE party = 'US';",
    )
    problems = verify_log(tmp_path / "b" / "log.db").problems
    assert any(p.startswith("party US: weak key") for p in problems)
    assert "entry 1: signature by unknown party US" in problems


def test_verify_catches_a_rewritten_log_against_a_held_checkpoint(
    tmp_path: Path, parties: dict[str, Signer]
) -> None:
    """The keeper rebuilds the log without entry 2, re-signs everything: its own
    checkpoints agree, but the one a partner kept does not."""
    held = _checkpointed(tmp_path, parties)
    other = tmp_path / "other"
    other.mkdir()
    with _log(other, parties) as log:
        for i, (author, text) in enumerate([("KR", "launch detected"), ("US", "concur")]):
            rec = log.new_record(author, Message(text), T0 + i)
            log.append(rec, [sign_record(canonical(rec), parties[author])])
        log.checkpoint(parties["KR"], T0 + 30)
        for i in range(2, 5):
            rec = log.new_record("KR", Message(f"filler {i}"), T0 + 40 + i)
            log.append(rec, [sign_record(canonical(rec), parties["KR"])])
        log.checkpoint(parties["KR"], T0 + 50)
    assert verify_log(other / "log.db").ok  # self-consistent on its own
    report = verify_log(other / "log.db", held)
    assert report.problems == [
        "given checkpoint (size 4): root hash differs from the log's first 4 entries "
        "(entries changed, or a fork)"
    ]


def test_verify_catches_truncation_and_bad_cosignature(
    tmp_path: Path, parties: dict[str, Signer]
) -> None:
    held = _checkpointed(tmp_path, parties)
    _tamper(tmp_path / "log.db", "DELETE FROM entries WHERE idx = 3;")
    problems = verify_log(tmp_path / "log.db", held).problems
    assert "given checkpoint (size 4): the log has only 3 entries (truncated or rolled back)" in (
        problems
    )
    # a co-signature over another checkpoint, pasted under this one
    cp = parse_note(held).checkpoint
    other = Checkpoint(cp.origin, cp.size, bytes(32), cp.time_ns)
    w = Witness(
        parties["US"],
        ORIGIN,
        plain_verifier("KR", parties["KR"].public_key),
        parties["KR"].public_key,
    )
    from warnlink.consult.log import cosign_checkpoint

    forged = held + cosign_checkpoint(other, parties["US"], 5).text()
    problems = verify_log(tmp_path / "log.db", forged).problems
    assert "given checkpoint (size 4): bad co-signature by US" in problems
    assert w.state is None


def test_witness_refuses_a_fork_and_a_rollback(tmp_path: Path, parties: dict[str, Signer]) -> None:
    kr = parties["KR"]
    with _log(tmp_path, parties) as log:
        _fill(log, parties)
        first = log.checkpoint(kr, T0 + 20)
        w = Witness(parties["JP"], ORIGIN, plain_verifier("KR", kr.public_key), kr.public_key)
        w.cosign(first, [], 1)
        rec = log.new_record("US", Message("more"), T0 + 21)
        log.append(rec, [sign_record(canonical(rec), parties["US"])])
        second = log.checkpoint(kr, T0 + 22)
        w.cosign(second, log.consistency_proof(4, 5), 2)
        assert w.state is not None and w.state.size == 5
    other = tmp_path / "fork"
    other.mkdir()
    with _log(other, parties) as fork:
        _fill(fork, parties)
        rec = fork.new_record("US", Message("something else"), T0 + 21)
        fork.append(rec, [sign_record(canonical(rec), parties["US"])])
        rec = fork.new_record("US", Message("and more"), T0 + 22)
        fork.append(rec, [sign_record(canonical(rec), parties["US"])])
        forked = fork.checkpoint(kr, T0 + 23)
        with pytest.raises(LogError, match="rewritten or forked"):
            w.cosign(forked, fork.consistency_proof(5, 6), 3)
        with pytest.raises(LogError, match="shrank"):
            w.cosign(first, [], 3)
    # a checkpoint the keeper did not sign
    unsigned = parse_note(second).checkpoint.body() + "\n"
    with pytest.raises(LogError, match="not signed by the log keeper"):
        w.cosign(unsigned, [], 4)


def test_cli_verify(
    tmp_path: Path, parties: dict[str, Signer], capsys: pytest.CaptureFixture[str]
) -> None:
    held = _checkpointed(tmp_path, parties)
    (tmp_path / "held.note").write_text(held)
    assert (
        main(
            [
                "consult",
                "verify",
                "--log",
                str(tmp_path / "log.db"),
                "--checkpoint",
                str(tmp_path / "held.note"),
            ]
        )
        == 0
    )
    assert "log verified" in capsys.readouterr().out
    _tamper(tmp_path / "log.db", "DELETE FROM parties WHERE party = 'JP';")
    assert main(["consult", "verify", "--log", str(tmp_path / "log.db")]) == 1
    out = capsys.readouterr().out
    assert "FAIL  entry 2: signature by unknown party JP" in out
    assert "FAIL  entry 3: signature by unknown party JP" in out


def test_verify_checks_keys_against_the_federation_ca(tmp_path: Path) -> None:
    from warnlink.exchange import pki

    root = tmp_path / "pki"
    pki.init_ca(root)
    for p in ("KR", "US"):
        pki.issue_party(root, p)
    signers = {p: Signer.load(root, p) for p in ("KR", "US")}
    with DecisionLog(tmp_path / "log.db", ORIGIN, "KR") as log:
        for s in signers.values():
            log.register(s.party, s.public_key, s.certificate_der)
        rec = log.new_record("US", Message("hello"), T0)
        log.append(rec, [sign_record(canonical(rec), signers["US"])])
        log.checkpoint(signers["KR"], T0 + 1)
    report = verify_log(tmp_path / "log.db", pki_root=root)
    assert report.ok, report.problems
    assert "party US: key certified by the federation CA" in report.checked
    pki.revoke(root, party="US")
    problems = verify_log(tmp_path / "log.db", pki_root=root).problems
    assert len(problems) == 1 and problems[0].startswith(
        "party US: signing certificate refused: revoked"
    )


def test_cli_verify_on_a_file_that_is_no_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "junk.db").write_bytes(b"not sqlite at all" * 100)
    assert main(["consult", "verify", "--log", str(tmp_path / "junk.db")]) == 2
    assert main(["consult", "verify", "--log", str(tmp_path / "missing.db")]) == 2
    assert "no such log" in capsys.readouterr().err


def test_decision_structure_checked(tmp_path: Path, parties: dict[str, Signer]) -> None:
    with _log(tmp_path, parties) as log:
        rec = log.new_record("KR", Decision("statement", "s", ("KR",), refs=(0,)), T0)
        with pytest.raises(LogError, match=r"refers to entries \[0\], not earlier ones"):
            log.append(rec, [sign_record(canonical(rec), parties["KR"])])
        rec = log.new_record("KR", Decision("statement", "s", ()), T0)
        with pytest.raises(LogError, match="at least one"):
            log.append(rec, [sign_record(canonical(rec), parties["KR"])])


def test_witness_state_round_trip_and_same_size_checkpoint(
    tmp_path: Path, parties: dict[str, Signer]
) -> None:
    kr = parties["KR"]
    with _log(tmp_path, parties) as log:
        _fill(log, parties)
        note = log.checkpoint(kr, T0 + 20)
        assert log.checkpoint(kr, T0 + 30) == note  # nothing appended: the same note
        w = Witness(parties["US"], ORIGIN, plain_verifier("KR", kr.public_key), kr.public_key)
        log.add_cosignature(4, w.cosign(note, [], 7))
        assert w.state is not None
        saved = w.state.body()
        restored = Witness(
            parties["US"],
            ORIGIN,
            plain_verifier("KR", kr.public_key),
            kr.public_key,
            parse_note(saved + "\n").checkpoint,
        )
        assert restored.state == w.state
        rec = log.new_record("JP", Message("late"), T0 + 40)
        log.append(rec, [sign_record(canonical(rec), parties["JP"])])
        restored.cosign(log.checkpoint(kr, T0 + 41), log.consistency_proof(4), 8)
    assert verify_log(tmp_path / "log.db").ok
