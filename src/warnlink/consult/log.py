"""The consultation's decision log: append-only, signed, witnessed, checkable by anyone.

What the principals said and decided in a crisis must not be quietly rewritten later, by
the party that keeps the log or anyone else. So every entry is signed by its author (a
joint decision by every party to it), the entries are the leaves of an RFC 9162 Merkle
tree (`merkle`), the log's keeper signs checkpoints of that tree, and the other parties
co-sign a checkpoint as witnesses only after checking it extends the last one they saw.
A rewritten or forked log then contradicts a checkpoint someone else holds.

Formats are in docs/consultation.md. Signing keys are the parties' Ed25519 signing keys
of the exchange (`exchange.signing`); each use has its own prefix, so a signature made
for one purpose never verifies for another.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import msgspec

from warnlink.exchange.envelope import PARTY_RE
from warnlink.exchange.merkle import (
    HASH_SIZE,
    MerkleTree,
    leaf_hash,
    verify_consistency,
)
from warnlink.exchange.pki import PkiError
from warnlink.exchange.signing import Verifier, key_id_of

RECORD_CONTEXT = b"WarnLink consult record v1\x00"
"""Prefix of the bytes a party signs for a log record."""
NOTE_ORIGIN_PREFIX = "warnlink.consult/"
COSIGNATURE_HEADER = "cosignature/v1\ntime {time}\n"
"""C2SP tlog-cosignature: what a witness signs, followed by the checkpoint body."""
NOTE_ALG_ED25519 = 0x01
COSIG_ALG_ED25519 = 0x04


class LogError(ValueError):
    """An entry, checkpoint or co-signature that is refused, with the reason."""


class SignerLike(Protocol):
    """What the log needs of a party's signing key (exchange.signing.Signer)."""

    @property
    def party(self) -> str: ...

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


# --- records -----------------------------------------------------------------------


class Message(msgspec.Struct, tag="message", forbid_unknown_fields=True):
    """Something a principal said, as it goes into the record."""

    text: str


Category = Literal["statement", "decision", "requested_action"]


class Decision(msgspec.Struct, tag="decision", forbid_unknown_fields=True):
    """A statement, decision or requested action; `parties` must all sign it (joint when
    more than one), and `refs` names the log indices it rests on."""

    category: Category
    summary: str
    parties: tuple[str, ...]
    detail: str = ""
    action: str = ""
    refs: tuple[int, ...] = ()


Body = Message | Decision


class Record(msgspec.Struct, forbid_unknown_fields=True):
    """One log entry's content. `log` and `index` are inside the signed bytes, so a
    signed record cannot be replayed into another log or another position."""

    log: str
    index: int
    time_ns: int
    author: str
    body: Body


class PartySignature(msgspec.Struct, forbid_unknown_fields=True):
    party: str
    key_id: bytes
    signature: bytes


class Entry(msgspec.Struct, forbid_unknown_fields=True):
    """A leaf of the log: the canonical record bytes and the parties' signatures of them."""

    record: bytes
    signatures: tuple[PartySignature, ...]


_encoder = msgspec.msgpack.Encoder()
_record_decoder = msgspec.msgpack.Decoder(Record)
_entry_decoder = msgspec.msgpack.Decoder(Entry)


def canonical(obj: msgspec.Struct) -> bytes:
    """The one encoding of a struct: msgpack, fields in declared order, all present."""
    return _encoder.encode(obj)


def decode_record(data: bytes) -> Record:
    """A record from its bytes, refused unless they are its canonical encoding."""
    try:
        rec = _record_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise LogError(f"malformed record: {exc}") from exc
    if canonical(rec) != data:
        raise LogError("record bytes are not canonical")
    return rec


def decode_entry(data: bytes) -> tuple[Entry, Record]:
    try:
        entry = _entry_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise LogError(f"malformed entry: {exc}") from exc
    if canonical(entry) != data:
        raise LogError("entry bytes are not canonical")
    return entry, decode_record(entry.record)


