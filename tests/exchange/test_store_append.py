"""The hub store's group commit: a batch gets the hub sequences after the highest stored
(across a reopen too), one delivery row per recipient, and a batch that fails stores
nothing of itself."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from warnlink.exchange.envelope import LANE_OF, Kind, seal
from warnlink.exchange.store import Accepted, SqliteStore


class _Signer:
    key_id = b"\x01" * 8

    def __init__(self, party: str) -> None:
        self.party = party

    def sign(self, message: bytes) -> bytes:
        return bytes(64)


def _item(origin: str, seq: int, label: list[str], kind: Kind = Kind.TRACK_REPORT) -> Accepted:
    env = seal(_Signer(origin), seq=seq, kind=kind, label=label, payload=b"p" * 10)
    return Accepted(env, env.recipients(), received_ns=seq)


def test_batches_continue_the_hub_sequence_across_a_reopen(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hub.db")
    assert store.append([_item("KR", 1, ["JP", "KR", "US"]), _item("JP", 1, ["US"])]) == [1, 2]
    assert store.append([_item("KR", 2, ["US"])]) == [3]
    store.close()
    store = SqliteStore(tmp_path / "hub.db")
    assert store.append([_item("US", 1, ["JP"], Kind.WARNING)]) == [4]
    assert [r.hseq for r in store.pending("US", [0, 0, 0], 10)] == [1, 2, 3]
    lanes = {1: int(LANE_OF[Kind.TRACK_REPORT]), 4: int(LANE_OF[Kind.WARNING])}
    jp = [(r.lane, r.hseq) for r in store.pending("JP", [0, 0, 0], 10)]
    assert jp == sorted((lane, hseq) for hseq, lane in lanes.items())  # urgent lane first
    assert store.pending("KR", [0, 0, 0], 10) == []  # an origin never gets its own back
    assert store.last_seqs()[("KR", lanes[1])] == 2
    store.close()


def test_a_failed_batch_stores_nothing_and_takes_no_sequence(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hub.db")
    store.append([_item("KR", 1, ["US"])])
    with pytest.raises(sqlite3.IntegrityError):
        store.append([_item("KR", 2, ["US"]), _item("KR", 1, ["US"])])  # (KR, 1) again
    assert [r.hseq for r in store.pending("US", [0, 0, 0], 10)] == [1]
    assert store.append([_item("KR", 2, ["JP", "US"])]) == [2]
    assert [r.hseq for r in store.pending("JP", [0, 0, 0], 10)] == [2]
    store.close()
