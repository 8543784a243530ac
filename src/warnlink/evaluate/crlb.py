"""Cramér-Rao lower bound of the predicted impact point of a re-entry vehicle.

Why: it is the floor no unbiased tracker can beat with the same measurements, so the
tracker's impact-point error is judged against it rather than against a guess.

The parameter is the object's state x0 at a reference time t_ref after burnout (ECI
position and velocity, which at t_ref is just ECEF turned by a fixed angle), optionally
with log beta as a 7th parameter (then with a Gaussian prior, since beta is unobservable
above the air). Dynamics: warnlink.physics.propagate.coast with the full physics (WGS84
gravity with J2, Earth rotation, drag with the vehicle class's beta). Measurements: every
labelled detection of the object at t >= t_ref (so detection probability, coverage and
scan times are those of the run), with the exact models and sigmas of docs/formats.md:
radar range, azimuth, elevation (noise in the angles themselves) and range rate; infrared
tangent-plane line-of-sight coordinates. J(t) = sum over t_k <= t of H_k' R_k^-1 H_k with
H_k = dh_k/dx0 by central differences on one batched coast of perturbed states; the bound
is G J^-1 G' with G = d(impact east, north)/dx0 from the same batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from warnlink.formats.jsonl import iter_jsonl, read_json
from warnlink.formats.measurement_files import measurement_records, sensor_catalogue
from warnlink.formats.records import (
    InfraredEntry,
    Label,
    Measurement,
    RadarEntry,
    RadarMeasurement,
    SensorCatalogue,
)
from warnlink.formats.truth_files import read_truth
from warnlink.geo.frames import ecef_to_eci, ecef_to_geodetic, eci_to_ecef, enu_basis
from warnlink.physics.dynamics import FULL_PHYSICS
from warnlink.physics.propagate import coast
from warnlink.physics.truth import ObjectTrack, Truth
from warnlink.physics.vehicles import VEHICLES
from warnlink.scenario.load import load_scenario
from warnlink.scenario.model import Scenario
from warnlink.sensors.infrared import perpendicular_basis
from warnlink.sim.run import FILES, Simulation

F64 = NDArray[np.float64]
# Central-difference steps: large against the integrator's interpolation noise (mm),
# small against the curvature of the dynamics (the Jacobian changes on km and m/s).
STEP_POS_M = 20.0
STEP_VEL_MPS = 0.02
STEP_LOG_BETA = 0.01
MAX_CONDITION = 1e13  # scaled information this ill-conditioned counts as no bound (inf)


@dataclass
class Observations:
    """Detections of one object as arrays: sensor geometry and noise per measurement.

    Columns of `inv_var` are range, azimuth, elevation, range rate for radars and the two
    tangent-plane line-of-sight coordinates (then 0, 0) for infrared; 0 = not measured.
    """

    t: F64  # (n,) non-decreasing
    radar: NDArray[np.bool_]  # (n,)
    origin: F64  # (n, 3) radar site or satellite, ECEF
    basis: F64  # (n, 3, 3) rows east, north, up of the radar site (identity for infrared)
    inv_var: F64  # (n, 4)
    z: F64  # (n, 4) measured values (radar angles in rad), for estimators and checks
    sensor: NDArray[np.str_]  # (n,) sensor ids

    def take(self, sel: NDArray[np.bool_] | NDArray[np.intp]) -> Observations:
        return Observations(*(np.asarray(getattr(self, f))[sel] for f in self.__dataclass_fields__))


@dataclass
class ImpactBound:
    """The bound at each evaluation time, with what it rests on."""

    t: F64  # (m,) evaluation times
    rms_m: F64  # (m,) sqrt(trace) of the east/north CRLB; inf before it exists
    cov_en: F64  # (m, 2, 2) east/north CRLB, m^2 (inf where rms is)
    n_used: NDArray[np.intp]  # (m,) detections with t_ref <= t_k <= t
    t_ref: float
    impact_ecef: F64  # (3,) nominal impact point predicted from the truth state at t_ref


def observations(
    measurements: list[Measurement], labels: list[Label], catalogue: SensorCatalogue, oid: str
) -> Observations:
    """The labelled detections of object oid with their sensors' geometry and sigmas."""
    sensors = {s.id: s for s in catalogue.sensors}
    rows = [m for m, lab in zip(measurements, labels, strict=True) if lab.object == oid]
    n = len(rows)
    obs = Observations(
        np.array([m.t for m in rows], float), np.zeros(n, bool), np.zeros((n, 3)),
        np.tile(np.eye(3), (n, 1, 1)), np.zeros((n, 4)), np.zeros((n, 4)),
        np.array([m.sensor for m in rows], dtype=np.str_),
    )  # fmt: skip
    for i, m in enumerate(rows):
        s = sensors[m.sensor]
        if isinstance(m, RadarMeasurement) and isinstance(s, RadarEntry):
            obs.radar[i] = True
            obs.origin[i] = s.ecef_m
            obs.basis[i] = enu_basis(s.lat_deg, s.lon_deg)
            sa = np.radians(s.angle_sigma_deg)
            rr = s.range_rate_sigma_mps
            obs.inv_var[i] = [s.range_sigma_m**-2, sa**-2, sa**-2, 0.0 if rr is None else rr**-2]
            rate = np.nan if m.range_rate_mps is None else m.range_rate_mps
            obs.z[i] = [m.range_m, np.radians(m.az_deg), np.radians(m.el_deg), rate]
        elif isinstance(s, InfraredEntry) and not isinstance(m, RadarMeasurement):
            obs.origin[i] = m.sensor_ecef_m
            obs.inv_var[i, :2] = s.los_sigma_rad**-2
            obs.z[i, :3] = m.los  # the unit line of sight; h_ir compares in a tangent plane
    return obs


