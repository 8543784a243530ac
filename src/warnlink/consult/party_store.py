"""A party's own consultation state beside its node: settings, checked certificates,
the command queue, the outgoing queue, what was received and the alarms.

It is SQLite (WAL), like the node's outbox, for the same reason: any process may write a
command (`warnlink consult send` ...) while the channel service runs, and the service
picks it up; nothing queued is lost if either restarts. This file holds plaintext the
party's principals read; it never leaves the party (the hub gets ciphertext only).
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warnlink.exchange.node_store import open_db, transaction

PENDING, DONE, FAILED = 0, 1, 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS certs (party TEXT PRIMARY KEY, der BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS own_rosters (version INTEGER PRIMARY KEY, signed BLOB NOT NULL,
    holders BLOB NOT NULL, sent INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY, device TEXT NOT NULL, name TEXT NOT NULL, args TEXT NOT NULL,
    state INTEGER NOT NULL DEFAULT 0, result TEXT NOT NULL DEFAULT '', created_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outgoing (id INTEGER PRIMARY KEY, device TEXT NOT NULL,
    body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS bundles_sent (device TEXT NOT NULL, recipient TEXT NOT NULL,
    curve TEXT NOT NULL, PRIMARY KEY (device, recipient, curve));
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY, sender TEXT NOT NULL, counter INTEGER NOT NULL, hash BLOB NOT NULL,
    time_ns INTEGER NOT NULL, received_ns INTEGER NOT NULL, kind TEXT NOT NULL,
    text TEXT NOT NULL, read INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS receipts (
    id INTEGER PRIMARY KEY, party TEXT NOT NULL, state TEXT NOT NULL, devices TEXT NOT NULL,
    sender TEXT NOT NULL, counter INTEGER NOT NULL, received_ns INTEGER NOT NULL,
    receipt BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    request TEXT PRIMARY KEY, reason TEXT NOT NULL, timeouts TEXT NOT NULL,
    started REAL NOT NULL, convener TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acks (
    request TEXT NOT NULL, party TEXT NOT NULL, principal TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (request, party, principal));
CREATE TABLE IF NOT EXISTS proposals (
    proposal TEXT PRIMARY KEY, body BLOB NOT NULL, author TEXT NOT NULL,
    approved INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'open',
    record BLOB, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, party TEXT NOT NULL, reason TEXT NOT NULL,
    detail TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Command:
    id: int
    device: str
    name: str
    args: dict[str, Any]


class PartyStore:
    def __init__(self, path: Path) -> None:
        self.db = open_db(path, _SCHEMA)

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.db)

    # settings

    def get(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def put(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def settings(self) -> dict[str, Any]:
        text = self.get("settings")
        if text is None:
            raise ValueError("no consultation here: run `warnlink consult init` first")
        out: dict[str, Any] = json.loads(text)
        return out

    # commands: written by any process, run by the service

    def enqueue(self, device: str, name: str, **args: Any) -> int:
        cur = self.db.execute(
            "INSERT INTO commands (device, name, args, created_ns) VALUES (?, ?, ?, ?)",
            (device, name, json.dumps(args), time.time_ns()),
        )
        return int(cur.lastrowid or 0)

    def pending_commands(self) -> list[Command]:
        rows = self.db.execute(
            "SELECT id, device, name, args FROM commands WHERE state = 0 ORDER BY id"
        ).fetchall()
        return [Command(i, d, n, json.loads(a)) for i, d, n, a in rows]

    def finish(self, command: int, ok: bool, result: str) -> None:
        self.db.execute(
            "UPDATE commands SET state = ?, result = ? WHERE id = ?",
            (DONE if ok else FAILED, result, command),
        )

    def outcome(self, command: int) -> tuple[int, str]:
        row = self.db.execute("SELECT state, result FROM commands WHERE id = ?", (command,))
        state, result = row.fetchone()
        return int(state), str(result)

    # alarms

    def alarm(self, party: str, reason: str, detail: str) -> None:
        self.db.execute(
            "INSERT INTO alarms (at, party, reason, detail) VALUES (?, ?, ?, ?)",
            (time.time(), party, reason, detail),
        )

    def alarms(self, limit: int = 20) -> list[tuple[float, str, str, str]]:
        rows = self.db.execute(
            "SELECT at, party, reason, detail FROM alarms ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [(float(a), str(p), str(r), str(d)) for a, p, r, d in rows.fetchall()]