def sign_as_party(context: bytes, data: bytes, signer: SignerLike) -> PartySignature:
    """A party's signature of `data` for one purpose (`context`, its own prefix)."""
    return PartySignature(signer.party, key_id_of(signer.public_key), signer.sign(context + data))


def signature_problem(
    sig: PartySignature, context: bytes, data: bytes, keys: Mapping[str, Verifier]
) -> str | None:
    """None if `sig` is its party's known key's signature of `data`, else why not."""
    v = keys.get(sig.party)
    if v is None:
        return f"signature by unknown party {sig.party}"
    if sig.key_id != v.key_id:
        return f"signature by {sig.party} with an unknown key"
    if not v.verify(sig.signature, context + data):
        return f"bad signature by {sig.party}"
    return None


def sign_record(record_bytes: bytes, signer: SignerLike) -> PartySignature:
    """A party's signature of a record (for a joint decision, each party makes one)."""
    return sign_as_party(RECORD_CONTEXT, record_bytes, signer)


def required_signers(record: Record) -> set[str]:
    """The author, and for a decision every party named in it."""
    need = {record.author}
    if isinstance(record.body, Decision):
        need.update(record.body.parties)
    return need


def check_record(record: Record) -> list[str]:
    """What is wrong with a record's content on its own (empty when nothing is)."""
    problems = []
    body = record.body
    if isinstance(body, Decision):
        if not body.parties or len(set(body.parties)) != len(body.parties):
            problems.append("a decision names each of its parties once, and at least one")
        bad = [r for r in body.refs if not 0 <= r < record.index]
        if bad:
            problems.append(f"refers to entries {bad}, not earlier ones")
    return problems


def check_entry(entry: Entry, record: Record, keys: Mapping[str, Verifier]) -> list[str]:
    """What is wrong with an entry's content and signatures (empty when nothing is)."""
    problems = check_record(record)
    seen: set[str] = set()
    for sig in entry.signatures:
        if sig.party in seen:
            problems.append(f"two signatures by {sig.party}")
        seen.add(sig.party)
        why = signature_problem(sig, RECORD_CONTEXT, entry.record, keys)
        if why is not None:
            problems.append(why)
    problems.extend(f"missing signature of {p}" for p in sorted(required_signers(record) - seen))
    return problems


# --- checkpoints (C2SP signed-note and tlog-checkpoint, adapted) -------------------


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's origin line, size, root hash and when it was made."""

    origin: str
    size: int
    root: bytes
    time_ns: int

    def body(self) -> str:
        root = base64.b64encode(self.root).decode()
        return f"{self.origin}\n{self.size}\n{root}\ntime {self.time_ns}\n"


@dataclass(frozen=True)
class SignatureLine:
    """`— name base64(key id 4 bytes || signature)` under a note's body."""

    name: str
    blob: bytes

    def text(self) -> str:
        return f"\u2014 {self.name} {base64.b64encode(self.blob).decode()}\n"


@dataclass(frozen=True)
class Note:
    checkpoint: Checkpoint
    signatures: tuple[SignatureLine, ...] = field(default=())

    def text(self) -> str:
        return self.checkpoint.body() + "\n" + "".join(s.text() for s in self.signatures)


