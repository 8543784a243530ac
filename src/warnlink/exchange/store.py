"""The hub's durable store, behind a seam (`HubStore`) so another engine can replace SQLite.

An accepted message is one `messages` row plus one `deliveries` row per recipient, written
in one transaction; a recipient's backlog is then an index range scan from its cursor,
however much traffic for others lies in between.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from warnlink.exchange.envelope import Envelope, Kind
from warnlink.exchange.logs import event

log = logging.getLogger("warnlink.store")

Sync = Literal["full", "normal"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    hseq INTEGER PRIMARY KEY,
    origin TEXT NOT NULL, seq INTEGER NOT NULL, lane INTEGER NOT NULL, kind INTEGER NOT NULL,
    id BLOB NOT NULL, time_ns INTEGER NOT NULL, received_ns INTEGER NOT NULL,
    title TEXT, envelope BLOB NOT NULL,
    UNIQUE (origin, seq)
);
CREATE INDEX IF NOT EXISTS messages_id ON messages (id);
CREATE TABLE IF NOT EXISTS deliveries (
    party TEXT NOT NULL, lane INTEGER NOT NULL, hseq INTEGER NOT NULL,
    PRIMARY KEY (party, lane, hseq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (
    party TEXT NOT NULL, lane INTEGER NOT NULL, hseq INTEGER NOT NULL,
    PRIMARY KEY (party, lane)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signing_certs (
    origin TEXT NOT NULL, key_id BLOB NOT NULL, der BLOB NOT NULL,
    PRIMARY KEY (origin, key_id)
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class Accepted:
    """A message to store: the envelope, its recipients, when it arrived, a listing title."""

    envelope: Envelope
    recipients: tuple[str, ...]
    received_ns: int
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored message as delivery needs it."""

    hseq: int
    lane: int
    received_ns: int
    raw: bytes


@dataclass(frozen=True, slots=True)
class Listing:
    hseq: int
    id: bytes
    origin: str
    seq: int
    time_ns: int
    size: int
    title: str


class HubStore(Protocol):
    """What the hub needs of durable storage."""

    def append(self, batch: Sequence[Accepted]) -> list[int]:
        """Store a batch atomically and durably; returns the hub sequence of each."""
        ...

    def pending(self, party: str, cursors: Sequence[int], limit: int) -> list[Stored]:
        """Up to `limit` messages for `party` after its cursor in each lane, most urgent
        lane first, in hub order within a lane."""
        ...

    def find(self, origin: str, seq: int) -> bytes | None:
        """The stored envelope with this origin and sequence, to tell a resend from a replay."""
        ...

    def last_seqs(self) -> dict[tuple[str, int], int]:
        """Highest accepted sequence per (origin, lane): the replay barrier after a restart."""
        ...

    def set_cursors(self, cursors: dict[tuple[str, int], int]) -> None: ...

    def cursors(self) -> dict[tuple[str, int], int]: ...

    def backlog(self, party: str, cursors: Sequence[int]) -> int:
        """How many stored messages `party` has not acknowledged."""
        ...

    def put_cert(self, origin: str, key_id: bytes, der: bytes) -> None: ...

    def certs(self) -> list[tuple[str, bytes, bytes]]: ...

    def listing(self, party: str, kind: Kind, after: int, limit: int) -> list[Listing]:
        """Messages of `kind` releasable to `party` (or its own), after hub sequence `after`."""
        ...

    def fetch(self, party: str, msg_id: bytes) -> bytes | None:
        """The envelope with this id if it is releasable to `party` (or is its own)."""
        ...

    def close(self) -> None: ...


class Checkpointer:
    """Copies a WAL database's committed pages into its main file, on a thread of its own.

    Left to SQLite, this happens inside whichever commit takes the log past 1,000 pages:
    a few milliseconds with an fsync or two, about every second at 2,000 messages/s, on
    the loop that is waiting to acknowledge or deliver. A writer that runs this instead
    switches that off (`PRAGMA wal_autocheckpoint=0`); a PASSIVE checkpoint never blocks
    a writer, and committed data is durable in the log either way.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(1, "checkpoint")
        self._db: sqlite3.Connection | None = None

    def _checkpoint(self) -> None:
        if self._db is None:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def run(self, every_s: float = 0.5) -> None:
        """Checkpoint every `every_s` seconds, for ever. A failed checkpoint (a full disk)
        loses nothing, as the log still holds every commit: it is logged and tried again,
        and the commits themselves decide whether the store has failed."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(every_s)
            try:
                await loop.run_in_executor(self._pool, self._checkpoint)
            except sqlite3.Error as exc:
                event(log, "checkpoint_failed", logging.WARNING, path=str(self.path),
                      error=str(exc))  # fmt: skip

    def close(self) -> None:
        self._pool.shutdown()
        if self._db is not None:
            self._db.close()