def measure(obs: Observations, r: F64, v: F64, los0: F64 | None = None) -> F64:
    """Noise-free measurements (..., n, 4) of ECEF states r, v (..., n, 3).

    Infrared rows give tangent-plane coordinates in the frame of the unit lines of sight
    los0 (n, 3) (default: those of r), in which the noise is exactly N(0, sigma^2).
    """
    d = r - obs.origin
    enu = np.einsum("nij,...nj->...ni", obs.basis, d)
    rng = np.linalg.norm(d, axis=-1)
    az = np.arctan2(enu[..., 0], enu[..., 1])
    el = np.arctan2(enu[..., 2], np.hypot(enu[..., 0], enu[..., 1]))
    rate = np.einsum("...i,...i->...", d, v) / rng
    u0 = d / rng[..., None] if los0 is None else los0
    e1, e2 = perpendicular_basis(np.broadcast_to(u0, d.shape).reshape(-1, 3))
    e1, e2 = e1.reshape(d.shape), e2.reshape(d.shape)
    along = np.einsum("...i,...i->...", d, u0)
    t1 = np.einsum("...i,...i->...", d, e1) / along
    t2 = np.einsum("...i,...i->...", d, e2) / along
    zero = np.zeros_like(rng)
    radar = np.stack([rng, az, el, rate], axis=-1)
    infra = np.stack([t1, t2, zero, zero], axis=-1)
    return np.asarray(np.where(obs.radar[:, None], radar, infra), float)


def residual(obs: Observations, h: F64, z: F64 | None = None) -> F64:
    """z - h (..., n, 4) with azimuth wrapped to (-pi, pi] and unmeasured entries 0.

    z defaults to obs.z (radar rows only: infrared rows need tangent-plane coordinates).
    """
    zz = obs.z if z is None else z
    dz = np.where(obs.inv_var > 0, np.nan_to_num(zz) - h, 0.0)
    dz[..., 1] = np.where(obs.radar, np.angle(np.exp(1j * dz[..., 1])), dz[..., 1])
    return np.asarray(dz, float)


