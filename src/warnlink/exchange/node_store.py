"""A node's own durable state: the outbox it publishes from and the inbox it receives into.

Publishing is a local SQLite transaction (any process may publish; the running node picks
it up), so nothing published is lost while the hub is down or the node restarts. The inbox
is unique on (origin, sequence): a redelivery after a crash is dropped, and the
application reading the inbox sees each message once.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from warnlink.exchange.envelope import Envelope, Kind, SignerLike, decode, seal_batch

PENDING, ACKED, REJECTED = 0, 1, 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY, lane INTEGER NOT NULL, kind INTEGER NOT NULL,
    envelope BLOB NOT NULL, state INTEGER NOT NULL DEFAULT 0, reason TEXT,
    created_ns INTEGER NOT NULL, done_ns INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (lane, seq) WHERE state = 0;
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY, origin TEXT NOT NULL, seq INTEGER NOT NULL,
    lane INTEGER NOT NULL, kind INTEGER NOT NULL, msg_id BLOB NOT NULL,
    time_ns INTEGER NOT NULL, received_ns INTEGER NOT NULL, hseq INTEGER NOT NULL,
    envelope BLOB NOT NULL,
    UNIQUE (origin, seq)
);
CREATE TABLE IF NOT EXISTS cursors (lane INTEGER PRIMARY KEY, hseq INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Received:
    """An inbox row: the envelope and when and in which hub position it arrived."""

    row: int
    envelope: Envelope
    received_ns: int
    hseq: int


@dataclass(frozen=True, slots=True)
class Outgoing:
    seq: int
    lane: int
    raw: bytes


def open_db(path: Path, schema: str) -> sqlite3.Connection:
    """A party-side SQLite file (WAL, autocommit) that several processes may write: the
    running node or service, and one-shot commands queueing work for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=10000")
    db.executescript(schema)
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One atomic write (the connection autocommits otherwise)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.in_transaction:  # SQLite may have rolled back already (disk full)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class NodeStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_db(path, _SCHEMA)

    def autocheckpoint(self, on: bool) -> None:
        """Whether this connection's commits checkpoint the log (off while the node runs a
        `store.Checkpointer`, so no publish or receipt waits for one)."""
        self._db.execute(f"PRAGMA wal_autocheckpoint={1000 if on else 0}")

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db)

    # -- outbox ------------------------------------------------------------------------

    def publish(
        self, signer: SignerLike, items: Iterable[tuple[Kind, Sequence[str], bytes]]
    ) -> list[Envelope]:
        """Sign and queue messages with the next sequence numbers, in one transaction (and
        under one signature, envelope.seal_batch)."""
        with self._transaction() as db:
            seq = db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
            now = time.time_ns()
            numbered = [(seq + i, kind, label, payload) for i, (kind, label, payload) in
                        enumerate(items, start=1)]  # fmt: skip
            out = seal_batch(signer, numbered) if numbered else []
            db.executemany(
                "INSERT INTO outbox (seq, lane, kind, envelope, created_ns) VALUES (?,?,?,?,?)",
                [(env.seq, int(env.lane), int(env.kind), env.raw, now) for env in out],
            )
        return out

    def pending(self, lane: int, after: int, limit: int) -> list[Outgoing]:
        rows = self._db.execute(
            "SELECT seq, lane, envelope FROM outbox WHERE state = 0 AND lane = ? AND seq > ?"
            " ORDER BY seq LIMIT ?",
            (lane, after, limit),
        ).fetchall()
        return [Outgoing(*row) for row in rows]

    def settle(self, acked: Sequence[int], rejected: Sequence[tuple[int, str]]) -> None:
        """Record the hub's answers: stored (kept as history) or refused (with the reason)."""
        with self._transaction() as db:
            self._settle(db, acked, rejected)

    @staticmethod
    def _settle(
        db: sqlite3.Connection, acked: Sequence[int], rejected: Sequence[tuple[int, str]]
    ) -> None:
        now = time.time_ns()
        db.executemany(
            "UPDATE outbox SET state = 1, done_ns = ? WHERE seq = ? AND state = 0",
            [(now, seq) for seq in acked],
        )
        if rejected:
            db.executemany(
                "UPDATE outbox SET state = 2, reason = ?, done_ns = ? WHERE seq = ? AND state = 0",
                [(reason, now, seq) for seq, reason in rejected],
            )

    def outbox_counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
        names = {PENDING: "pending", ACKED: "acked", REJECTED: "rejected"}
        counts = {name: 0 for name in names.values()}
        counts.update({names[state]: n for state, n in rows})
        return counts

    # -- inbox -------------------------------------------------------------------------

    def cursors(self) -> tuple[int, int, int]:
        found = dict(self._db.execute("SELECT lane, hseq FROM cursors").fetchall())
        return (found.get(0, 0), found.get(1, 0), found.get(2, 0))

    def receive(
        self,
        batch: Sequence[tuple[int, Envelope]],
        cursors: dict[int, int],
        acked: Sequence[int] = (),
        rejected: Sequence[tuple[int, str]] = (),
    ) -> list[Received]:
        """Store verified deliveries, advance the cursors and record the hub's answers to
        our publishes, all in one commit; returns the new inbox rows (duplicates left out).

        One commit per batch read from the hub, not one per kind of frame in it: the
        node's commits, not its messages, were its largest cost at moderate rates.
        """
        now = time.time_ns()
        new: list[Received] = []
        with self._transaction() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO inbox (origin, seq, lane, kind, msg_id, time_ns,"
                " received_ns, hseq, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(e.origin, e.seq, int(e.lane), int(e.kind), e.id, e.time_ns, now, hseq, e.raw)
                 for hseq, e in batch],
            )  # fmt: skip
            if inserted := db.total_changes - before:
                # The rows just inserted are the newest: an INTEGER PRIMARY KEY row gets the
                # highest id so far plus one, and this transaction is the only writer.
                rows = db.execute(
                    "SELECT id, origin, seq FROM inbox WHERE id > last_insert_rowid() - ?"
                    " ORDER BY id",
                    (inserted,),
                ).fetchall()
                ids = {(origin, seq): row for row, origin, seq in rows}
                for hseq, e in batch:
                    row = ids.pop((e.origin, e.seq), None)  # pop: a batch may repeat a message
                    if row is not None:
                        new.append(Received(row, e, now, hseq))
            if cursors:
                db.executemany(
                    "INSERT INTO cursors (lane, hseq) VALUES (?, ?) ON CONFLICT (lane)"
                    " DO UPDATE SET hseq = max(hseq, excluded.hseq)",
                    list(cursors.items()),
                )
            if acked or rejected:
                self._settle(db, acked, rejected)
        return new

    def inbox(self, after: int = 0, limit: int = 1000) -> list[Received]:
        rows = self._db.execute(
            "SELECT id, envelope, received_ns, hseq FROM inbox WHERE id > ? ORDER BY id LIMIT ?",
            (after, limit),
        ).fetchall()
        return [Received(row, decode(raw), rns, hseq) for row, raw, rns, hseq in rows]

    def inbox_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM inbox").fetchone()[0])

    def sent(self) -> list[tuple[Envelope, int]]:
        """Every published envelope with its outbox state, oldest first (for accounting)."""
        rows = self._db.execute("SELECT envelope, state FROM outbox ORDER BY seq").fetchall()
        return [(decode(raw), state) for raw, state in rows]
