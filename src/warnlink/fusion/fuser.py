"""A party's fused picture: its own and its partners' shared tracks as system tracks.

Per picture time: reports too old or deleted are dropped; the rest are aligned to the
time (align); tracks already fused together stay together unless their gate fails
`max_gate_misses` pictures running; the others join system tracks one party at a time
(associate: gate and one-to-one assignment), or start new ones. Each system track's
state is the covariance intersection of its members (ci); its launch and impact points
are the intersections of the members' own (each predicted by its origin from its full
state: re-predicting the fused state instead measured worse, since the members' impact
uncertainty is mostly the common ballistic-coefficient prior, and cost a party more
computing than its own tracking); its orbit is the members' likeliest. A track only one
party holds is exactly what that party said of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from warnlink.formats.records import Estimate, GroundPoint, vec3
from warnlink.fusion.align import align
from warnlink.fusion.associate import GATE_6DOF, assign, distance2
from warnlink.fusion.ci import covariance_intersection
from warnlink.fusion.report import SharedTrack
from warnlink.geo.frames import ecef_to_geodetic, eci_to_ecef, enu_basis, geodetic_to_ecef
from warnlink.track.ellipse import ground_point
from warnlink.track.estimates import BOOST_PHASE, K_OBSERVABLE, ORBITAL_PHASE
from warnlink.track.launch import heading
from warnlink.track.manager import TrackerConfig
from warnlink.track.state import LOG_K, N_STATE, POS, VEL, eci_to_ecef_jacobian

F64 = NDArray[np.float64]
Key = tuple[str, str]  # (party, track)
IMPACT_DIMS = np.r_[POS, VEL, LOG_K]  # what predict_impacts uses: the CI weights' measure


@dataclass
class FusedTrack:
    """A system track of the fused picture at one time."""

    system_id: str  # stable id in this party's fused picture, e.g. "F3"
    t: float
    contributors: list[Key]  # (party, track) fused into it
    parties: list[str]
    estimate: Estimate  # the fused state and its launch, impact and orbit
    measured_wall: float  # newest measured_wall among contributors (latency)


class _Aligned:
    """A picture's reports aligned to its time, and the intersections of the sets of them
    made so far (association and fusion ask for the same sets)."""

    def __init__(self, x: F64, P: F64) -> None:
        self.x, self.P = x, P
        self._made: dict[tuple[int, ...], tuple[F64, F64, F64]] = {}

    def fuse(self, rows: list[int]) -> tuple[F64, F64, F64]:
        """Covariance intersection of the rows (weights in sorted row order)."""
        key = tuple(sorted(rows))
        if key not in self._made:
            self._made[key] = covariance_intersection(
                [self.x[i] for i in key], [self.P[i] for i in key], IMPACT_DIMS
            )
        return self._made[key]


@dataclass
class _System:
    id: str
    members: dict[str, Key]  # party -> its track in this system track
    misses: dict[Key, int] = field(default_factory=dict)  # pictures running outside the gate


class Fuser:
    """One party's fused picture of its own and its partners' shared tracks."""

    def __init__(
        self,
        party: str,
        confidence: float = 0.95,
        max_age_s: float = 10.0,
        max_hold_s: float = 30.0,
        gate: float = GATE_6DOF,
        max_gate_misses: int = 3,
        tracker: TrackerConfig | None = None,
    ) -> None:
        self.party = party
        self.confidence = confidence
        self.max_age_s = max_age_s
        self.max_hold_s = max_hold_s
        self.gate = gate
        self.max_gate_misses = max_gate_misses
        self.tracker = tracker or TrackerConfig()
        self.reports: dict[Key, SharedTrack] = {}
        self._systems: dict[str, _System] = {}
        self._system_of: dict[Key, str] = {}
        self._next_id = 1
        self._own_t = -np.inf  # the own tracker has handed over every update before this

    def processed(self, t: float) -> None:
        """The party's own tracker has handed over all its updates before scenario time t.

        Its own tracks are then judged stale against t, as a partner's are against that
        partner's newest report: without this a lone own track that stopped being measured
        (a spent stage below the radar horizon) stayed in the picture, predicted forward
        for as long as the tracker kept it, down through the ground.
        """
        self._own_t = max(self._own_t, t)

    def add(self, report: SharedTrack) -> None:
        """Take a report (own or a partner's); a deletion drops its track at once."""
        key = (report.party, report.track)
        if report.deleted:
            self.reports.pop(key, None)
            self._leave(key)
            return
        old = self.reports.get(key)
        if old is None or report.t >= old.t:
            self.reports[key] = report

    def picture(self, t: float) -> list[FusedTrack]:
        """The fused picture at scenario time t.

        A track leaves the picture when its origin has reported max_age_s later than on it
        (the origin stopped reporting it), or, for a partner's, when nothing newer than
        max_hold_s before t has come (the partner or its link is silent). Staleness is
        judged against each origin's own newest report, so a late link or a party whose
        own computing lags the clock is predicted forward, not dropped; for the own party
        that is also the time its tracker has processed (`processed`). Reports newer than
        t are kept for later pictures but not used in this one.
        """
        newest: dict[str, float] = {self.party: self._own_t}
        for (party, _), r in self.reports.items():
            newest[party] = max(newest.get(party, r.t), r.t)
        stale = [
            k for k, r in self.reports.items()
            if newest[k[0]] - r.t > self.max_age_s
            or (k[0] != self.party and t - r.t > self.max_hold_s)
        ]  # fmt: skip
        for key in stale:
            del self.reports[key]
            self._leave(key)
        keys = [k for k, r in self.reports.items() if r.t <= t]
        if not keys:
            return []
        reports = [self.reports[k] for k in keys]
        x, P, pb = align(reports, t, self.tracker)
        aligned = _Aligned(x, P)
        row = {k: i for i, k in enumerate(keys)}
        self._check_members(row, aligned)
        self._join(keys, row, aligned)
        self._merge(row, aligned)
        fused = []
        for s in self._systems.values():
            rows = sorted(row[k] for k in s.members.values() if k in row)
            if rows:
                fused.append((s, rows))
        return self._tracks(t, fused, reports, aligned, pb)

    # -- association ----------------------------------------------------------------------

    def _leave(self, key: Key) -> None:
        sid = self._system_of.pop(key, None)
        if sid is None:
            return
        s = self._systems[sid]
        del s.members[key[0]]
        s.misses.pop(key, None)
        if not s.members:
            del self._systems[sid]

    def _check_members(self, row: dict[Key, int], aligned: _Aligned) -> None:
        """Gate each member of a multi-member system track against the rest of it, newest
        first; one outside the gate max_gate_misses pictures running leaves it (a
        partner's track may have swapped to a close object: a spent stage beside its RV).
        The oldest member is never the one to leave, so the system track keeps its id."""
        for s in list(self._systems.values()):
            present = [k for k in s.members.values() if k in row]
            for k in present[:0:-1]:
                others = [row[o] for o in present if o != k]
                xo, Po, _ = aligned.fuse(others)
                xk, Pk, _ = aligned.fuse([row[k]])
                d2 = float(distance2(xk[None], Pk[None], xo[None], Po[None])[0, 0])
                s.misses[k] = 0 if d2 <= self.gate else s.misses.get(k, 0) + 1
                if s.misses[k] >= self.max_gate_misses:
                    self._leave(k)  # free to join another system track (_join)
                    present.remove(k)

    def _join(self, keys: list[Key], row: dict[Key, int], aligned: _Aligned) -> None:
        """Reports in no system track join one (own party first, then partners in
        order, one-to-one within the gate) or start their own."""
        free = [k for k in keys if k not in self._system_of]
        parties = sorted({k[0] for k in free}, key=lambda p: (p != self.party, p))
        for party in parties:
            mine = [k for k in free if k[0] == party]
            open_ = [
                s
                for s in self._systems.values()
                if party not in s.members and any(k in row for k in s.members.values())
            ]
            pairs: list[tuple[int, int]] = []
            if open_:
                fused = [
                    aligned.fuse([row[k] for k in s.members.values() if k in row]) for s in open_
                ]
                ri = [row[k] for k in mine]
                d2 = distance2(
                    aligned.x[ri],
                    aligned.P[ri],
                    np.array([f[0] for f in fused]),
                    np.array([f[1] for f in fused]),
                )
                pairs = assign(d2, self.gate)
            taken = set()
            for a, b in pairs:
                s = open_[b]
                s.members[party] = mine[a]
                self._system_of[mine[a]] = s.id
                taken.add(a)
            for a, k in enumerate(mine):
                if a not in taken:
                    self._start(k)

    def _merge(self, row: dict[Key, int], aligned: _Aligned) -> None:
        """System tracks of different parties that have come within the gate of each other
        are one object seen apart (a party's new track after staging started its own
        system track while its partner's track of the object sat in another): they
        merge, nearest pairs first, the older id staying."""
        live = [s for s in self._systems.values() if any(k in row for k in s.members.values())]
        if len(live) < 2:
            return
        fused = [aligned.fuse([row[k] for k in s.members.values() if k in row]) for s in live]
        x, P = np.array([f[0] for f in fused]), np.array([f[1] for f in fused])
        d2 = distance2(x, P, x, P)
        pairs = sorted(
            (float(d2[i, j]), i, j)
            for i in range(len(live))
            for j in range(i + 1, len(live))
            if d2[i, j] <= self.gate and not live[i].members.keys() & live[j].members.keys()
        )
        merged: set[int] = set()
        for _, i, j in pairs:
            if i in merged or j in merged:
                continue
            keep, drop = sorted((live[i], live[j]), key=lambda s: int(s.id[1:]))
            for party, key in drop.members.items():
                keep.members[party] = key
                self._system_of[key] = keep.id
            del self._systems[drop.id]
            merged.update((i, j))

    def _start(self, key: Key) -> None:
        sid = f"F{self._next_id}"
        self._next_id += 1
        self._systems[sid] = _System(sid, {key[0]: key})
        self._system_of[key] = sid

    # -- estimates ------------------------------------------------------------------------

    def _tracks(
        self,
        t: float,
        systems: list[tuple[_System, list[int]]],
        reports: list[SharedTrack],
        aligned: _Aligned,
        pb: F64,
    ) -> list[FusedTrack]:
        """The picture's records. A system track's boost probability is its members'
        mean with the intersection's weights (the state that counts most speaks for the
        phase); it is coasting once any member is: that party saw the motor last burn."""
        n = len(systems)
        xf, Pf = np.zeros((n, N_STATE)), np.zeros((n, N_STATE, N_STATE))
        bf, coasting = np.zeros(n), np.zeros(n, bool)
        for j, (_, rows) in enumerate(systems):
            xf[j], Pf[j], w = aligned.fuse(rows)
            bf[j] = float(w @ pb[rows])
            coasting[j] = any(reports[i].coasting for i in rows)
        r, v = eci_to_ecef(np.full(n, t), xf[:, :3], xf[:, 3:6])
        jac = eci_to_ecef_jacobian(np.full(n, t))
        cov = jac @ Pf[:, :6, :6] @ np.transpose(jac, (0, 2, 1))
        out = []
        for j, (s, rows) in enumerate(systems):
            members = [reports[i] for i in rows]
            launch = self._intersect([m.launch for m in members if m.launch is not None])
            with_impact = [m for m in members if m.impact is not None]
            impact = self._intersect([m.impact for m in with_impact if m.impact is not None])
            orbits = [m.orbit for m in members if m.orbit is not None]
            orbit = max(orbits, key=lambda o: o.probability) if orbits else None
            made = [m.predicted_from_t for m in members if m.predicted_from_t is not None]
            pred_t = max(made) if made else None
            log_k_sigma = float(np.sqrt(max(Pf[j, LOG_K, LOG_K], 0.0)))
            hd, hs = heading(t, xf[j], Pf[j])
            orbital = orbit is not None and orbit.probability > ORBITAL_PHASE
            boost = bf[j] > BOOST_PHASE
            est = Estimate(
                t=t,
                track=s.id,
                status="confirmed",
                measurement=None,
                sensor=None,
                phase="orbital" if orbital else "boost" if boost else "ballistic",
                boost_probability=float(bf[j]),
                ecef_m=vec3(r[j]),
                vel_mps=vec3(v[j]),
                cov_ecef=[float(c) for c in cov[j].ravel()],
                ballistic_coefficient_kg_m2=(
                    float(np.exp(-xf[j, LOG_K])) if log_k_sigma < K_OBSERVABLE else None
                ),
                heading_deg=hd,
                heading_sigma_deg=hs,
                launch=launch,
                impact=impact,
                orbit=orbit,
                sources=sorted({src for m in members for src in m.sources}),
                predicted_from_t=pred_t,
            )
            keys = sorted((m.party, m.track) for m in members)
            out.append(
                FusedTrack(
                    system_id=s.id,
                    t=t,
                    contributors=keys,
                    parties=sorted({k[0] for k in keys}),
                    estimate=est,
                    measured_wall=max(m.measured_wall for m in members),
                )
            )
        return out

    def _intersect(self, points: list[GroundPoint]) -> GroundPoint | None:
        """Covariance intersection of launch or impact points: east, north (in the plane of
        the first) and time. Each member predicted its own from its full state and
        history; their errors correlate through the common ballistic-coefficient prior,
        the launch templates and the target, which CI allows for. One point passes
        through unchanged."""
        if len(points) <= 1:
            return points[0] if points else None
        lat0, lon0 = points[0].lat_deg, points[0].lon_deg
        basis = enu_basis(lat0, lon0)
        origin = geodetic_to_ecef(lat0, lon0, 0.0)
        means, covs = [], []
        for p in points:
            en = basis[:2] @ (geodetic_to_ecef(p.lat_deg, p.lon_deg, 0.0) - origin)
            c = np.zeros((3, 3))
            c[0, 0], c[1, 1], c[0, 1] = p.cov_en_m2[0], p.cov_en_m2[1], p.cov_en_m2[2]
            c[1, 0] = c[0, 1]
            c[2, 2] = p.t_sigma_s**2
            means.append(np.array([en[0], en[1], p.t]))
            covs.append(c)
        m, c, _ = covariance_intersection(means, covs)
        lat, lon, _ = ecef_to_geodetic(origin + basis[:2].T @ m[:2])
        return ground_point(
            m[2], np.sqrt(c[2, 2]), float(lat), float(lon), c[:2, :2], self.confidence
        )