def propagate(
    t_ref: float,
    x: F64,
    beta: float,
    times: F64,
    log_beta: F64 | None = None,
    t_stop: float = np.inf,
) -> tuple[F64, F64, F64]:
    """ECEF r, v (m, n, 3) at times (n,) and ECEF impact points (m, 3) of ECI states x (m, 6).

    One batched coast to the surface (or to t_stop, and then the impact points are NaN);
    states between integrator steps are the cubic Hermite interpolation of
    ObjectTrack.state_at (how the truth itself is sampled). NaN where a row has landed.
    """
    b = beta * np.exp(np.zeros(len(x)) if log_beta is None else log_beta)
    arcs = coast(t_ref, x[:, :3], x[:, 3:], t_stop, model=FULL_PHYSICS, beta=b)
    rs, vs, imp = [], [], []
    for a in arcs:
        re, ve = eci_to_ecef(a.t, a.r, a.v)
        track = ObjectTrack("x", "x", "x", "rv", a.t, re, ve, np.zeros(len(a.t), bool))
        r, v, _, _ = track.state_at(times)
        rs.append(r)
        vs.append(v)
        imp.append(re[-1] if a.at_surface else np.full(3, np.nan))
    return np.array(rs), np.array(vs), np.array(imp)


def steps(with_beta: bool) -> F64:
    """Central-difference step of each parameter (also the scaling of the information)."""
    s = [STEP_POS_M] * 3 + [STEP_VEL_MPS] * 3 + ([STEP_LOG_BETA] if with_beta else [])
    return np.array(s)


def jacobians(
    track: ObjectTrack, obs: Observations, t_ref: float, beta: float, with_beta: bool
) -> tuple[F64, F64, F64, NDArray[np.bool_]]:
    """H (n, 4, p), G (2, p), nominal impact (3,) and which detections are usable.

    Parameters are the ECI state at t_ref (and log beta). All 2p + 1 perturbed states
    are propagated in one coast call; a detection is unusable only if a perturbed row
    has already landed at its time (the last milliseconds before impact).
    """
    r0, v0, _, alive = track.state_at(np.array([t_ref]))
    if not alive[0]:
        raise ValueError(f"{track.object_id} does not exist at t_ref = {t_ref}")
    ri, vi = ecef_to_eci(t_ref, r0[0], v0[0])
    step = steps(with_beta)
    p = len(step)
    x = np.tile(np.r_[ri, vi, 0.0], (2 * p + 1, 1))
    x[1 : p + 1, :p] += np.diag(step)
    x[p + 1 :, :p] -= np.diag(step)
    r, v, imp = propagate(t_ref, x[:, :6], beta, obs.t, x[:, 6])
    ok = np.all(np.isfinite(r[..., 0]), axis=0)
    d0 = r[0] - obs.origin
    los0 = d0 / np.linalg.norm(d0, axis=-1, keepdims=True)
    h = measure(obs, np.nan_to_num(r), np.nan_to_num(v), np.nan_to_num(los0))
    dh = h[1 : p + 1] - h[p + 1 :]
    dh[..., 1] = np.angle(np.exp(1j * dh[..., 1]))  # azimuth through north
    H = np.moveaxis(dh / (2.0 * step[:, None, None]), 0, -1)
    en = enu_basis(*ecef_to_geodetic(imp[0])[:2])[:2]
    G = en @ ((imp[1 : p + 1] - imp[p + 1 :]) / (2.0 * step[:, None])).T
    return np.where(ok[:, None, None], H, 0.0), G, imp[0], ok


def information_bound(
    t_obs: F64, H: F64, inv_var: F64, G: F64, times: F64, prior_info: F64
) -> tuple[F64, NDArray[np.intp]]:
    """G J(t)^-1 G' (m, q, q) at each of times, and how many rows of t_obs each counts.

    The linear core of the bound, checked in closed form in the tests: J(t) is the prior
    information prior_info (p, p) plus sum over t_k <= t of H_k' diag(inv_var_k) H_k, with
    H (n, c, p) the measurement Jacobians and G (q, p) that of the predicted quantity.
    Information too ill-conditioned to invert (MAX_CONDITION) gives inf.
    """
    info = np.einsum("nci,nc,ncj->nij", H, inv_var, H)
    cum = np.concatenate([np.zeros((1, *info.shape[1:])), np.cumsum(info, axis=0)])
    k = np.searchsorted(t_obs, times, side="right")
    J = cum[k] + prior_info
    good = np.linalg.cond(J) < MAX_CONDITION
    cov = np.full((len(times), len(G), len(G)), np.inf)
    if good.any():
        sol = np.linalg.solve(J[good], np.broadcast_to(G.T, (int(good.sum()), *G.T.shape)))
        cov[good] = G @ sol
    return cov, k


