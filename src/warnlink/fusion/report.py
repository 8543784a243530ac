"""A party's track as it shares it with its partners, and the bytes that carry it.

Each party runs its own tracker; what leaves the party is its confirmed tracks' states,
covariances and its own estimates, not its measurements. A track's deletion is shared
too (`deleted`), so that partners drop it at once instead of letting it age out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
import numpy as np

from warnlink.formats.records import Estimate, GroundPoint, Orbit
from warnlink.track.state import N_STATE
from warnlink.track.tracker import TrackUpdate


class SharedTrack(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A party's track as it shares it: the payload of an exchange TRACK_REPORT/ESTIMATE."""

    party: str  # origin party code, e.g. "KR"
    track: str  # the origin's track id
    t: float  # scenario time of the state, s
    state_eci: list[float]  # 10 numbers, warnlink.track.state convention
    cov_eci: list[float]  # 100 numbers, row-major
    boost_probability: float
    coasting: bool
    t_first: float
    sources: list[str]  # sensor types that fed it ("radar", "infrared")
    launch: GroundPoint | None  # the origin's own estimates (from its EstimateMaker)
    impact: GroundPoint | None
    orbit: Orbit | None
    measured_wall: float = 0.0  # unix time the newest measurement in it reached the origin
    deleted: bool = False  # the origin deleted the track: partners drop it
    predicted_from_t: float | None = None  # time of the state launch/impact/orbit come from


class ReportError(ValueError):
    """Bytes that are not a valid SharedTrack."""


def shared_tracks(
    party: str,
    updates: Sequence[TrackUpdate],
    estimates: Sequence[Estimate],
    measured_wall: float = 0.0,
) -> list[SharedTrack]:
    """The reports of one batch of tracker updates: the latest update of each confirmed
    track (with the estimate EstimateMaker made of that update), and deletions.

    A deletion is reported for every deleted track; partners ignore ids they never saw
    (tentative tracks are never shared, so their deletions mean nothing to them).
    """
    made = {(e.track, e.t): e for e in estimates}
    latest: dict[str, TrackUpdate] = {}
    for u in updates:
        if u.status != "tentative":
            latest[u.track_id] = u
    out = []
    for u in latest.values():
        est = made.get((u.track_id, u.t))
        out.append(
            SharedTrack(
                party=party,
                track=u.track_id,
                t=float(u.t),
                state_eci=[float(v) for v in u.x],
                cov_eci=[float(v) for v in np.asarray(u.P).ravel()],
                boost_probability=float(u.boost_probability),
                coasting=bool(u.coasting),
                t_first=float(u.t_first),
                sources=sorted(u.sources),
                launch=est.launch if est else None,
                impact=est.impact if est else None,
                orbit=est.orbit if est else None,
                predicted_from_t=est.predicted_from_t if est else None,
                measured_wall=measured_wall,
                deleted=u.status == "deleted",
            )
        )
    return out


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(SharedTrack)


def encode(s: SharedTrack) -> bytes:
    """MessagePack bytes of a report."""
    return _encoder.encode(s)


def decode(b: bytes) -> SharedTrack:
    """A report from its bytes, checked: ReportError on anything malformed."""
    try:
        s = _decoder.decode(b)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ReportError(f"not a shared track: {exc}") from exc
    if len(s.state_eci) != N_STATE or len(s.cov_eci) != N_STATE * N_STATE:
        raise ReportError(
            f"shared track {s.party}/{s.track}: state has {len(s.state_eci)} numbers and "
            f"covariance {len(s.cov_eci)}, not {N_STATE} and {N_STATE * N_STATE}"
        )
    if not all(math.isfinite(v) for v in (s.t, *s.state_eci, *s.cov_eci)):
        raise ReportError(f"shared track {s.party}/{s.track}: a number is not finite")
    return s
