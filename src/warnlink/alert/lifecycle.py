"""The life of a public warning: one state machine per (authority, track), fed by estimates
and by time, emitting AlertMessage records (CAP Alert, Update, Cancel).

Stages (docs/alerting.md): `launch` (take shelter; the first alert, from the first
confirmed estimate that puts a region at risk, even before an impact is known) →
`impact_expected` (evacuate) / `overflight_expected` → `passed` (per region, once the
predicted path has left it) / `fell` (the predicted impact time has gone by: into the
sea, with the waters, or onto land) → `all_clear` (Cancel). Whenever an estimate
changes the regions at risk a correction goes out at once: an Update listing the
regions added and, in a second info set, those `lifted` (no longer expected to be
reached). If every region is lifted and an impact is predicted, the thread stays open
to report where it fell (into the sea, inside or outside the waters) before the
all-clear; without an impact (an orbit) the warning is cancelled as `lifted` at once.
Every Update and Cancel references all earlier messages of its thread.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
from msgspec import structs

from warnlink.alert.areas import (
    SEVERITY,
    Assessment,
    ImpactPlace,
    RegionIndex,
    RegionRisk,
    assess,
    flown,
    launch_basis,
    launch_sector,
    region_index,
)
from warnlink.alert.policy import AlertPolicy
from warnlink.alert.texts import Stage, Text, local_time, render
from warnlink.formats.records import Estimate
from warnlink.geo.frames import eci_to_ecef
from warnlink.geo.regions import Polygonal
from warnlink.physics.atmosphere import G0

MsgType = Literal["Alert", "Update", "Cancel"]
ACTIVE_STAGES: tuple[Stage, ...] = ("launch", "impact_expected", "overflight_expected")


@dataclass(frozen=True)
class Reference:
    """A CAP reference to an earlier message: sender, identifier, sent (as written)."""

    sender: str
    identifier: str
    sent: str

    def __str__(self) -> str:
        return f"{self.sender},{self.identifier},{self.sent}"


@dataclass(frozen=True)
class Part:
    """One info set of a message: a stage, its regions, its texts per language."""

    stage: Stage
    risks: tuple[RegionRisk, ...]  # the regions this part speaks to, with why and when
    t_event: float  # the time the texts name (launch, predicted impact/overflight, ...)
    texts: dict[str, Text]  # language -> texts
    impact_area: Polygonal | None = None  # drawn as an area of its own when known
    place: ImpactPlace | None = None


@dataclass(frozen=True)
class AlertMessage:
    """One public warning message (a CAP alert) of an authority about one track."""

    id: str
    sender: str
    sender_name: str
    t: float  # scenario time it was issued
    sent: str  # ISO 8601 with the authority's offset, whole seconds (CAP `sent`)
    expires: str
    status: Literal["Actual", "Exercise"]
    msg_type: MsgType
    references: tuple[Reference, ...]
    track: str
    stage: Stage  # of the first part: what the message is mainly about
    parts: tuple[Part, ...]
    confidence: float  # of the impact areas drawn

    @property
    def reference(self) -> Reference:
        return Reference(self.sender, self.id, self.sent)

    @property
    def region_ids(self) -> frozenset[str]:
        return frozenset(r.region.id for p in self.parts for r in p.risks)


def _stage_of(risks: Iterable[RegionRisk]) -> Stage:
    whys = {w for r in risks for w in r.why}
    if "impact" in whys:
        return "impact_expected"
    if "overflight" in whys:
        return "overflight_expected"
    return "launch"


def _merged(old: RegionRisk | None, new: RegionRisk | None) -> RegionRisk:
    """A region's risk with the reasons of both (the launch sector keeps what it warned)."""
    if old is None or new is None:
        risk = old or new
        assert risk is not None
        return risk
    why = tuple(sorted(set(old.why) | set(new.why), key=SEVERITY.__getitem__))
    return old if why == old.why else replace(new, why=why)