def bound(
    track: ObjectTrack,
    obs: Observations,
    t_ref: float,
    beta: float,
    times: ArrayLike,
    beta_log_sigma: float | None = None,
) -> ImpactBound:
    """The impact-point CRLB at each of times from the detections obs (t >= t_ref).

    beta_log_sigma None: beta known (6 parameters); else log beta is a 7th parameter
    with a N(0, beta_log_sigma^2) prior (a Bayesian bound: the prior is its only
    information until the object is in the air). Its prior information 1/sigma^2 is that
    of the tracker's log-normal prior whatever its median: the bound (Van Trees) is on the
    error averaged over beta drawn from the prior, so it does not charge a prior median
    far from this object's beta (see docs/BENCHMARKS.md, Tracking).
    """
    obs = obs.take(obs.t >= t_ref)
    with_beta = beta_log_sigma is not None
    H, G, imp, ok = jacobians(track, obs, t_ref, beta, with_beta)
    step = steps(with_beta)
    prior = np.zeros((len(step), len(step)))
    if beta_log_sigma is not None:
        prior[-1, -1] = (step[-1] / beta_log_sigma) ** 2
    tq = np.atleast_1d(np.asarray(times, float))
    # scaled parameters (all of order one per step) keep the information well conditioned
    cov, k = information_bound(obs.t, H * step, obs.inv_var, G * step, tq, prior)
    rms = np.sqrt(np.trace(cov, axis1=1, axis2=2))
    n_used = np.cumsum(np.r_[0, ok.astype(np.intp)])[k]
    return ImpactBound(tq, rms, cov, n_used, float(t_ref), imp)


def _inputs(
    source: Path | Simulation,
) -> tuple[list[Measurement], list[Label], SensorCatalogue, Truth, Scenario]:
    """Measurements, labels, sensors, truth and scenario of a run directory or simulation."""
    if isinstance(source, Simulation):
        records, labs = measurement_records(source.batches)
        sc = source.scenario
        return records, labs, sensor_catalogue(sc.sensors, sc.epoch), source.truth, sc
    meas: list[Measurement] = list(
        iter_jsonl(source / FILES["measurements"], Measurement)  # type: ignore[arg-type]
    )
    labels = list(iter_jsonl(source / FILES["labels"], Label))
    cat = read_json(source / FILES["sensors"], SensorCatalogue)
    truth = read_truth(source / FILES["truth"], source / FILES["events"])
    return meas, labels, cat, truth, load_scenario(source / FILES["scenario"])


def impact_bound(
    source: Path | Simulation,
    object_id: str,
    times: ArrayLike,
    t_ref: float | None = None,
    beta_log_sigma: float | None = None,
) -> ImpactBound:
    """Impact-point CRLB of an RV of a run directory or a Simulation, at times.

    t_ref defaults to the first radar detection of the object at least one truth interval
    after its flight's burnout: then even the 1 s samples of a run directory's truth.jsonl
    interpolate the state at t_ref without the burnout's kink (which costs m/s otherwise).
    """
    meas, labels, cat, truth, sc = _inputs(source)
    track = truth.object(object_id)
    flight = next(f for f in sc.flights() if f.id == track.flight_id)
    beta = VEHICLES[flight.vehicle_class].payload_beta
    t_burn = next(e.t for e in truth.events_of("burnout") if e.flight_id == track.flight_id)
    obs = observations(meas, labels, cat, object_id)
    obs = obs.take(obs.t >= t_burn)
    if t_ref is None:
        late = obs.radar & (obs.t >= t_burn + sc.truth_interval_s)
        if not late.any():
            raise ValueError(f"{object_id} has no radar detection after burnout")
        t_ref = float(obs.t[late][0])
    return bound(track, obs, t_ref, beta, times, beta_log_sigma)
