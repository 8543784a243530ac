"""The multi-target tracker: scans in, track updates out.

Per scan (one sensor, one time): predict every live track with the IMM (both models, all
tracks in one batch), gate and assign the scan's plots jointly (associate), update the
assigned tracks in one batch, book hits and misses of the tracks the sensor covered,
start tentative tracks from the plots left over, and delete what failed or landed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numba import njit
from numpy.typing import NDArray

from warnlink.formats.records import (
    InfraredEntry,
    InfraredMeasurement,
    Measurement,
    RadarEntry,
    RadarMeasurement,
    SensorCatalogue,
)
from warnlink.geo.frames import enu_basis
from warnlink.physics.dynamics import FULL_PHYSICS, height
from warnlink.track import imm
from warnlink.track.associate import (
    assign,
    claimed_plots,
    jpda,
    radar_covers,
    score,
)
from warnlink.track.beta_prior import update_priors
from warnlink.track.manager import (
    CONFIRMED,
    TENTATIVE,
    TrackerConfig,
    TrackTable,
    infrared_initial,
    radar_initial,
)
from warnlink.track.models import earth_rotation, infrared_los, radar_row, tangent_basis
from warnlink.track.state import N_STATE, POS

F64 = NDArray[np.float64]
Status = Literal["tentative", "confirmed", "deleted"]
__all__ = ["DEFAULT_CONFIG", "TrackUpdate", "Tracker", "TrackerConfig"]
DEFAULT_CONFIG = TrackerConfig()
CLUTTER_RANGE_RATE_SPAN_MPS = 6000.0
MIN_FALSE_ALARMS = 1e-3  # per scan: a radar said to have none still may


@dataclass
class TrackUpdate:
    t: float
    track_id: str
    status: Status
    measurement_id: str | None
    sensor_id: str | None
    x: F64  # (10,) ECI state per warnlink.track.state
    P: F64  # (10, 10)
    boost_probability: float
    coasting: bool  # out of the relight window: the motor is done, the impact is knowable
    sources: frozenset[str]
    t_first: float


@dataclass
class _Scan:
    """One sensor's plots at one time, in the sensor's measurement space."""

    sensor: RadarEntry | InfraredEntry
    t: float
    ids: list[str]
    z: F64  # radar (M, 3|4) [range, az, el(, rr)] rad; infrared (M, 3) ECEF unit LOS


def log_clutter_density(s: RadarEntry) -> float:
    """Log density of false plots in the radar's measurement space, taken as uniform over
    its instrumented volume (and CLUTTER_RANGE_RATE_SPAN_MPS of range rate)."""
    sector = s.azimuth_sector_deg
    az = 2.0 * np.pi if sector is None else np.radians((sector[1] - sector[0]) % 360.0 or 360.0)
    el = np.radians(s.max_elevation_deg - s.elevation_mask_deg)
    volume = (s.max_range_m - s.min_range_m) * az * el
    if s.range_rate_sigma_mps is not None:
        volume *= CLUTTER_RANGE_RATE_SPAN_MPS
    return float(np.log(max(s.false_alarms_per_scan, MIN_FALSE_ALARMS) / volume))


@njit(cache=True)
def _extrapolated_view(
    x: F64, P: F64, mu: F64, dt: F64, c: float, s: float, site: F64, basis: F64
) -> tuple[F64, F64]:
    """[range, az, el] (n, 3) from a radar (models.radar_row) of each track's mean
    position moved on at its mean velocity over dt (n,), and the candidate margin (n,)
    of Tracker._candidates (compiled: as numpy, a dozen calls a scan)."""
    n, k_models, _ = x.shape
    zb, margin, state = np.empty((n, 3)), np.empty(n), np.zeros(N_STATE)
    for i in range(n):
        var = 0.0
        for e in range(3):
            total = 0.0
            for k in range(k_models):
                total += mu[i, k] * (x[i, k, e] + x[i, k, 3 + e] * dt[i])
                var += mu[i, k] * P[i, k, e, e]
            state[e] = total
        margin[i] = 5e3 + 3.0 * math.sqrt(var) + 5.0 * dt[i] ** 2
        radar_row(state, c, s, site, basis, zb[i])
    return zb, margin


class Tracker:
    """Tracks every object seen by the catalogue's sensors (see module docstring)."""

    def __init__(self, catalogue: SensorCatalogue, config: TrackerConfig = DEFAULT_CONFIG):
        self.cfg = config
        self.sensors = {s.id: s for s in catalogue.sensors}
        self._basis = {
            s.id: enu_basis(s.lat_deg, s.lon_deg)
            for s in catalogue.sensors
            if isinstance(s, RadarEntry)
        }
        self._log_clutter = {
            s.id: log_clutter_density(s) for s in catalogue.sensors if isinstance(s, RadarEntry)
        }
        self.table = TrackTable()
        self.t_last = -np.inf

    def process(self, measurements: Sequence[Measurement]) -> list[TrackUpdate]:
        """Measurements of one or more scans in non-decreasing time order; one update per
        measurement used by a track, plus deletions. Plots of one (sensor, t) form a scan."""
        out: list[TrackUpdate] = []
        i = 0
        while i < len(measurements):
            t = measurements[i].t
            assert t >= self.t_last, "measurements must be in time order"
            j = i
            groups: dict[str, list[Measurement]] = {}
            while j < len(measurements) and measurements[j].t == t:
                groups.setdefault(measurements[j].sensor, []).append(measurements[j])
                j += 1
            for sensor_id, group in groups.items():
                out.extend(self._scan(self._make_scan(sensor_id, t, group)))
            self.t_last, i = t, j
        return out

    def finish(self) -> list[TrackUpdate]:
        """Deletions of every track still alive."""
        out = self._delete(np.ones(len(self.table), bool), float(self.t_last))
        return out

    # -- one scan -------------------------------------------------------------------------

    def _make_scan(self, sensor_id: str, t: float, group: list[Measurement]) -> _Scan:
        sensor = self.sensors[sensor_id]
        if isinstance(sensor, RadarEntry):
            rows = []
            for m in group:
                assert isinstance(m, RadarMeasurement)
                rr = np.nan if m.range_rate_mps is None else m.range_rate_mps
                rows.append([m.range_m, m.az_deg, m.el_deg, rr])
            z = np.array(rows)
            z[:, 1:3] = np.radians(z[:, 1:3])  # one call per scan, not two per plot
            if sensor.range_rate_sigma_mps is None:
                z = z[:, :3]
        else:
            z = np.array([m.los for m in group if isinstance(m, InfraredMeasurement)])
        return _Scan(sensor, t, [m.id for m in group], z)

    def _scan(self, scan: _Scan) -> list[TrackUpdate]:
        tab, cfg, t = self.table, self.cfg, scan.t
        out: list[TrackUpdate] = []
        used = np.zeros(len(scan.ids), bool)
        parents: list[str | None] = [None] * len(scan.ids)
        act = self._candidates(scan)  # tracks the sensor may see; the others wait unpredicted
        if act.size:
            x, P, mu = imm.predict(
                tab.x[act], tab.P[act], tab.mu[act], t - tab.t[act], cfg.noise, cfg.switching,
                t - tab.last_boost[act],
            )  # fmt: skip
            z, zhat, S, C, angle, gate, cover = self._predict_measurements(scan, x, P, mu)
            nu, S_inv, loglik, cost, feasible = score(z, zhat, S, mu, gate, angle)
            status = tab.status[act]
            is_confirmed = status == CONFIRMED
            confirmed = np.flatnonzero(is_confirmed)
            soft, beta = np.zeros(0, np.intp), np.zeros((0, len(scan.ids)))
            if isinstance(scan.sensor, RadarEntry):
                soft, beta = jpda(
                    cost, feasible, confirmed, scan.sensor.detection_probability,
                    self._log_clutter[scan.sensor.id],
                )  # fmt: skip
            taken = beta.sum(axis=0) >= 0.5
            is_confirmed[soft] = False  # from here on: confirmed and not in a JPDA cluster
            tiers = [np.flatnonzero(is_confirmed), np.flatnonzero(status == TENTATIVE)]
            pairs = assign(cost, feasible, tiers, taken)
            hit = np.zeros(act.size, bool)
            hard = np.array([p[0] for p in pairs], np.intp)
            cols = np.array([p[1] for p in pairs], np.intp)
            upd = np.concatenate([hard, soft])
            claimed = claimed_plots(beta)
            if upd.size:
                if soft.size:  # every plot a candidate, weighted
                    nu_u, ll_u = nu[upd], loglik[upd]
                    w: F64 | None = np.concatenate([np.eye(len(scan.ids))[cols], beta])
                else:  # hard assignments only: one candidate each
                    nu_u, ll_u = nu[hard, :, cols][:, :, None], loglik[hard, :, cols][:, :, None]
                    w = None
                x[upd], P[upd], mu[upd] = imm.update(
                    x[upd], P[upd], mu[upd], C[upd], S[upd], nu_u, ll_u, w, S_inv[upd]
                )
                hit[hard], used[cols] = True, True
                hit[soft] = beta.sum(axis=1) >= 0.5
                used |= taken
            rows = upd[hit[upd]]
            # updates are reported with the plot they used; a JPDA one only if it is sure
            named = np.concatenate([cols, claimed]) >= 0
            told, cols = upd[named], np.concatenate([cols, claimed])[named]
            tab.x[act], tab.P[act], tab.mu[act], tab.t[act] = x, P, mu, t
            tab.last_hit[act[rows]] = t
            kind = "radar" if isinstance(scan.sensor, RadarEntry) else "infrared"
            for r in act[rows].tolist():
                if kind not in tab.sources[r]:
                    tab.sources[r] = tab.sources[r] | {kind}
                if kind == "infrared":
                    if tab.first_ir[r] is None:
                        tab.first_ir[r] = scan.sensor.id
                    elif tab.first_ir[r] != scan.sensor.id:
                        tab.stereo[r] = True
            tab.last_boost[act[mu[:, 0] > 0.5]] = t
            if cfg.class_priors:
                update_priors(tab, act, t, cfg)
            boosting = (status == CONFIRMED) & (t - tab.last_boost[act] < cfg.staging_window_s / 3)
            for c in np.flatnonzero(~used & (feasible & boosting[:, None]).any(axis=0)):
                near = np.flatnonzero(feasible[:, c] & boosting)
                parents[c] = tab.ids[act[near[np.argmin(cost[near, c])]]]
            covered = np.flatnonzero(cover | hit)
            tab.record(act[covered], hit[covered], cfg)
            if told.size:
                out.extend(self._updates(act[told], t, [scan.ids[c] for c in cols], scan.sensor.id))
        for c in np.flatnonzero(~used):
            row = self._initiate(scan, int(c), parents[c])
            if row is not None:
                out.extend(self._updates(np.array([row]), t, [scan.ids[c]], scan.sensor.id))
        out.extend(self._delete(tab.doomed(t, cfg), t))
        tab.hand_over(t, cfg.staging_window_s)
        return out

    def _candidates(self, scan: _Scan) -> NDArray[np.intp]:
        """Rows of the tracks that may lie in the sensor's field (a cheap, generous test on
        the extrapolated mean: 5 km + 3 sigma + a gravity allowance), so that a scan
        predicts and gates only those."""
        tab, s = self.table, scan.sensor
        if not len(tab):
            return np.zeros(0, np.intp)
        if isinstance(s, InfraredEntry):
            return np.flatnonzero(tab.mu[:, 0] > 0.02)
        zb, margin = _extrapolated_view(
            tab.x, tab.P, tab.mu, scan.t - tab.t, *earth_rotation(scan.t),
            np.asarray(s.ecef_m), self._basis[s.id],
        )  # fmt: skip
        return np.flatnonzero(radar_covers(s, zb, margin))

    def _predict_measurements(
        self, scan: _Scan, x: F64, P: F64, mu: F64
    ) -> tuple[F64, F64, F64, F64, int, float, NDArray[np.bool_]]:
        """Measurements as seen by each track, predictions, covariances, gate and coverage."""
        t, s = scan.t, scan.sensor
        if isinstance(s, RadarEntry):
            with_rr = scan.z.shape[1] == 4
            zhat, S, C = imm.measure_radar(
                x, P, mu, t, np.asarray(s.ecef_m), self._basis[s.id], with_rr
            )
            sig = [s.range_sigma_m, np.radians(s.angle_sigma_deg), np.radians(s.angle_sigma_deg)]
            if with_rr:
                sig.append(s.range_rate_sigma_mps or 0.0)
            S = S + np.diag(np.square(sig))
            best = np.argmax(mu, axis=1)
            cover = radar_covers(s, zhat[np.arange(len(x)), best], np.zeros(len(x)))
            return scan.z[None], zhat, S, C, 1, self.cfg.gate_radar, cover
        sat = np.asarray(s.ecef_m)
        xc, _ = imm.combine(x, P, mu)
        centre = infrared_los(xc, t, sat)
        tb = tangent_basis(centre)
        zhat, S, C = imm.measure_infrared(x, P, mu, t, sat, centre, tb)
        S = S + s.los_sigma_rad**2 * np.eye(2)
        z = np.einsum("mc,njc->nmj", scan.z, tb) / (scan.z @ centre.T).T[..., None]
        burning = mu[:, 0] > 0.5
        cover = burning & (height(xc[:, POS], FULL_PHYSICS) >= s.min_altitude_m)
        return z, zhat, S, C, -1, self.cfg.gate_infrared, cover

    def _initiate(self, scan: _Scan, c: int, parent: str | None) -> int | None:
        s, cfg = scan.sensor, self.cfg
        if isinstance(s, RadarEntry):
            sig = np.array(
                [
                    s.range_sigma_m,
                    np.radians(s.angle_sigma_deg),
                    np.radians(s.angle_sigma_deg),
                    s.range_rate_sigma_mps or 0.0,
                ]
            )
            x, P = radar_initial(
                cfg, scan.t, (s.lat_deg, s.lon_deg), np.asarray(s.ecef_m), sig, scan.z[c]
            )
            return self.table.add(
                scan.t, x, P, cfg.radar_init_boost_probability, "radar", s.id, parent
            )
        init = infrared_initial(cfg, scan.t, np.asarray(s.ecef_m), scan.z[c], s.los_sigma_rad)
        if init is None:
            return None
        return self.table.add(
            scan.t, *init, cfg.ir_init_boost_probability, "infrared", s.id, parent
        )

    def _updates(
        self,
        rows: NDArray[np.intp],
        t: float,
        mids: Sequence[str | None],
        sensor: str | None,
        deleted: bool = False,
    ) -> list[TrackUpdate]:
        """One record per row: the combined state, and its status (or deleted).

        Per-row fields are taken as Python lists first: indexing numpy scalars row by row
        costs more than the records themselves."""
        tab = self.table
        mu = tab.mu[rows]
        x, P = imm.combine(tab.x[rows], tab.P[rows], mu)
        coasting = t - tab.last_boost[rows] >= self.cfg.switching.reignite_window_s
        status: list[Status] = (
            ["deleted"] * rows.size
            if deleted
            else ["confirmed" if c else "tentative" for c in tab.status[rows] == CONFIRMED]
        )
        return [
            TrackUpdate(
                t=t,
                track_id=tab.ids[r],
                status=st,
                measurement_id=mid,
                sensor_id=sensor,
                x=xi,
                P=Pi,
                boost_probability=b,
                coasting=c,
                sources=tab.sources[r],
                t_first=t0,
            )
            for r, mid, st, xi, Pi, b, c, t0 in zip(
                rows.tolist(),
                mids,
                status,
                x,
                P,
                mu[:, 0].tolist(),
                coasting.tolist(),
                tab.t_first[rows].tolist(),
                strict=True,
            )
        ]

    def _delete(self, drop: NDArray[np.bool_], t: float) -> list[TrackUpdate]:
        rows = np.flatnonzero(drop)
        if rows.size == 0:
            return []
        out = self._updates(rows, t, [None] * rows.size, None, deleted=True)
        self.table.remove(drop)
        return out
