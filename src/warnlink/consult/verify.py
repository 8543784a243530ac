"""`warnlink consult verify`: check a decision log from its bytes, trusting nothing in it.

Every leaf hash, record signature, checkpoint root, keeper signature and co-signature is
recomputed from the stored bytes, and each problem is reported by entry or checkpoint, so
whoever audits the log learns exactly what does not hold, not just that something fails.
"""

from __future__ import annotations

import itertools
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from warnlink.consult.log import (
    Checkpoint,
    LogError,
    Note,
    check_entry,
    check_signature_line,
    decode_entry,
    is_cosignature,
    parse_note,
    plain_verifier,
)
from warnlink.exchange.merkle import (
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from warnlink.exchange.pki import PkiError
from warnlink.exchange.signing import SigningCertificates, Verifier


@dataclass
class Report:
    """What was checked (`checked`) and what failed (`problems`), in plain sentences."""

    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _open_ro(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise LogError(f"{path}: no such log")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _check_note(
    note: Note,
    what: str,
    origin: str,
    keeper: str,
    keys: dict[str, Verifier],
    raw: dict[str, bytes],
    report: Report,
) -> None:
    """The keeper's signature and every co-signature under a checkpoint note."""
    cp = note.checkpoint
    if cp.origin != origin:
        report.problems.append(f"{what}: origin {cp.origin}, the log is {origin}")
    keeper_ok = False
    for line in note.signatures:
        v = keys.get(line.name)
        if v is None:
            report.problems.append(f"{what}: signature by unknown party {line.name}")
            continue
        why = check_signature_line(cp, line, v, raw[line.name])
        if why:
            report.problems.append(f"{what}: {why}")
        elif is_cosignature(line):
            if line.name == keeper:
                report.problems.append(f"{what}: the keeper {keeper} co-signs its own log")
            else:
                report.checked.append(f"{what}: co-signed by {line.name}")
        elif line.name == keeper:
            keeper_ok = True
        else:
            report.problems.append(f"{what}: signed by {line.name}, not the keeper {keeper}")
    if not keeper_ok:
        report.problems.append(f"{what}: no valid signature by the keeper {keeper}")


def verify_log(path: Path, checkpoint: str | None = None, pki_root: Path | None = None) -> Report:
    """Check the log at `path`; optionally also that it contains the checkpoint note
    `checkpoint` (one a party kept) and that its parties' keys have certificates from
    the federation CA under `pki_root`."""
    db = _open_ro(Path(path))
    try:
        return _verify(db, checkpoint, pki_root)
    except sqlite3.DatabaseError as exc:
        raise LogError(f"{path}: not a readable decision log: {exc}") from exc
    finally:
        db.close()


def _verify(db: sqlite3.Connection, checkpoint: str | None, pki_root: Path | None) -> Report:
    report = Report()
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    origin, keeper = str(meta.get("origin", "")), str(meta.get("keeper", ""))
    if not origin or not keeper:
        report.problems.append("log has no origin or keeper")
        return report
    keys: dict[str, Verifier] = {}
    raw: dict[str, bytes] = {}
    certs = SigningCertificates.for_root(pki_root) if pki_root is not None else None
    for party, key, cert in db.execute("SELECT party, public_key, certificate FROM parties"):
        try:
            keys[party] = plain_verifier(party, bytes(key))
        except LogError as exc:
            report.problems.append(str(exc))
            continue
        raw[party] = bytes(key)
        if certs is None:
            continue
        try:
            v = certs.check(bytes(cert))
        except PkiError as exc:
            report.problems.append(f"party {party}: signing certificate refused: {exc}")
            continue
        if v.party != party or v.key_id != keys[party].key_id:
            report.problems.append(f"party {party}: certificate is not for the key in the log")
        else:
            report.checked.append(f"party {party}: key certified by the federation CA")
    if certs is None:
        report.checked.append("parties' keys taken from the log (no --pki: not checked)")

    tree = MerkleTree()
    expected = 0
    for idx, data, stored_leaf in db.execute("SELECT idx, data, leaf FROM entries ORDER BY idx"):
        data = bytes(data)
        what = f"entry {idx}"
        if idx != expected:
            report.problems.append(f"{what}: expected entry {expected} (a gap in the log)")
        expected = idx + 1
        h = leaf_hash(data)
        if h != bytes(stored_leaf):
            report.problems.append(f"{what}: stored leaf hash differs from its data's")
        tree.append_hash(h)
        try:
            entry, record = decode_entry(data)
        except LogError as exc:
            report.problems.append(f"{what}: {exc}")
            continue
        if record.index != idx or record.log != origin:
            report.problems.append(f"{what}: the record says {record.log} #{record.index}")
        report.problems.extend(f"{what}: {p}" for p in check_entry(entry, record, keys))
    n = len(tree)
    report.checked.append(f"{n} entries: leaf hashes recomputed, record signatures checked")

    notes: list[Note] = []
    for size, text in db.execute("SELECT size, note FROM checkpoints ORDER BY size"):
        what = f"checkpoint {size}"
        cosigs = [
            str(r[0])
            for r in db.execute(
                "SELECT line FROM cosignatures WHERE size = ? ORDER BY witness", (size,)
            )
        ]
        try:
            note = parse_note(str(text) + "".join(cosigs))
        except LogError as exc:
            report.problems.append(f"{what}: {exc}")
            continue
        if note.checkpoint.size != size:
            report.problems.append(f"{what}: the note says size {note.checkpoint.size}")
        _check_note(note, what, origin, keeper, keys, raw, report)
        notes.append(note)
    for i, note in enumerate(notes):
        # inclusion of every entry: under the newest checkpoint only, which covers
        # the older ones through the consistency proofs below
        last = i == len(notes) - 1
        cp = note.checkpoint
        _check_against_tree(cp, f"checkpoint {cp.size}", tree, report, inclusion=last)
    for a, b in itertools.pairwise(notes):
        ca, cb = a.checkpoint, b.checkpoint
        if cb.time_ns < ca.time_ns:
            report.problems.append(f"checkpoint {cb.size}: made before checkpoint {ca.size}")
        if cb.size <= n:
            proof = tree.consistency_proof(ca.size, cb.size)
            if not verify_consistency(ca.size, cb.size, ca.root, cb.root, proof):
                report.problems.append(
                    f"checkpoints {ca.size} and {cb.size}: not consistent (fork)"
                )
    if notes:
        report.checked.append(f"{len(notes)} checkpoints: roots, signatures, consistency")

    if checkpoint is not None:
        try:
            held = parse_note(checkpoint)
        except LogError as exc:
            report.problems.append(f"given checkpoint: {exc}")
        else:
            what = f"given checkpoint (size {held.checkpoint.size})"
            _check_note(held, what, origin, keeper, keys, raw, report)
            _check_against_tree(held.checkpoint, what, tree, report)
            report.checked.append(f"{what}: checked against the log")
    return report


def _check_against_tree(
    cp: Checkpoint, what: str, tree: MerkleTree, report: Report, inclusion: bool = True
) -> None:
    """The checkpoint's root is the log's at that size, and every entry under it has an
    inclusion proof to that root, and the whole log is consistent with it."""
    n = len(tree)
    if cp.size > n:
        report.problems.append(f"{what}: the log has only {n} entries (truncated or rolled back)")
        return
    root = tree.root(cp.size)
    if root != cp.root:
        report.problems.append(
            f"{what}: root hash differs from the log's first {cp.size} entries "
            "(entries changed, or a fork)"
        )
        return
    for i in range(cp.size if inclusion else 0):
        if not verify_inclusion(i, cp.size, tree.leaf(i), tree.inclusion_proof(i, cp.size), root):
            report.problems.append(f"{what}: entry {i} has no valid inclusion proof")
    proof = tree.consistency_proof(cp.size, n)
    if not verify_consistency(cp.size, n, root, tree.root(), proof):
        report.problems.append(f"{what}: the current log does not extend it")