def note_key_id(name: str, public_key: bytes, alg: int) -> bytes:
    """C2SP signed-note key id: SHA-256(name || 0x0A || alg || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


def parse_note(text: str) -> Note:
    """A checkpoint note from its text; LogError says what is malformed."""
    body, sep, sigs = text.partition("\n\n")
    if not sep:
        raise LogError("checkpoint note has no blank line before its signatures")
    lines = body.split("\n")
    if len(lines) != 4 or not lines[3].startswith("time "):
        raise LogError("checkpoint body is not origin, size, root, time")
    origin, size_s, root_s, time_s = lines
    if not origin.startswith(NOTE_ORIGIN_PREFIX):
        raise LogError(f"checkpoint origin {origin!r} is not a consultation log")
    try:
        size = int(size_s)
        root = base64.b64decode(root_s, validate=True)
        t = int(time_s[5:])
    except ValueError as exc:
        raise LogError(f"checkpoint body: {exc}") from exc
    if str(size) != size_s or size < 0 or len(root) != HASH_SIZE:
        raise LogError("checkpoint size or root malformed")
    cp = Checkpoint(origin, size, root, t)
    if cp.body() != body + "\n":
        raise LogError("checkpoint body is not in canonical form")
    out: list[SignatureLine] = []
    for line in sigs.split("\n"):
        if not line:
            continue
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "\u2014":
            raise LogError(f"malformed signature line {line!r}")
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except ValueError as exc:
            raise LogError(f"signature line of {parts[1]}: {exc}") from exc
        out.append(SignatureLine(parts[1], blob))
    if not sigs.endswith("\n") and sigs:
        raise LogError("checkpoint note does not end with a newline")
    return Note(cp, tuple(out))


def sign_checkpoint(cp: Checkpoint, signer: SignerLike) -> SignatureLine:
    """The log keeper's signature line of a checkpoint body."""
    kid = note_key_id(signer.party, signer.public_key, NOTE_ALG_ED25519)
    return SignatureLine(signer.party, kid + signer.sign(cp.body().encode()))


def _cosigned_message(cp: Checkpoint, time_s: int) -> bytes:
    return (COSIGNATURE_HEADER.format(time=time_s) + cp.body()).encode()


def cosign_checkpoint(cp: Checkpoint, signer: SignerLike, time_s: int) -> SignatureLine:
    """A witness's co-signature (C2SP tlog-cosignature/v1: key id, u64 time, signature)."""
    kid = note_key_id(signer.party, signer.public_key, COSIG_ALG_ED25519)
    sig = signer.sign(_cosigned_message(cp, time_s))
    return SignatureLine(signer.party, kid + struct.pack(">Q", time_s) + sig)


def check_signature_line(
    cp: Checkpoint, line: SignatureLine, verifier: Verifier, raw_key: bytes
) -> str | None:
    """None if `line` is the keeper's signature or a witness's co-signature of `cp` by
    this key; otherwise why not."""
    blob = line.blob
    if len(blob) == 4 + 64 and blob[:4] == note_key_id(line.name, raw_key, NOTE_ALG_ED25519):
        ok = verifier.verify(blob[4:], cp.body().encode())
        return None if ok else f"bad checkpoint signature by {line.name}"
    if len(blob) == 4 + 8 + 64 and blob[:4] == note_key_id(line.name, raw_key, COSIG_ALG_ED25519):
        (t,) = struct.unpack(">Q", blob[4:12])
        ok = verifier.verify(blob[12:], _cosigned_message(cp, t))
        return None if ok else f"bad co-signature by {line.name}"
    return f"signature line of {line.name} is not by its registered key"


def is_cosignature(line: SignatureLine) -> bool:
    return len(line.blob) == 4 + 8 + 64