@dataclass
class _Thread:
    """The warning about one track: what is active, passed, lifted, and what was sent."""

    track: str  # the first track of the threat: the thread's key, in message ids
    primary: str = ""  # the track whose estimates are assessed now
    estimate: Estimate | None = None  # the primary's latest confirmed estimate
    outside: dict[str, float] = field(default_factory=dict)  # region -> outside the sector since
    narrowed: set[str] = field(default_factory=set)  # lifted by a well-known heading
    active: dict[str, RegionRisk] = field(default_factory=dict)
    warned: dict[str, RegionRisk] = field(default_factory=dict)  # ever active, not lifted
    sent: list[AlertMessage] = field(default_factory=list)  # every message about the track
    history: list[AlertMessage] = field(default_factory=list)  # those of the current chain
    last: Assessment | None = None
    t_assessed: float = -math.inf
    t_seen: float = -math.inf  # last confirmed estimate
    t_launch: float | None = None
    origin: str | None = None
    lost: bool = False
    trajectory: bool = False  # an impact or orbit has been predicted: the launch sector is over
    fell: bool = False
    ended_at: float | None = None  # the threat is over (fell, all passed, lost)
    closed: bool = False


class Authority:
    """An alerting authority's warnings: feed it estimates and time, collect messages.

    update(estimate) and advance(t) return the messages they issue; messages holds all.
    Estimates must come in time order (as estimates.jsonl is written).
    """

    def __init__(self, policy: AlertPolicy, epoch: datetime, exercise: bool = False) -> None:
        if epoch.tzinfo is None:
            raise ValueError("epoch must be timezone-aware (UTC)")
        self.policy = policy
        self.epoch = epoch
        self.status: Literal["Actual", "Exercise"] = "Exercise" if exercise else "Actual"
        self.index: RegionIndex = region_index(policy.countries)
        self.messages: list[AlertMessage] = []
        self._threads: dict[str, _Thread] = {}
        self._thread_of: dict[str, str] = {}  # track -> the thread of its threat
        self._seq = 0
        self._now = -math.inf

    # --- inputs --------------------------------------------------------------------------

    def update(self, e: Estimate) -> list[AlertMessage]:
        """Take one estimate of a track (tentative ones are ignored; `deleted` = lost).

        A track first confirmed where an existing threat's track is (another party's
        track of the same missile, a new track after a gap, a stage off the same boost)
        joins that threat's warning instead of starting another launch alert. Its
        estimates are assessed only when the threat's current track falls silent, or once
        it has a trajectory of its own while that track still reports: then it is another
        object (warhead and stage part ways) and gets its own warning, so that no region
        one of them threatens is lifted because of the other.
        """
        key = self._thread_of.get(e.track)
        if key is None:
            if e.status != "confirmed":
                return self.advance(e.t)
            same = self._same_threat(e)
            key = self._thread_of[e.track] = same.track if same is not None else e.track
        th = self._threads.setdefault(key, _Thread(key, primary=e.track))
        if e.status == "confirmed":
            th.t_seen = e.t  # before time passes: this threat is not silent
        out = self.advance(e.t)
        if e.track != th.primary:
            quiet = th.estimate is None or e.t - th.estimate.t > self.policy.handover_after_s
            if e.status == "confirmed" and not quiet and not launch_basis(e):
                # a trajectory of its own while the threat's track still reports: another
                # object off the same launch (warhead and stage part ways), warned on its own
                self._thread_of[e.track] = e.track
                th = self._threads.setdefault(e.track, _Thread(e.track, primary=e.track))
                th.t_seen = e.t
            elif e.status != "confirmed" or not quiet:
                return out
            else:
                th.primary = e.track  # the threat's track fell silent: this one carries on
        if e.status == "deleted":
            th.lost = True
            return out
        if e.status != "confirmed":
            return out
        th.estimate = e
        if th.closed and th.fell:
            return out
        if e.launch is not None:
            th.t_launch = e.launch.t
            th.origin = self._country_at(e.launch.lat_deg, e.launch.lon_deg)
        elif th.t_launch is None:
            th.t_launch = e.t
        if launch_basis(e):
            if th.trajectory:  # an update without a prediction (docs/formats.md): no news
                return out
        elif not th.trajectory:
            th.trajectory = True
            th.t_assessed = -math.inf  # the first trajectory: assess at once

        if e.t - th.t_assessed < self.policy.reassess_interval_s:
            return out
        th.t_assessed = e.t
        a = assess(e, self.policy, self.index)
        th.last = a
        return out + self._apply(th, a, e.t)

    def _same_threat(self, e: Estimate) -> _Thread | None:
        """The open thread whose track, flown on to e.t, is nearest e (within the policy's
        same_threat_m), if any: from an estimate at most same_threat_window_s old, or
        from an older one if the threat has a trajectory (it coasts), flown by the coast
        model. A lofted missile's stage and warhead leave every sensor's cover for minutes
        near apogee; their new tracks on the way down are the same threat, not launches.
        Threats whose warning was lifted count too, until they have fallen."""
        p = self.policy
        best: tuple[float, _Thread] | None = None
        r = np.asarray(e.ecef_m, float)
        for th in self._threads.values():
            last = th.estimate
            # a threat whose warning was lifted (closed, not fallen) still flies: a second
            # track of it (a partner's, a tracker's duplicate) is no new launch
            if th.fell or last is None or e.t < last.t:
                continue
            dt = e.t - last.t
            r0 = np.asarray(last.ecef_m, float)
            if dt <= p.same_threat_window_s:
                # constant velocity with gravity's drop: within a few km over half a minute
                ahead = r0 + np.asarray(last.vel_mps, float) * dt
                ahead -= 0.5 * G0 * dt * dt * r0 / np.linalg.norm(r0)
            elif th.trajectory:
                flown = _coasted(last, e.t)
                if flown is None:
                    continue
                ahead = flown
            else:
                continue
            miss = float(np.linalg.norm(ahead - r))
            if miss <= p.same_threat_m and (best is None or miss < best[0]):
                best = (miss, th)
        return None if best is None else best[1]

    def advance(self, t: float) -> list[AlertMessage]:
        """Let time pass to t: regions passed over, impacts gone by, lost tracks, all-clear."""
        t = max(self._now, t)
        self._now = t
        out: list[AlertMessage] = []
        for th in self._threads.values():
            out += self._tick(th, t)
        return out

    def finish(self, t: float | None = None) -> list[AlertMessage]:
        """Run time on to t, or (None) from event to event until every warning is closed.

        With no more estimates coming, every track counts as silent: it is concluded
        when its predicted impact, overflights or lost_after_s have gone by.
        """
        if t is not None:
            return self.advance(t)
        out: list[AlertMessage] = []
        for _ in range(10_000):
            times = [u for th in self._threads.values() if (u := self._next_event(th)) is not None]
            if not times:
                break
            before = (self._now, len(self.messages))
            out += self.advance(max(min(times), self._now))
            if (self._now, len(self.messages)) == before:  # no progress: nothing is pending
                break
        return out

    def _next_event(self, th: _Thread) -> float | None:
        """The earliest time at which _tick would change this thread (None: nothing left)."""
        if th.closed or not th.history:
            return None
        p = self.policy
        a = th.last
        impact_t = a.impact.t if a is not None and a.impact is not None else None
        times = [
            r.t_over_last + p.passed_margin_s
            for r in th.active.values()
            if r.t_over_last is not None and "impact" not in r.why
        ]
        if impact_t is not None and not th.fell:
            times.append(impact_t + p.impact_margin_s)
        if impact_t is None and th.ended_at is None:
            times.append(th.t_seen + p.lost_after_s)
        if th.ended_at is not None and (impact_t is None or th.fell):
            times.append(th.ended_at + p.all_clear_after_s)
        future = [u for u in times if u > self._now]
        if len(future) < len(times):  # due now: _tick at the current time will act on it
            return self._now
        return min(future) if future else None

    def current(self) -> list[AlertMessage]:
        """The latest message of each thread that has sent one (Cancels included)."""
        return [th.sent[-1] for th in self._threads.values() if th.sent]

    # --- the state machine ---------------------------------------------------------------

    def _country_at(self, lat: float, lon: float) -> str | None:
        from shapely.geometry import Point

        hit = self.index.all_tree.query(Point(lon, lat), predicate="intersects")
        return self.index.all_regions[int(hit[0])].country if len(hit) else None

    def _apply(self, th: _Thread, a: Assessment, t: float) -> list[AlertMessage]:
        """A new assessment: alert, correct (added / lifted / why changed) or cancel."""
        if th.fell:
            return []
        p = self.policy
        sigma = th.estimate.heading_sigma_deg if th.estimate is not None else None
        narrow = sigma is not None and sigma <= p.launch_narrow_sigma_deg
        risks = a.risks
        if a.basis == "launch" and th.narrowed:
            # regions a well-known heading lifted come back only with a well-known heading
            # (a wide one, a new track's or a staging's, is no news about where it goes),
            # and only once they are launch_return_margin_deg inside the sector's edge
            if narrow and th.estimate is not None:
                tighter = max(0.0, p.launch_sector_deg - p.launch_return_margin_deg)
                inner = launch_sector(th.estimate, structs.replace(p, launch_sector_deg=tighter))
                th.narrowed -= {
                    r.region.id
                    for r in risks
                    if r.region.id in th.narrowed and r.region.geometry.intersects(inner)
                }
            risks = tuple(r for r in risks if r.region.id not in th.narrowed)
        if th.closed:  # lifted earlier, at risk again: a new warning
            if not risks:
                return []
            th.active, th.warned, th.closed, th.ended_at, th.history = {}, {}, False, None, []
        new = {
            r.region.id: r
            for r in risks
            if r.region.id not in th.warned or r.region.id in th.active
        }
        if a.basis == "launch":
            # until a trajectory is known the sector only grows, except that once the
            # heading is known well, a region outside it for launch_lift_after_s is lifted
            # (a heading that wanders briefly does not make regions flicker)
            keep = set()
            for k in th.active:
                if k in new:
                    th.outside.pop(k, None)
                elif narrow and t - th.outside.setdefault(k, t) >= p.launch_lift_after_s:
                    th.narrowed.add(k)
                else:
                    keep.add(k)
            new = {k: _merged(th.active.get(k), new.get(k)) for k in keep | new.keys()}
        if not th.history:
            if not new:
                return []
            th.active = dict(new)
            th.warned.update(new)
            return [self._emit(th, t, "Alert", [self._part(th, _stage_of(new.values()), new, a)])]
        old = th.active
        added = {k: v for k, v in new.items() if k not in old}
        gone = {k: v for k, v in old.items() if k not in new}
        passed = {  # the object was already over it, and has left it
            k: v for k, v in gone.items()
            if "impact" not in v.why and v.t_over_first is not None and v.t_over_first <= t
        }  # fmt: skip
        lifted = {k: v for k, v in gone.items() if k not in passed}
        changed = {k for k in new.keys() & old.keys() if new[k].why != old[k].why}
        th.active = dict(new)
        th.warned.update(new)
        for k in lifted:
            th.warned.pop(k, None)
        parts: list[Part] = []
        if new and (added or lifted or changed or passed):
            parts.append(self._part(th, _stage_of(new.values()), new, a))
        if passed:
            parts.append(self._part(th, "passed", passed, a))
        if lifted:
            parts.append(self._part(th, "lifted", lifted, a))
        if not parts:
            return []
        if not new and not th.warned and a.impact is None:  # lifted, nothing left to report
            th.closed = True
            return [self._emit(th, t, "Cancel", parts)]
        # with an impact predicted the thread stays open to say where it fell
        th.ended_at = t if not new and a.impact is None else None
        return [self._emit(th, t, "Update", parts)]

    def _tick(self, th: _Thread, t: float) -> list[AlertMessage]:
        """Time-driven transitions of one thread at time t."""
        if th.closed or not th.history:
            return []
        p = self.policy
        out: list[AlertMessage] = []
        a = th.last
        impact_t = a.impact.t if a is not None and a.impact is not None else None
        passed = {
            k: v for k, v in th.active.items()
            if "impact" not in v.why and v.t_over_last is not None
            and v.t_over_last + p.passed_margin_s <= t
        }  # fmt: skip
        if passed and not th.fell:
            for k in passed:
                th.active.pop(k)
            parts = [self._part(th, "passed", passed, a)]
            if th.active:
                parts.insert(0, self._part(th, _stage_of(th.active.values()), th.active, a))
            else:
                th.ended_at = t
            out.append(self._emit(th, t, "Update", parts))
        if not th.fell and impact_t is not None and impact_t + p.impact_margin_s <= t and a:
            th.fell = True
            hit = {k: v for k, v in th.active.items() if "impact" in v.why}
            th.active = {}
            th.ended_at = t
            out.append(self._emit(th, t, "Update", [self._part(th, "fell", hit, a, impact_t)]))
        pending = any(
            v.t_over_last is not None and v.t_over_last + p.passed_margin_s > t
            for v in th.active.values()
        )
        silent = t - th.t_seen >= p.lost_after_s  # or deleted, with no predicted end
        if th.ended_at is None and impact_t is None and not pending and silent:
            th.ended_at = th.t_seen + p.lost_after_s
            th.active = {}
        done = th.ended_at is not None and not th.active and (impact_t is None or th.fell)
        if done and th.ended_at is not None and t >= th.ended_at + p.all_clear_after_s:
            th.closed = True
            part = self._part(th, "all_clear", th.warned, a, th.t_launch)
            out.append(self._emit(th, t, "Cancel", [part]))
        return out

    # --- messages --------------------------------------------------------------------------

    def _part(
        self,
        th: _Thread,
        stage: Stage,
        risks: dict[str, RegionRisk],
        a: Assessment | None,
        t_event: float | None = None,
    ) -> Part:
        ordered = tuple(risks[k] for k in sorted(risks))
        if t_event is None:
            t_event = self._event_time(th, stage, ordered, a)
        impact_area = (
            a.impact_area if a is not None and stage in ("impact_expected", "fell") else None
        )
        place = a.place if a is not None and stage == "fell" else None
        on_land = bool(ordered)
        texts = {
            lang: render(
                stage, lang, self.policy, self.epoch, t_event,
                origin=th.origin, place=place, on_our_land=on_land,
            )
            for lang in self.policy.languages
        }  # fmt: skip
        return Part(stage, ordered, t_event, texts, impact_area, place)

    def _event_time(
        self, th: _Thread, stage: Stage, risks: tuple[RegionRisk, ...], a: Assessment | None
    ) -> float:
        launch = th.t_launch if th.t_launch is not None else th.t_seen
        if stage == "impact_expected" and a is not None and a.impact is not None:
            return a.impact.t
        if stage == "overflight_expected":
            times = [r.t_over_first for r in risks if r.t_over_first is not None]
            return min(times) if times else launch
        if stage == "passed":
            times = [r.t_over_last for r in risks if r.t_over_last is not None]
            return max(times) if times else self._now
        if stage == "lifted":
            return self._now
        return launch

    def _emit(self, th: _Thread, t: float, kind: MsgType, parts: list[Part]) -> AlertMessage:
        self._seq += 1
        p = self.policy
        sent_dt = local_time(self.epoch, math.floor(t), p)
        stamp = f"{self.epoch:%Y%m%dT%H%M%SZ}"
        track = re.sub(r"[^A-Za-z0-9._-]", "_", th.track)
        msg = AlertMessage(
            id=f"warnlink.{p.party}.{stamp}.{self._seq:04d}.{track}",
            sender=p.sender,
            sender_name=p.sender_name,
            t=t,
            sent=sent_dt.isoformat(timespec="seconds"),
            expires=(sent_dt + timedelta(seconds=p.expires_s)).isoformat(timespec="seconds"),
            status=self.status,
            msg_type=kind,
            references=tuple(m.reference for m in th.history),
            track=th.track,
            stage=parts[0].stage,
            parts=tuple(parts),
            confidence=p.confidence,
        )
        th.sent.append(msg)
        th.history.append(msg)
        self.messages.append(msg)
        return msg


def _coasted(e: Estimate, t: float) -> np.ndarray | None:
    """ECEF position of e's mean state flown by the coast model to t (e.t <= t; its
    ballistic coefficient, if known); None if it is down by then (or already was)."""
    path = flown(e, np.array([[*e.ecef_m, *e.vel_mps]], float), np.unique([e.t, t]))
    if path.landed[0]:
        return None
    r, _ = eci_to_ecef(path.t[-1], path.r_eci[0, -1], np.zeros(3))
    return np.asarray(r, float)


def run_alerts(
    estimates: Iterable[Estimate], policy: AlertPolicy, epoch: datetime, exercise: bool = False
) -> list[AlertMessage]:
    """All messages of one authority for a time-ordered stream of estimates, run to the end."""
    auth = Authority(policy, epoch, exercise)
    for e in estimates:
        auth.update(e)
    auth.finish()
    return auth.messages


__all__ = [
    "AlertMessage",
    "Authority",
    "Part",
    "Reference",
    "run_alerts",
]
