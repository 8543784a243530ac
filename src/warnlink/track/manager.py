"""Track table, initiation from unassociated plots, M-of-N confirmation and deletion.

Every unassociated plot starts a tentative track (a separating stage is just a new object
near an old one, so it needs no special case). Radar plots start one from the plot with a
wide velocity prior (narrowed along the line of sight by a range rate); infrared lines of
sight are cut with an altitude shell, wide along the line, and the other satellite's line
of sight then triangulates it. A tentative track is confirmed by M hits in its last N
scans that covered it, so isolated false alarms never confirm; a track whose plots came
from two infrared satellites needs fewer (confirm_stereo_m): two lines of sight that
meet at one point at one time are evidence one satellite's frames cannot give, and
clutter rarely does it (in the tests, one in about a thousand pairs of false plots from
coincident frames passes the gate, and a third hit must follow inside the triangulated
gate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit
from numpy.typing import NDArray

from warnlink.geo.frames import A_WGS84, OMEGA_EARTH, aer_to_enu, enu_basis, rot_z
from warnlink.physics.dynamics import FULL_PHYSICS, height
from warnlink.track.imm import Switching
from warnlink.track.models import ProcessNoise
from warnlink.track.state import ACC, LOG_K, N_STATE, POS, VEL

F64 = NDArray[np.float64]
TENTATIVE, CONFIRMED = 0, 1
# which beta prior a track holds (TrackTable.beta_prior)
INITIAL_PRIOR, CLASS_PRIOR, RV_PRIOR, STAGE_PRIOR = 0, 1, 2, 3


@dataclass(frozen=True)
class TrackerConfig:
    """Tracker settings. Gates are chi-square quantiles of the innovation dimension."""

    gate_radar: float = 25.0  # d^2 (3-4 dof): P(miss true plot) ~ 1e-4
    gate_infrared: float = 20.0  # d^2 (2 dof)
    confirm_m: int = 4  # hits ...
    confirm_n: int = 6  # ... in the last N scans covering the track
    confirm_stereo_m: int = 3  # hits in those N, once two infrared satellites saw it
    delete_misses: int = 10  # consecutive covering scans without a hit (confirmed)
    stale_tentative_s: float = 10.0  # no hit for this long: delete
    stale_confirmed_s: float = 60.0
    min_altitude_m: float = -5e3  # predicted below this: impacted, delete
    init_speed_sigma_mps: float = 2500.0  # per axis, Earth-relative, radar and infrared
    init_thrust_sigma_mps2: float = 30.0
    # k = Cd·A/m prior, log-normal: median beta = 1/k of 2000 kg/m^2, and 2 sigma spans
    # beta 180 (tumbling spent stages) to 22,000 (heavy RVs): radar cannot tell them apart
    # above the air, so the prior holds both until drag is seen. Once a track coasts, the
    # prior of its class replaces it (warnlink.track.beta_prior) if class_priors is on.
    init_k: float = 5e-4  # m^2/kg, median
    init_log_k_sigma: float = 1.2
    class_priors: bool = True
    rv_gate_m: float = 5e3  # objects of one launch: this close ...
    rv_gate_mps: float = 10.0  # ... and this slow apart (separation pushes are m/s)
    rv_ahead_sigmas: float = 3.0  # the RV is the one ahead of its neighbours by this margin
    ir_shell_alt_m: float = 40e3  # infrared initiation: assumed height ...
    ir_shell_sigma_m: float = 40e3  # ... and its 1-sigma
    ir_init_boost_probability: float = 0.95  # infrared sees only burning motors
    radar_init_boost_probability: float = 0.5
    staging_window_s: float = 60.0  # a child track may take over its parent's id this long
    noise: ProcessNoise = field(default_factory=ProcessNoise)
    switching: Switching = field(default_factory=Switching)


def _eci(t: float, r_ecef: F64, P_ecef: F64) -> tuple[F64, F64]:
    """Position and an Earth-fixed-at-rest velocity prior mean in ECI, covariance rotated."""
    rot = rot_z(OMEGA_EARTH * t)
    r = rot @ r_ecef
    v = rot @ (OMEGA_EARTH * np.array([-r_ecef[1], r_ecef[0], 0.0]))
    return np.concatenate([r, v]), rot @ P_ecef @ rot.T


def _prior(cfg: TrackerConfig, rv: F64, P_pos: F64, P_vel: F64, up: F64) -> tuple[F64, F64]:
    x = np.zeros(N_STATE)
    x[:6] = rv
    x[ACC] = 10.0 * up
    x[LOG_K] = np.log(cfg.init_k)
    P = np.zeros((N_STATE, N_STATE))
    P[POS, POS] = P_pos
    P[VEL, VEL] = P_vel
    P[ACC, ACC] = cfg.init_thrust_sigma_mps2**2 * np.eye(3)
    P[LOG_K, LOG_K] = cfg.init_log_k_sigma**2
    return x, P


def radar_initial(
    cfg: TrackerConfig,
    t: float,
    lat_lon: tuple[float, float],
    site: F64,
    sigmas: F64,
    z: F64,
) -> tuple[F64, F64]:
    """State and covariance (ECI) from one radar plot z = [range, az, el, rr|nan] (rad)."""
    basis = enu_basis(*lat_lon)
    rng, az, el = float(z[0]), float(z[1]), float(z[2])
    r_ecef = site + basis.T @ aer_to_enu(az, el, rng)
    ca, sa, ce, se = np.cos(az), np.sin(az), np.cos(el), np.sin(el)
    J = np.array(
        [
            [ce * sa, rng * ce * ca, -rng * se * sa],
            [ce * ca, -rng * ce * sa, -rng * se * ca],
            [se, 0.0, rng * ce],
        ]
    )
    P_pos = basis.T @ J @ np.diag(sigmas[:3] ** 2) @ J.T @ basis
    u = r_ecef - site
    u /= np.linalg.norm(u)
    s2 = cfg.init_speed_sigma_mps**2
    P_vel = s2 * np.eye(3)
    v_rel = np.zeros(3)
    if len(z) > 3 and np.isfinite(z[3]):
        P_vel = s2 * (np.eye(3) - np.outer(u, u)) + sigmas[3] ** 2 * np.outer(u, u)
        v_rel = z[3] * u
    rv, P6 = _eci(t, r_ecef, np.zeros((3, 3)))
    rot = rot_z(OMEGA_EARTH * t)
    rv[3:] += rot @ v_rel
    up = rot @ (r_ecef / np.linalg.norm(r_ecef))
    return _prior(cfg, rv, rot @ P_pos @ rot.T, rot @ P_vel @ rot.T + P6, up)


def infrared_initial(
    cfg: TrackerConfig, t: float, sat: F64, los: F64, sigma: float
) -> tuple[F64, F64] | None:
    """State and covariance (ECI) where a line of sight meets the altitude shell, or None."""
    r0 = 6371e3 + cfg.ir_shell_alt_m
    b = float(sat @ los)
    disc = b * b - (float(sat @ sat) - r0 * r0)
    if disc <= 0.0:
        return None
    lam = -b - np.sqrt(disc)
    if lam <= 0.0:
        return None
    for _ in range(3):  # Newton on the WGS84 height along the line
        p = sat + lam * los
        slope = -float(los @ p) / float(np.linalg.norm(p))  # d(height)/d(-lam)
        if slope <= 0.05:
            return None
        lam += (float(height(p, FULL_PHYSICS)) - cfg.ir_shell_alt_m) / slope
    p = sat + lam * los
    along = min(cfg.ir_shell_sigma_m / slope, 300e3)
    cross = 3.0 * sigma * lam
    P_pos = along**2 * np.outer(los, los) + cross**2 * (np.eye(3) - np.outer(los, los))
    rv, P_pos_eci = _eci(t, p, P_pos)
    rot = rot_z(OMEGA_EARTH * t)
    up = rot @ (p / np.linalg.norm(p))
    return _prior(cfg, rv, P_pos_eci, cfg.init_speed_sigma_mps**2 * np.eye(3), up)


@njit(cache=True)
def _lost(
    t: float, status: NDArray[np.int8], t_track: F64, n_opp: NDArray[np.int64],
    history: NDArray[np.int64], misses: NDArray[np.int64], last_hit: F64, mu: F64, x: F64,
    confirm_n: int, confirm_m: int, stale_tentative_s: float, delete_misses: int,
    stale_confirmed_s: float,
) -> tuple[NDArray[np.bool_], F64, NDArray[np.bool_]]:  # fmt: skip
    """TrackTable.doomed track by track (compiled: as numpy, a dozen calls a scan): failed
    confirmation, missed too often or stale; and each track's mean position moved on at
    its mean velocity to t (n, 3), and whether that lies inside the equatorial sphere
    (where the caller checks its height)."""
    n, k_models, _ = x.shape
    lost, r, low = np.empty(n, np.bool_), np.zeros((n, 3)), np.empty(n, np.bool_)
    for i in range(n):
        if status[i] == TENTATIVE:
            hits, h = 0, history[i]
            while h:
                hits += h & 1
                h >>= 1
            window = min(n_opp[i], confirm_n)
            lost[i] = window - hits > confirm_n - confirm_m or t - last_hit[i] > stale_tentative_s
        else:
            lost[i] = misses[i] >= delete_misses or t - last_hit[i] > stale_confirmed_s
        dt = t - t_track[i]
        for e in range(3):
            for k in range(k_models):
                r[i, e] += mu[i, k] * (x[i, k, e] + x[i, k, 3 + e] * dt)
        low[i] = r[i, 0] ** 2 + r[i, 1] ** 2 + r[i, 2] ** 2 < A_WGS84**2
    return lost, r, low


class TrackTable:
    """Struct-of-arrays store of all live tracks (index = row)."""

    def __init__(self) -> None:
        self.x = np.zeros((0, 2, N_STATE))
        self.P = np.zeros((0, 2, N_STATE, N_STATE))
        self.mu = np.zeros((0, 2))
        self.t = np.zeros(0)
        self.status = np.zeros(0, np.int8)
        self.history = np.zeros(0, np.int64)  # bit i: hit in the i-th last covering scan
        self.n_opp = np.zeros(0, np.int64)
        self.misses = np.zeros(0, np.int64)  # consecutive
        self.last_hit = np.zeros(0)
        self.t_first = np.zeros(0)
        self.last_boost = np.zeros(0)  # last time the boost model was the more probable
        self.ids: list[str] = []
        self.sources: list[frozenset[str]] = []
        self.first_ir: list[str | None] = []  # the infrared sensor of its first IR plot
        self.stereo = np.zeros(0, bool)  # a second infrared sensor's plot too
        self.parent: list[str | None] = []  # boosting track whose gate held the first plot
        self.beta_prior = np.zeros(0, np.int8)  # INITIAL_PRIOR ... STAGE_PRIOR
        self.beta_class = np.zeros(0, np.int8)  # index into beta_prior.CLASSES once classed
        self._next = 1

    def __len__(self) -> int:
        return len(self.ids)

    def add(
        self,
        t: float,
        x: F64,
        P: F64,
        boost_p: float,
        source: str,
        sensor: str,
        parent: str | None = None,
    ) -> int:
        """Append a tentative track started from a plot of sensor (of kind source), both
        models at (x, P); returns its row."""
        self.x = np.concatenate([self.x, np.stack([x, x])[None]])
        self.P = np.concatenate([self.P, np.stack([P, P])[None]])
        self.mu = np.concatenate([self.mu, [[boost_p, 1.0 - boost_p]]])
        self.t = np.append(self.t, t)
        self.status = np.append(self.status, np.int8(TENTATIVE))
        self.history = np.append(self.history, 1)
        self.n_opp = np.append(self.n_opp, 1)
        self.misses = np.append(self.misses, 0)
        self.last_hit = np.append(self.last_hit, t)
        self.t_first = np.append(self.t_first, t)
        self.last_boost = np.append(self.last_boost, t if boost_p >= 0.5 else -np.inf)
        self.beta_prior = np.append(self.beta_prior, np.int8(INITIAL_PRIOR))
        self.beta_class = np.append(self.beta_class, np.int8(0))
        self.ids.append(f"T{self._next}")
        self.sources.append(frozenset([source]))
        self.first_ir.append(sensor if source == "infrared" else None)
        self.stereo = np.append(self.stereo, False)
        self.parent.append(parent)
        self._next += 1
        return len(self.ids) - 1

    def record(self, rows: NDArray[np.intp], hit: NDArray[np.bool_], cfg: TrackerConfig) -> None:
        """Book one covering scan for the given rows; confirms tentative tracks at M of N
        (confirm_stereo_m of N once two infrared sensors have hit the track)."""
        h = hit.astype(np.int64)
        self.history[rows] = ((self.history[rows] << 1) | h) & ((1 << cfg.confirm_n) - 1)
        self.n_opp[rows] += 1
        self.misses[rows] = np.where(hit, 0, self.misses[rows] + 1)
        hits = np.bitwise_count(self.history[rows])
        need = np.where(self.stereo[rows], cfg.confirm_stereo_m, cfg.confirm_m)
        confirm = (self.status[rows] == TENTATIVE) & (hits >= need)
        self.status[rows[confirm]] = CONFIRMED

    def doomed(self, t: float, cfg: TrackerConfig) -> NDArray[np.bool_]:
        """Rows to delete at time t: failed confirmation, missed too often, stale or landed."""
        lost, r, low = _lost(
            t, self.status, self.t, self.n_opp, self.history, self.misses, self.last_hit,
            self.mu, self.x, cfg.confirm_n, cfg.confirm_m, cfg.stale_tentative_s,
            cfg.delete_misses, cfg.stale_confirmed_s,
        )  # fmt: skip
        if low.any():  # tracks a scan did not predict may have landed unseen
            lost[low] |= height(r[low], FULL_PHYSICS) < cfg.min_altitude_m
        return lost

    def remove(self, drop: NDArray[np.bool_]) -> None:
        keep = ~drop
        for name in ("x", "P", "mu", "t", "status", "history", "n_opp", "misses", "last_hit"):
            setattr(self, name, getattr(self, name)[keep])
        self.t_first, self.last_boost = self.t_first[keep], self.last_boost[keep]
        self.beta_prior, self.beta_class = self.beta_prior[keep], self.beta_class[keep]
        self.stereo = self.stereo[keep]
        self.ids = [i for i, k in zip(self.ids, keep, strict=True) if k]
        self.sources = [s for s, k in zip(self.sources, keep, strict=True) if k]
        self.first_ir = [s for s, k in zip(self.first_ir, keep, strict=True) if k]
        self.parent = [p for p, k in zip(self.parent, keep, strict=True) if k]

    def hand_over(self, t: float, window_s: float) -> None:
        """Staging guard: the identity of a boosting track follows the object that still burns.

        At staging the spent stage and the continuing missile start at one point, and
        which track keeps which object is a coin toss. A track born there from a plot in
        a boosting track's gate (its child) that turns out to burn while its parent coasts
        takes over the parent's identity, so the missile keeps one track id from launch on.
        """
        if all(pid is None for pid in self.parent):
            return
        rows = {tid: i for i, tid in enumerate(self.ids)}
        for c, pid in enumerate(self.parent):
            if pid is None:
                continue
            p = rows.get(pid)
            if p is None or t - self.t_first[c] > window_s:
                self.parent[c] = None
                continue
            if self.status[c] != CONFIRMED or self.mu[c, 0] < 0.9 or self.mu[p, 0] > 0.1:
                continue
            self.ids[c], self.ids[p] = self.ids[p], self.ids[c]
            self.t_first[[c, p]] = self.t_first[[p, c]]
            self.sources[c], self.sources[p] = self.sources[p] | self.sources[c], self.sources[c]
            self.parent[c] = None