class Witness:
    """A party that co-signs a log's checkpoints, and never two that contradict.

    It remembers the last checkpoint it co-signed (`state`; persist `state.body()`,
    restore with `parse_note(body + "\n").checkpoint`) and co-signs a new one only if the
    keeper signed it and a consistency proof shows it extends that one: a keeper who
    rewrites or forks the log then cannot get its checkpoint witnessed.
    """

    def __init__(
        self,
        signer: SignerLike,
        origin: str,
        keeper: Verifier,
        keeper_key: bytes,
        state: Checkpoint | None = None,
    ) -> None:
        self.signer = signer
        self.origin = origin
        self.keeper = keeper
        self.keeper_key = keeper_key
        self.state = state

    def cosign(self, note_text: str, proof: Sequence[bytes], time_s: int) -> SignatureLine:
        """Co-sign a checkpoint note, given the consistency proof from the last one seen;
        LogError if it is not signed by the keeper or does not extend what was seen."""
        note = parse_note(note_text)
        cp = note.checkpoint
        if cp.origin != self.origin:
            raise LogError(f"checkpoint of {cp.origin}, not {self.origin}")
        signed = [
            s
            for s in note.signatures
            if s.name == self.keeper.party
            and check_signature_line(cp, s, self.keeper, self.keeper_key) is None
            and not is_cosignature(s)
        ]
        if not signed:
            raise LogError(f"checkpoint not signed by the log keeper {self.keeper.party}")
        last = self.state
        if last is not None:
            if cp.size < last.size:
                raise LogError(f"log shrank from {last.size} to {cp.size} entries")
            if cp.time_ns < last.time_ns:
                raise LogError("checkpoint older than the last one co-signed")
            if not verify_consistency(last.size, cp.size, last.root, cp.root, proof):
                raise LogError(
                    f"checkpoint of size {cp.size} is not consistent with the one of size "
                    f"{last.size} co-signed before: the log was rewritten or forked"
                )
        line = cosign_checkpoint(cp, self.signer, time_s)
        self.state = cp
        return line