class SqliteStore:
    """SQLite in WAL mode: one writer connection, and one reader per thread that reads.

    The writer does not checkpoint: run a `Checkpointer` on `path` beside it.
    """

    def __init__(self, path: Path, *, sync: Sync = "normal") -> None:
        self.path = path
        self._db = self._connect()
        self._db.execute(f"PRAGMA synchronous={sync.upper()}")
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=10000")
        return db

    def reader(self) -> SqliteStore:
        """A second connection for reads, so backlog scans never wait on a commit."""
        other = object.__new__(SqliteStore)
        other.path = self.path
        other._db = self._connect()
        return other

    def append(self, batch: Sequence[Accepted]) -> list[int]:
        db = self._db
        hseqs: list[int] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for item in batch:
                env = item.envelope
                cur = db.execute(
                    "INSERT INTO messages (origin, seq, lane, kind, id, time_ns, received_ns,"
                    " title, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (env.origin, env.seq, env.lane, env.kind, env.id, env.time_ns,
                     item.received_ns, item.title, env.raw),
                )  # fmt: skip
                hseq = cur.lastrowid
                assert hseq is not None
                hseqs.append(hseq)
                db.executemany(
                    "INSERT INTO deliveries (party, lane, hseq) VALUES (?, ?, ?)",
                    [(p, env.lane, hseq) for p in item.recipients],
                )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # SQLite may have rolled back already (disk full)
                db.execute("ROLLBACK")
            raise
        return hseqs

    def pending(self, party: str, cursors: Sequence[int], limit: int) -> list[Stored]:
        out: list[Stored] = []
        for lane, after in enumerate(cursors):
            rows = self._db.execute(
                "SELECT m.hseq, m.lane, m.received_ns, m.envelope FROM deliveries d"
                " JOIN messages m ON m.hseq = d.hseq"
                " WHERE d.party = ? AND d.lane = ? AND d.hseq > ? ORDER BY d.hseq LIMIT ?",
                (party, lane, after, limit - len(out)),
            ).fetchall()
            out += [Stored(*row) for row in rows]
            if len(out) >= limit:
                break
        return out

    def find(self, origin: str, seq: int) -> bytes | None:
        row = self._db.execute(
            "SELECT envelope FROM messages WHERE origin = ? AND seq = ?", (origin, seq)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def last_seqs(self) -> dict[tuple[str, int], int]:
        rows = self._db.execute(
            "SELECT origin, lane, max(seq) FROM messages GROUP BY origin, lane"
        ).fetchall()
        return {(origin, lane): seq for origin, lane, seq in rows}

    def set_cursors(self, cursors: dict[tuple[str, int], int]) -> None:
        self._db.executemany(
            "INSERT INTO cursors (party, lane, hseq) VALUES (?, ?, ?) ON CONFLICT (party, lane)"
            " DO UPDATE SET hseq = max(hseq, excluded.hseq)",
            [(party, lane, hseq) for (party, lane), hseq in cursors.items()],
        )

    def cursors(self) -> dict[tuple[str, int], int]:
        rows = self._db.execute("SELECT party, lane, hseq FROM cursors").fetchall()
        return {(party, lane): hseq for party, lane, hseq in rows}

    def backlog(self, party: str, cursors: Sequence[int]) -> int:
        return sum(
            self._db.execute(
                "SELECT count(*) FROM deliveries WHERE party = ? AND lane = ? AND hseq > ?",
                (party, lane, after),
            ).fetchone()[0]
            for lane, after in enumerate(cursors)
        )

    def put_cert(self, origin: str, key_id: bytes, der: bytes) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO signing_certs (origin, key_id, der) VALUES (?, ?, ?)",
            (origin, key_id, der),
        )

    def certs(self) -> list[tuple[str, bytes, bytes]]:
        return self._db.execute("SELECT origin, key_id, der FROM signing_certs").fetchall()

    def listing(self, party: str, kind: Kind, after: int, limit: int) -> list[Listing]:
        rows = self._db.execute(
            "SELECT hseq, id, origin, seq, time_ns, length(envelope), coalesce(title, '')"
            " FROM messages m WHERE kind = ? AND hseq > ? AND (origin = ? OR EXISTS ("
            "  SELECT 1 FROM deliveries d WHERE d.party = ? AND d.lane = m.lane"
            "  AND d.hseq = m.hseq)) ORDER BY hseq LIMIT ?",
            (int(kind), after, party, party, limit),
        ).fetchall()
        return [Listing(*row) for row in rows]

    def fetch(self, party: str, msg_id: bytes) -> bytes | None:
        row = self._db.execute(
            "SELECT envelope FROM messages m WHERE id = ? AND (origin = ? OR EXISTS ("
            "  SELECT 1 FROM deliveries d WHERE d.party = ? AND d.lane = m.lane"
            "  AND d.hseq = m.hseq))",
            (msg_id, party, party),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        self._db.close()
