"""Decoding is strict on every byte: each truncation or corruption of an envelope is refused
with a reason, never an exception of another kind, and the label cache cannot mix labels."""

from __future__ import annotations

import contextlib
import random

import pytest

from warnlink.exchange.envelope import EnvelopeError, Kind, decode, seal


class _Signer:
    party = "KR"
    key_id = b"\x01" * 8

    def sign(self, message: bytes) -> bytes:
        return bytes(64)


def _env(label: list[str]) -> bytes:
    return seal(_Signer(), seq=7, kind=Kind.WARNING, label=label, payload=b"p" * 20).raw


def test_labels_round_trip_through_the_cache() -> None:
    for label in (["US"], ["JP", "US"], ["AU", "CA", "JP", "US"], ["US"]):
        assert decode(_env(label)).label == tuple(sorted(label))


def test_every_truncation_is_refused_with_a_reason() -> None:
    raw = _env(["AU", "JP", "US"])
    for cut in range(len(raw)):
        with pytest.raises(EnvelopeError) as exc:
            decode(raw[:cut])
        assert exc.value.reason in {"malformed", "bad_label"}


def test_a_label_cut_inside_an_entry_is_a_bad_label() -> None:
    raw = _env(["US"])
    start = raw.index(b"\x01\x02US")  # one entry: length 2, "US"
    with pytest.raises(EnvelopeError) as exc:
        decode(raw[: start + 3])  # the count, the length, and one of the two letters
    assert exc.value.reason == "bad_label"


def test_random_corruption_never_raises_anything_else() -> None:
    rng = random.Random(4)
    raw = _env(["CA", "JP", "US"])
    for _ in range(5000):
        data = bytearray(raw)
        data[rng.randrange(len(data))] = rng.randrange(256)
        with contextlib.suppress(EnvelopeError):
            decode(bytes(data))
