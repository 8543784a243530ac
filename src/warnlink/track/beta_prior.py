"""Ballistic-coefficient priors by vehicle class, from public literature, not the simulator.

Why: above the air a radar cannot measure beta = m / (Cd A), yet beta decides where a
re-entering object lands. Without re-entry coverage the impact error is set by the prior,
so the prior should say what is known of the object before drag is seen: how fast its
motor drove it (the class) and whether it is the re-entry vehicle (RV) or a spent stage.

Class: the DoD range classes (SRBM < 1,000 km, MRBM < 3,000 km, IRBM < 5,500 km, ICBM;
e.g. the U.S. Ballistic Missile Defense Organization's categories) turned into speeds by
the minimum-energy relation of a Keplerian arc (Bate, Mueller and White, "Fundamentals of
Astrodynamics", ch. 6): a range angle psi needs nu = v^2 r / mu = 2 s / (1 + s), with
s = sin(psi / 2), at the burnout radius r. A coasting object keeps its orbital energy, so
the speed it would have at BURNOUT_HEIGHT_M classes it whenever it is seen; a lofted or
depressed flight needs more speed than its range, so it is classed by what it can reach.

Betas, kg/m^2 (1 lb/ft^2 = 4.882 kg/m^2); medians and log-sigmas of log-normals:
- RVs: tactical ballistic-missile warheads of order 500-1,000 lb/ft^2 (2,400-4,900;
  the tactical examples of P. Zarchan, "Tactical and Strategic Missile Guidance", AIAA),
  strategic high-beta RVs of order 1,500-2,500 lb/ft^2 (7,300-12,200; F. J. Regan and
  S. M. Anandakrishnan, "Dynamics of Atmospheric Re-Entry", AIAA 1993, on RV ballistic
  coefficients), intermediate classes between; sigma 0.6 in ln beta spans a factor 3.3
  at 2 sigma, since these are ranges of designs, not of one vehicle.
- Spent stages: empty, thin-walled cylinders that tumble, so the broadside area counts:
  beta = m / (Cd A) of order 100-1,000 (e.g. 1.5 t dry, 1.4 m x 4 m broadside, Cd ~1:
  ~270); re-entry predictions of rocket bodies use values of this order (X. R. Li and
  V. P. Jilkov, "Survey of Maneuvering Target Tracking, Part II: Motion Models of Ballistic
  and Space Targets", IEEE TAES 46(1), 2010, on beta of re-entering objects).
The source figures are quoted from these texts as remembered, as orders of magnitude;
they were not re-read for this module. None comes from warnlink.physics.vehicles.

Until the tracker can tell the RV from the stage of one launch (the stage is pushed back
at separation, so the RV is the one ahead), a track holds the undecided prior: one
log-normal with the mean and variance in ln beta of the even mixture of the two modes,
which covers both (the wider of the two, not a guess that it is the RV).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from warnlink.geo.frames import GM_EARTH, R_MEAN
from warnlink.track import imm
from warnlink.track.manager import (
    CLASS_PRIOR,
    CONFIRMED,
    INITIAL_PRIOR,
    RV_PRIOR,
    STAGE_PRIOR,
    TrackerConfig,
    TrackTable,
)
from warnlink.track.state import LOG_K, POS, VEL

F64 = NDArray[np.float64]

BURNOUT_HEIGHT_M = 150e3  # energy-equivalent speed is taken here (burnouts: ~50-300 km)


@dataclass(frozen=True)
class LogNormal:
    """A log-normal beta: median (kg/m^2) and sigma of ln beta."""

    median: float
    log_sigma: float

    @property
    def mean_log_k(self) -> float:
        """Mean of ln k = -ln beta (the tracker's state holds ln k)."""
        return -math.log(self.median)


@dataclass(frozen=True)
class VehicleClass:
    name: str
    max_range_m: float  # DoD range class upper limit
    rv: LogNormal


STAGE = LogNormal(300.0, 0.8)
CLASSES = (
    VehicleClass("srbm", 1_000e3, LogNormal(3_000.0, 0.6)),
    VehicleClass("mrbm", 3_000e3, LogNormal(4_500.0, 0.6)),
    VehicleClass("irbm", 5_500e3, LogNormal(6_500.0, 0.6)),
    VehicleClass("icbm", math.inf, LogNormal(10_000.0, 0.6)),
)


def undecided(rv: LogNormal, stage: LogNormal = STAGE) -> LogNormal:
    """One log-normal with the ln-beta mean and variance of the even RV/stage mixture."""
    a, b = math.log(rv.median), math.log(stage.median)
    var = 0.5 * (rv.log_sigma**2 + stage.log_sigma**2) + 0.25 * (a - b) ** 2
    return LogNormal(math.exp(0.5 * (a + b)), math.sqrt(var))


def min_energy_speed(range_m: float, r: float = R_MEAN + BURNOUT_HEIGHT_M) -> float:
    """Burnout speed (m/s) of the minimum-energy Keplerian arc over a ground range."""
    s = math.sin(0.5 * range_m / R_MEAN)
    return math.sqrt(2.0 * s / (1.0 + s) * GM_EARTH / r)


SPEED_LIMITS = tuple(min_energy_speed(c.max_range_m) for c in CLASSES[:-1])


def burnout_speed(r: F64, v: F64) -> F64:
    """Speed (n,) at BURNOUT_HEIGHT_M with the orbital energy of inertial states r, v (n, 3)."""
    energy = 0.5 * np.einsum("ni,ni->n", v, v) - GM_EARTH / np.linalg.norm(r, axis=1)
    out: F64 = np.sqrt(np.maximum(2.0 * (energy + GM_EARTH / (R_MEAN + BURNOUT_HEIGHT_M)), 0))
    return out


def classify(r: F64, v: F64) -> NDArray[np.intp]:
    """Index into CLASSES (n,) of coasting inertial states r, v (n, 3)."""
    return np.searchsorted(np.array(SPEED_LIMITS), burnout_speed(r, v)).astype(np.intp)


def swap(x: F64, P: F64, old: LogNormal, new: LogNormal) -> tuple[F64, F64]:
    """States (m, d) and covariances (m, d, d) with the ln k prior old replaced by new.

    In information form the posterior is the prior's information plus the data's, so
    replacing the prior subtracts the old one's and adds the new one's: what the
    measurements said of ln k (in the air) is kept, and so are its correlations.
    """
    lam = np.linalg.inv(P)
    eta = np.einsum("mij,mj->mi", lam, x)
    lam[:, LOG_K, LOG_K] += new.log_sigma**-2 - old.log_sigma**-2
    eta[:, LOG_K] += new.mean_log_k / new.log_sigma**2 - old.mean_log_k / old.log_sigma**2
    P_new = np.linalg.inv(lam)
    P_new = 0.5 * (P_new + np.swapaxes(P_new, 1, 2))
    return np.einsum("mij,mj->mi", P_new, eta), P_new


def update_priors(tab: TrackTable, rows: NDArray[np.intp], t: float, cfg: TrackerConfig) -> None:
    """Give confirmed coasting tracks among rows (all at time t) their class's prior, and
    the RV or stage prior once one is measurably ahead of or behind its neighbours."""
    coasting = t - tab.last_boost[rows] >= cfg.switching.reignite_window_s
    live = rows[(tab.status[rows] == CONFIRMED) & coasting]
    new = live[tab.beta_prior[live] == INITIAL_PRIOR]
    if new.size:
        xc, _ = imm.combine(tab.x[new], tab.P[new], tab.mu[new])
        initial = LogNormal(1.0 / cfg.init_k, cfg.init_log_k_sigma)
        for row, c in zip(new.tolist(), classify(xc[:, POS], xc[:, VEL]).tolist(), strict=True):
            _replace(tab, row, initial, undecided(CLASSES[c].rv))
            tab.beta_class[row], tab.beta_prior[row] = c, CLASS_PRIOR
    cand = np.flatnonzero(tab.beta_prior[live] == CLASS_PRIOR)  # undecided: RV or stage?
    if not cand.size:
        return
    xc, Pc = imm.combine(tab.x[live], tab.P[live], tab.mu[live])
    behind, ahead = _neighbours(
        xc, Pc, cand, cfg.rv_gate_m, cfg.rv_gate_mps, cfg.rv_ahead_sigmas
    )  # fmt: skip
    for row, back, front in zip(live[cand].tolist(), behind.tolist(), ahead.tolist(), strict=True):
        if not (back or front):  # still undecided (most tracks, most scans)
            continue
        undecided_prior = undecided(CLASSES[tab.beta_class[row]].rv)
        if back:
            _replace(tab, row, undecided_prior, STAGE)
            tab.beta_prior[row] = STAGE_PRIOR
        elif front:
            _replace(tab, row, undecided_prior, CLASSES[tab.beta_class[row]].rv)
            tab.beta_prior[row] = RV_PRIOR


@njit(cache=True)
def _neighbours(
    xc: F64, Pc: F64, cand: NDArray[np.intp], gate_m: float, gate_mps: float, sigmas: float
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """For each candidate row of states xc (n, 10), covariances Pc (n, 10, 10): whether
    some neighbour (within gate_m and gate_mps) is ahead of it along its velocity by
    sigmas standard deviations of the two positions (it is not the RV), and whether it
    has neighbours and is that far ahead of them all (it is). Compiled: pairs of a
    scan's few tracks, where numpy spent its time in calls on tiny arrays."""
    behind = np.zeros(cand.size, np.bool_)
    ahead = np.zeros(cand.size, np.bool_)
    for a in range(cand.size):
        i = cand[a]
        speed = math.sqrt(xc[i, 3] ** 2 + xc[i, 4] ** 2 + xc[i, 5] ** 2)
        u0, u1, u2 = xc[i, 3] / speed, xc[i, 4] / speed, xc[i, 5] / speed
        var_i = _along_var(Pc[i], u0, u1, u2)
        near_any, all_ahead = False, True
        for j in range(xc.shape[0]):
            d = xc[j, :6] - xc[i, :6]
            if (
                j == i
                or not math.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2) < gate_m
                or not math.sqrt(d[3] ** 2 + d[4] ** 2 + d[5] ** 2) < gate_mps
            ):
                continue
            near_any = True
            along = d[0] * u0 + d[1] * u1 + d[2] * u2  # > 0: j ahead of i
            margin = sigmas * math.sqrt(var_i + _along_var(Pc[j], u0, u1, u2))
            behind[a] |= along > margin
            all_ahead &= along < -margin
        ahead[a] = near_any and all_ahead
    return behind, ahead


@njit(cache=True)
def _along_var(P: F64, u0: float, u1: float, u2: float) -> float:
    """Position variance u^T P[POS, POS] u along the unit vector u."""
    u = (u0, u1, u2)
    total = 0.0
    for r in range(3):
        for c in range(3):
            total += u[r] * P[r, c] * u[c]
    return total


def _replace(tab: TrackTable, row: int, old: LogNormal, new: LogNormal) -> None:
    """swap on both model slots of one track."""
    tab.x[row], tab.P[row] = swap(tab.x[row], tab.P[row], old, new)