# --- the durable log ---------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parties (
    party TEXT PRIMARY KEY, public_key BLOB NOT NULL, certificate BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    idx INTEGER PRIMARY KEY, data BLOB NOT NULL, leaf BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cosignatures (
    size INTEGER NOT NULL, witness TEXT NOT NULL, line TEXT NOT NULL,
    PRIMARY KEY (size, witness));
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
"""


def plain_verifier(party: str, public_key: bytes) -> Verifier:
    """A Verifier for a raw key whose certificate was checked elsewhere (or not at all);
    LogError for a key no signature may be checked with (Verifier refuses weak keys)."""
    from datetime import UTC, datetime

    try:
        return Verifier(party, public_key, 0, datetime.max.replace(tzinfo=UTC))
    except PkiError as exc:
        raise LogError(f"party {party}: {exc}") from None


class DecisionLog:
    """One consultation's log in SQLite (WAL): entries are checked when appended and
    never changed; the keeper's checkpoints and the witnesses' co-signatures with them."""

    def __init__(self, path: Path, origin: str | None = None, keeper: str | None = None) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            if origin is None or keeper is None:
                raise LogError(f"{self.path}: no log here; give its origin and keeper")
            if not origin.startswith(NOTE_ORIGIN_PREFIX) or "\n" in origin or " " in origin:
                raise LogError(f"log origin must be {NOTE_ORIGIN_PREFIX}<id>, one word")
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO meta VALUES (?, ?)", [("origin", origin), ("keeper", keeper)]
                )
            meta = {"origin": origin, "keeper": keeper}
        elif origin is not None and meta["origin"] != origin:
            raise LogError(f"{self.path} holds log {meta['origin']}, not {origin}")
        self.origin: str = meta["origin"]
        self.keeper: str = meta["keeper"]
        self.tree = MerkleTree(
            [row[0] for row in self._db.execute("SELECT leaf FROM entries ORDER BY idx")]
        )
        self.keys: dict[str, Verifier] = {}
        self.raw_keys: dict[str, bytes] = {}
        for party, key, _cert in self._db.execute("SELECT * FROM parties"):
            self.keys[party] = plain_verifier(party, key)
            self.raw_keys[party] = key

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.tree)

    def register(self, party: str, public_key: bytes, certificate: bytes = b"") -> None:
        """Record a party's signing key (and its certificate, so a verifier can check
        it against the federation CA later). A party's key cannot be changed here."""
        if not PARTY_RE.fullmatch(party.encode()):
            raise LogError(f"not a party id: {party!r}")
        known = self.raw_keys.get(party)
        if known is not None:
            if known != public_key:
                raise LogError(f"party {party} already has another key in this log")
            return
        verifier = plain_verifier(party, public_key)  # before the row: a weak key is refused
        self._db.execute("INSERT INTO parties VALUES (?, ?, ?)", (party, public_key, certificate))
        self.keys[party] = verifier
        self.raw_keys[party] = public_key

    def new_record(self, author: str, body: Body, time_ns: int) -> Record:
        """The record that would be the next entry."""
        return Record(self.origin, len(self.tree), time_ns, author, body)

    def append(self, record: Record, signatures: Sequence[PartySignature]) -> int:
        """Append a signed record; its index. LogError if it is not the next record of
        this log or a signature is missing or bad."""
        data = canonical(record)
        if record.log != self.origin or record.index != len(self.tree):
            raise LogError(
                f"record for {record.log} #{record.index}, expected {self.origin} #{len(self.tree)}"
            )
        entry = Entry(data, tuple(sorted(signatures, key=lambda s: s.party)))
        problems = check_entry(entry, record, self.keys)
        if problems:
            raise LogError("; ".join(problems))
        blob = canonical(entry)
        leaf = leaf_hash(blob)
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT INTO entries VALUES (?, ?, ?)", (record.index, blob, leaf))
        return self.tree.append_hash(leaf)

    def entry_bytes(self, index: int) -> bytes:
        """The stored bytes of entry `index` (what replicas hold byte for byte)."""
        row = self._db.execute("SELECT data FROM entries WHERE idx = ?", (index,)).fetchone()
        if row is None:
            raise LogError(f"no entry {index} in {self.origin}")
        return bytes(row[0])

    def entries(self) -> Iterator[tuple[Entry, Record]]:
        for (data,) in self._db.execute("SELECT data FROM entries ORDER BY idx"):
            yield decode_entry(data)

    def checkpoint(self, signer: SignerLike, time_ns: int) -> str:
        """Sign and store a checkpoint of the whole log; the note's text."""
        if signer.party != self.keeper:
            raise LogError(f"{signer.party} does not keep this log ({self.keeper} does)")
        row = self._db.execute(
            "SELECT note FROM checkpoints WHERE size = ?", (len(self.tree),)
        ).fetchone()
        if row is not None:  # nothing new: keep the note its witnesses have co-signed
            return str(row[0])
        cp = Checkpoint(self.origin, len(self.tree), self.tree.root(), time_ns)
        text = Note(cp, (sign_checkpoint(cp, signer),)).text()
        self._db.execute("INSERT INTO checkpoints VALUES (?, ?)", (cp.size, text))
        return text

    def latest_checkpoint(self) -> str | None:
        row = self._db.execute("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        return None if row is None else self.with_cosignatures(str(row[0]))

    def with_cosignatures(self, note_text: str) -> str:
        """A stored checkpoint note with every co-signature it has gathered."""
        note = parse_note(note_text)
        rows = self._db.execute(
            "SELECT line FROM cosignatures WHERE size = ? ORDER BY witness",
            (note.checkpoint.size,),
        ).fetchall()
        extra = tuple(parse_note(f"{note.checkpoint.body()}\n{r[0]}").signatures[0] for r in rows)
        return Note(note.checkpoint, note.signatures + extra).text()

    def add_cosignature(self, size: int, line: SignatureLine) -> None:
        """Keep a witness's co-signature of the stored checkpoint of `size`, once checked."""
        row = self._db.execute("SELECT note FROM checkpoints WHERE size = ?", (size,)).fetchone()
        if row is None:
            raise LogError(f"no checkpoint of size {size}")
        cp = parse_note(str(row[0])).checkpoint
        v = self.keys.get(line.name)
        if v is None or line.name == self.keeper or not is_cosignature(line):
            raise LogError(f"{line.name} is not a witness of this log")
        why = check_signature_line(cp, line, v, self.raw_keys[line.name])
        if why:
            raise LogError(why)
        self._db.execute(
            "INSERT OR REPLACE INTO cosignatures VALUES (?, ?, ?)", (size, line.name, line.text())
        )

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return self.tree.inclusion_proof(index, size)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        return self.tree.consistency_proof(first, second)
