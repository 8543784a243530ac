"""An alerting authority's policy: whom it warns, how sure it must be, in which languages.

Policy is configuration, not code: a TOML table or a dict decoded into AlertPolicy with
msgspec (unknown fields are an error, so a typo never passes silently), then checked
against the bundled regions and the languages the text templates exist for. Every
problem raises PolicyError naming the field.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from warnlink.geo.regions import load_regions

LANGUAGES = ("en-US", "ja-JP", "ko-KR")  # those warnlink.alert.texts has templates for
_OFFSET = re.compile(r"^[+-]\d\d:\d\d$")


class PolicyError(ValueError):
    """A policy that cannot be used; the message names the field and the problem."""


class AlertPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What one authority warns about and how (docs/alerting.md)."""

    party: str  # the authority's party code in the exercise, e.g. "JP"
    countries: tuple[str, ...]  # ISO 3166-1 alpha-2 of the regions it warns: JP, KR, GU
    sender: str  # CAP sender, e.g. "jalert@fdma.go.jp.example"
    sender_name: str  # shown to the public, e.g. "消防庁 (FDMA)"
    languages: tuple[str, ...] = ("en-US",)
    confidence: float = 0.99  # probability inside the impact area
    corridor_ceiling_m: float = 100e3  # the predicted path below this height is overflight
    include_neighbours: bool = False  # also warn regions bordering a warned one
    neighbour_distance_m: float = 5e3  # "bordering": within this distance
    launch_range_m: float = 5000e3  # before a trajectory exists: regions this near the launch
    launch_sector_deg: float = 30.0  # and within this of the heading (plus 3 sigma), if known
    # the sector shrinks only once the heading's 1-sigma is at most this, for regions that
    # have stayed outside it this long
    launch_narrow_sigma_deg: float = 10.0
    launch_lift_after_s: float = 20.0
    # a region so lifted comes back when the sector, this much narrower, still touches it
    # (a heading that moves a degree does not bring back a region on the sector's edge)
    launch_return_margin_deg: float = 5.0
    reassess_interval_s: float = 2.0  # a track's areas are recomputed at most this often
    passed_margin_s: float = 10.0  # a region is passed this long after the path leaves it
    impact_margin_s: float = 30.0  # "fell" this long after the predicted impact time
    all_clear_after_s: float = 120.0  # all-clear this long after the threat has ended
    lost_after_s: float = 60.0  # a silent track without a predicted end is closed after this
    # a newly confirmed track this near an open threat's track (flown on to its time), from
    # an estimate at most this old, is the same threat: one warning, not a second alert
    same_threat_m: float = 50e3
    same_threat_window_s: float = 30.0
    handover_after_s: float = 5.0  # a threat's track this long silent: a joined one carries on
    expires_s: float = 3600.0  # CAP expires: sent plus this
    utc_offset: str = "+00:00"  # local time of the texts and of CAP `sent`, e.g. "+09:00"

    @property
    def offset_minutes(self) -> int:
        sign = -1 if self.utc_offset[0] == "-" else 1
        return sign * (int(self.utc_offset[1:3]) * 60 + int(self.utc_offset[4:6]))


def _check(p: AlertPolicy) -> AlertPolicy:
    known = sorted({r.country for r in load_regions()})
    if not p.countries:
        raise PolicyError("countries: empty; name at least one of " + ", ".join(known))
    for c in p.countries:
        if c not in known:
            raise PolicyError(f"countries: unknown country {c!r}; known: {', '.join(known)}")
    if not p.languages:
        raise PolicyError("languages: empty")
    for lang in p.languages:
        if lang not in LANGUAGES:
            raise PolicyError(f"languages: no templates for {lang!r}; have {', '.join(LANGUAGES)}")
    if not 0.5 <= p.confidence < 1.0:
        raise PolicyError(f"confidence: must be in [0.5, 1), got {p.confidence}")
    for name in (
        "corridor_ceiling_m", "neighbour_distance_m", "launch_range_m", "launch_sector_deg",
        "reassess_interval_s", "passed_margin_s", "impact_margin_s", "all_clear_after_s",
        "lost_after_s", "expires_s", "same_threat_m", "same_threat_window_s",
        "launch_narrow_sigma_deg", "launch_lift_after_s", "launch_return_margin_deg",
        "handover_after_s",
    ):  # fmt: skip
        value = getattr(p, name)
        if not (math.isfinite(value) and value >= 0.0):
            raise PolicyError(f"{name}: must be a finite number >= 0, got {value}")
    if p.expires_s < 60.0:
        raise PolicyError(f"expires_s: at least 60 s, got {p.expires_s}")
    if not _OFFSET.match(p.utc_offset) or int(p.utc_offset[4:6]) >= 60:
        raise PolicyError(f"utc_offset: like '+09:00', got {p.utc_offset!r}")
    if not p.party or not p.sender or any(ch in p.sender for ch in " ,<&"):
        raise PolicyError("party and sender: non-empty, sender without spaces, ',', '<', '&'")
    return p


def policy_from_dict(data: dict[str, Any]) -> AlertPolicy:
    """A checked policy from a mapping (e.g. a TOML table); PolicyError if it is not one."""
    try:
        policy = msgspec.convert(data, AlertPolicy)
    except msgspec.ValidationError as exc:
        raise PolicyError(f"policy: {exc}") from None
    return _check(policy)


def load_policy(path: Path) -> AlertPolicy:
    """A policy from a TOML file: the top level, or its [policy] table."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: {exc}") from None
    try:
        return policy_from_dict(raw.get("policy", raw))
    except PolicyError as exc:
        raise PolicyError(f"{path}: {exc}") from None


# The three authorities of the exercise scenarios; shipped as TOML in docs/alerting.md too.
DEFAULT_POLICIES: dict[str, dict[str, Any]] = {
    "JP": {
        "party": "JP", "countries": ["JP"], "sender": "j-alert@fdma.go.jp.example",
        "sender_name": "消防庁 / FDMA (J-Alert)", "languages": ["ja-JP", "en-US"],
        "utc_offset": "+09:00",
        # J-Alert warns prefectures a missile passes over even in space (Aomori, 2022).
        "corridor_ceiling_m": 2000e3,
    },
    "KR": {
        "party": "KR", "countries": ["KR"], "sender": "cbs@mois.go.kr.example",
        "sender_name": "행정안전부 / Ministry of the Interior and Safety",
        "languages": ["ko-KR", "en-US"], "utc_offset": "+09:00",
    },
    "US": {
        "party": "US", "countries": ["GU"], "sender": "ghs-ocd@guam.gov.example",
        "sender_name": "Guam Homeland Security / Office of Civil Defense",
        "languages": ["en-US"], "utc_offset": "+10:00",
    },
}  # fmt: skip


def default_policy(party: str) -> AlertPolicy:
    """The shipped policy of an exercise party (JP, KR, US)."""
    if party not in DEFAULT_POLICIES:
        raise PolicyError(f"no default policy for party {party!r}; have {sorted(DEFAULT_POLICIES)}")
    return policy_from_dict(DEFAULT_POLICIES[party])
