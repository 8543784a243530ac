"""Shared track reports: what a party's batch of updates shares, and the bytes round trip."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from fusion_support import coasting_update

from warnlink.fusion.report import ReportError, SharedTrack, decode, encode, shared_tracks
from warnlink.track.estimates import EstimateMaker


def test_latest_update_of_each_confirmed_track_and_deletions() -> None:
    ups = [
        coasting_update("T1", 100.0),
        coasting_update("T2", 100.0, "tentative"),
        coasting_update("T1", 101.0),
        coasting_update("T3", 101.0, "deleted"),
    ]
    made = EstimateMaker().records(ups)
    out = shared_tracks("KR", ups, made, measured_wall=12.5)
    assert [(s.track, s.t, s.deleted) for s in out] == [("T1", 101.0, False), ("T3", 101.0, True)]
    t1 = out[0]
    assert t1.party == "KR" and t1.measured_wall == 12.5 and t1.sources == ["radar"]
    assert np.array_equal(t1.state_eci, ups[2].x) and np.array_equal(t1.cov_eci, ups[2].P.ravel())
    assert t1.impact is not None and t1.impact == made[2].impact  # the origin's own estimate
    assert t1.coasting and t1.t_first == 90.0


def test_round_trip() -> None:
    ups = [coasting_update("T7", 100.0)]
    (s,) = shared_tracks("JP", ups, EstimateMaker().records(ups))
    assert decode(encode(s)) == s


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        b"not msgpack at all",
        msgspec.msgpack.encode({"party": "KR"}),
        msgspec.msgpack.encode([1, 2, 3]),
    ],
)
def test_bad_bytes_raise_a_value_error(data: bytes) -> None:
    with pytest.raises(ReportError, match="not a shared track"):
        decode(data)
    assert issubclass(ReportError, ValueError)


def test_wrong_sizes_and_non_finite_numbers_are_rejected() -> None:
    ups = [coasting_update("T7", 100.0)]
    (s,) = shared_tracks("JP", ups, EstimateMaker().records(ups))
    short = msgspec.structs.replace(s, state_eci=s.state_eci[:6])
    with pytest.raises(ReportError, match="not 10 and 100"):
        decode(encode(short))
    nan = msgspec.structs.replace(s, cov_eci=[float("nan")] * 100)
    with pytest.raises(ReportError, match="not finite"):
        decode(encode(nan))
    extra = msgspec.msgpack.encode({**msgspec.structs.asdict(s), "secret": 1})
    with pytest.raises(ReportError):
        decode(extra)
    assert isinstance(decode(encode(s)), SharedTrack)
