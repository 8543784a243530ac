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

Detections before t_ref (the boost, seen by radar and infrared, which the tracker uses
too) count through the flight's own powered dynamics (warnlink.physics.ascent): open-loop
steering in a fixed plane and constant thrust and mass flow per stage, so the thrust is a
function of time and of a few numbers no tracker knows: per burn its thrust and mass flow,
and the steering's pitch and yaw offsets (at launch, and their change to burnout). Those
are nuisance parameters with weak priors (THRUST_LOG_SIGMA, STEERING_SIGMA_RAD), and
H_k = dh_k/dx(t_k) Phi(t_k, t_ref), Phi (state, ln beta and the nuisance) from the
variational equations along the truth, integrated back from t_ref. The staging times are
taken as known, and every other detail of the truth's program is exact: more than a
tracker knows, so still a lower bound; with the priors at 0 it is the bound of a known
thrust program (far below what a tracker with no template of the missile can reach).
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
from warnlink.physics.ascent import stack_segments
from warnlink.physics.dynamics import FULL_PHYSICS, acceleration
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
VARIATIONAL_STEP_S = 0.5  # RK4 step of Phi: the truth's dynamics change on seconds
# The thrust program's unknowns (per burn: ln thrust, ln mass flow; steering: pitch and yaw
# offsets at launch and at burnout) have weak priors: a defender knows the missile's form,
# not its numbers. STEP_NUISANCE only scales them for conditioning.
THRUST_LOG_SIGMA = 0.5
STEERING_SIGMA_RAD = 0.2
STEP_NUISANCE = 0.01
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


@dataclass(frozen=True)
class Ascent:
    """The drag schedule of an object before t_ref: Cd·A and mass of its stack per segment
    of the open-loop schedule (absolute times; the last, endless one is the payload's)."""

    starts: F64  # (s,)
    ends: F64  # (s,)
    mass0_kg: F64  # (s,) at the segment's start
    mdot: F64  # (s,)
    cda_m2: F64  # (s,)
    thrust_n: F64  # (s,)

    @classmethod
    def of(cls, vehicle_class: str, t_launch: float, t_burnout: float) -> Ascent:
        """The schedule of a flight cut off at its burnout (the truth's burnout event)."""
        segs = stack_segments(VEHICLES[vehicle_class], t_burnout - t_launch)
        ends = t_launch + np.array([s.end_s for s in segs])
        return cls(
            np.r_[t_launch, ends[:-1]], ends, np.array([s.mass0_kg for s in segs]),
            np.array([s.mdot for s in segs]), np.array([s.cda_m2 for s in segs]),
            np.array([s.thrust_n for s in segs]),
        )  # fmt: skip

    @property
    def burns(self) -> NDArray[np.intp]:
        """Indices of the segments that thrust."""
        return np.flatnonzero(self.thrust_n > 0.0)

    def nuisance_sigmas(self) -> F64:
        """Prior sigmas (m,) of the thrust program's unknowns, in variational order."""
        n = len(self.burns)
        out: F64 = np.r_[np.full(2 * n, THRUST_LOG_SIGMA), np.full(4, STEERING_SIGMA_RAD)]
        return out

    def inverse_beta(self, t: F64) -> tuple[F64, NDArray[np.bool_]]:
        """Cd·A/m (n,) at times t (n,), and whether the payload flies alone (its beta)."""
        i = self.segment(t)
        return self.cda_m2[i] / self.mass(t, i), i == len(self.ends) - 1

    def segment(self, t: F64) -> NDArray[np.intp]:
        """Index of the segment (n,) holding each of times t (n,); an end belongs to its own."""
        return np.minimum(np.searchsorted(self.ends, t, side="left"), len(self.ends) - 1)

    def mass(self, t: F64, i: NDArray[np.intp]) -> F64:
        out: F64 = self.mass0_kg[i] - self.mdot[i] * (t - self.starts[i])
        return out


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


def variational_matrices(track: ObjectTrack, ascent: Ascent, t: F64) -> F64:
    """A (n, d, d) = d(dx/dt)/dx along the truth at times t, x = the ECI state, ln beta
    and the thrust program's unknowns (d = 7 + m, constants but for the state).

    Gravity and drag (the stack's Cd·A/m of the moment, the payload's scaled by
    exp(-ln beta)) by central differences. The thrust acceleration a_T is the truth's
    acceleration less gravity and drag; its sensitivities: a_T per ln thrust, a_T mdot
    tau / m(tau) per ln mass flow, |a_T| across it in the plane of flight (pitch) and
    out of it (yaw), the offsets and their growth to burnout.
    """
    re, ve, _, alive = track.state_at(t)
    if not alive.all():
        raise ValueError(f"{track.object_id} does not exist over [{t.min()}, {t.max()}]")
    r, v = ecef_to_eci(t, re, ve)
    k, payload = ascent.inverse_beta(t)
    beta = 1.0 / k
    burns = ascent.burns
    m = 2 * len(burns) + 4
    out = np.zeros((len(t), 7 + m, 7 + m))
    out[:, :3, 3:6] = np.eye(3)
    for j in range(6):
        step = STEP_POS_M if j < 3 else STEP_VEL_MPS
        dx = np.zeros(6)
        dx[j] = step
        da = acceleration(r + dx[:3], v + dx[3:], beta) - acceleration(r - dx[:3], v - dx[3:], beta)
        out[:, 3:6, j] = da / (2.0 * step)
    free = acceleration(r, v, beta)
    out[:, 3:6, 6] = np.where(payload[:, None], acceleration(r, v) - free, 0.0)
    seg = ascent.segment(t)
    on = np.isin(seg, burns) & (t < ascent.ends[seg])
    if not on.any():
        return out
    a_thrust = np.where(on[:, None], _truth_acceleration(track, t) - free, 0.0)
    size = np.linalg.norm(a_thrust, axis=1, keepdims=True)
    u = a_thrust / np.maximum(size, 1e-12)
    ends = np.flatnonzero(on)[[0, -1]]
    normal = np.cross(u[ends[0]], u[ends[1]])
    normal = normal / max(float(np.linalg.norm(normal)), 1e-12)  # no pitch: no plane
    pitch = np.cross(normal, u) * size
    yaw = normal[None] * size
    tau = t - ascent.starts[seg]
    flow = ascent.mdot[seg] * tau / ascent.mass(t, seg)
    for b, i in enumerate(burns.tolist()):
        here = (seg == i)[:, None] & on[:, None]
        out[:, 3:6, 7 + 2 * b] = np.where(here, a_thrust, 0.0)
        out[:, 3:6, 8 + 2 * b] = np.where(here, a_thrust * flow[:, None], 0.0)
    s_burn = np.clip((t - ascent.starts[0]) / (ascent.ends[burns[-1]] - ascent.starts[0]), 0, 1)
    c = 7 + 2 * len(burns)
    out[:, 3:6, c], out[:, 3:6, c + 1] = pitch, pitch * s_burn[:, None]
    out[:, 3:6, c + 2], out[:, 3:6, c + 3] = yaw, yaw * s_burn[:, None]
    return out


def _truth_acceleration(track: ObjectTrack, t: F64, dt: float = 1e-3) -> F64:
    """ECI acceleration (n, 3) of the truth at times t, by a difference of its velocity
    (inside the track's span, so that the first instant on the pad has one too)."""
    lo, hi = track.t_start + dt, track.t_end - dt
    tc = np.clip(t, lo, hi)
    _, v1 = ecef_to_eci(tc + dt, *track.state_at(tc + dt)[:2])
    _, v0 = ecef_to_eci(tc - dt, *track.state_at(tc - dt)[:2])
    return np.asarray((v1 - v0) / (2.0 * dt), float)


def transition(track: ObjectTrack, ascent: Ascent, t_ref: float, times: F64) -> F64:
    """Phi (n, d, d) = d(ECI state, ln beta, thrust unknowns at times)/d(the same at t_ref),
    times <= t_ref (variational_matrices).

    RK4 of dPhi/dt = A Phi back from t_ref in equal steps of at most VARIATIONAL_STEP_S,
    A along the truth; Phi at the detections is interpolated linearly between steps (it
    changes on the scale of the dynamics, seconds to minutes).
    """
    span = t_ref - float(times.min())
    n = max(1, int(np.ceil(span / VARIATIONAL_STEP_S)))
    h = span / n
    A = variational_matrices(track, ascent, t_ref - 0.5 * h * np.arange(2.0 * n + 1))
    d = A.shape[-1]
    nodes = np.empty((n + 1, d, d))
    nodes[0] = phi = np.eye(d)
    for j in range(n):
        a0, am, a1 = A[2 * j], A[2 * j + 1], A[2 * j + 2]
        k1 = a0 @ phi
        k2 = am @ (phi - 0.5 * h * k1)
        k3 = am @ (phi - 0.5 * h * k2)
        k4 = a1 @ (phi - h * k3)
        phi = phi - h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        nodes[j + 1] = phi
    u = (t_ref - times) / h
    i = np.minimum(u.astype(np.intp), n - 1)
    f = (u - i)[:, None, None]
    return np.asarray((1.0 - f) * nodes[i] + f * nodes[i + 1], float)


def jacobians_before(
    track: ObjectTrack, obs: Observations, t_ref: float, ascent: Ascent, with_beta: bool
) -> F64:
    """H (n, 4, p) of detections obs before t_ref with respect to the parameters at t_ref
    (the state, ln beta if with_beta, the thrust program's unknowns): dh/dx(t_k) (central
    differences about the truth) times Phi(t_k, t_ref)."""
    re, ve, _, _ = track.state_at(obs.t)
    r, v = ecef_to_eci(obs.t, re, ve)
    step = steps(False)
    dx = np.concatenate([np.zeros((1, 6)), np.diag(step), -np.diag(step)])
    r_p = r[None] + dx[:, None, :3]
    v_p = v[None] + dx[:, None, 3:]
    rp, vp = eci_to_ecef(obs.t, r_p, v_p)
    d0 = rp[0] - obs.origin
    h = measure(obs, rp, vp, d0 / np.linalg.norm(d0, axis=-1, keepdims=True))
    dh = h[1:7] - h[7:]
    dh[..., 1] = np.angle(np.exp(1j * dh[..., 1]))  # azimuth through north
    local = np.moveaxis(dh / (2.0 * step[:, None, None]), 0, -1)  # (n, 4, 6)
    phi = transition(track, ascent, t_ref, obs.t)
    cols = [*range(6 + with_beta), *range(7, phi.shape[-1])]
    return np.asarray(local @ phi[:, :6][..., cols], float)


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
    ascent: Ascent | None = None,
) -> ImpactBound:
    """The impact-point CRLB at each of times from the detections obs.

    beta_log_sigma None: beta known (6 parameters); else log beta is a 7th parameter
    with a N(0, beta_log_sigma^2) prior (a Bayesian bound: the prior is its only
    information until the object is in the air). Its prior information 1/sigma^2 is that
    of the tracker's log-normal prior whatever its median: the bound (Van Trees) is on the
    error averaged over beta drawn from the prior, so it does not charge a prior median
    far from this object's beta (see docs/BENCHMARKS.md, Tracking).
    ascent: the object's drag schedule before t_ref; with it the detections before t_ref
    count (through Phi), without it only those at t >= t_ref.
    """
    if ascent is None:
        obs = obs.take(obs.t >= t_ref)
    with_beta = beta_log_sigma is not None
    early = obs.t < t_ref
    H, G, imp, ok = jacobians(track, obs.take(~early), t_ref, beta, with_beta)
    step = steps(with_beta)
    prior_sigma = np.full(len(step), np.inf)
    if beta_log_sigma is not None:
        prior_sigma[-1] = beta_log_sigma
    if early.any():
        assert ascent is not None
        before = jacobians_before(track, obs.take(early), t_ref, ascent, with_beta)
        m = before.shape[-1] - H.shape[-1]  # the thrust program's unknowns
        H = np.concatenate([before, np.pad(H, ((0, 0), (0, 0), (0, m)))])
        G = np.pad(G, ((0, 0), (0, m)))
        ok = np.r_[np.ones(int(early.sum()), bool), ok]
        step = np.r_[step, np.full(m, STEP_NUISANCE)]
        prior_sigma = np.r_[prior_sigma, ascent.nuisance_sigmas()]
    prior = np.diag((step / prior_sigma) ** 2)
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
    boost: bool = True,
) -> ImpactBound:
    """Impact-point CRLB of an RV of a run directory or a Simulation, at times.

    t_ref defaults to the first radar detection of the object at least one truth interval
    after its flight's burnout: then even the 1 s samples of a run directory's truth.jsonl
    interpolate the state at t_ref without the burnout's kink (which costs m/s otherwise).
    boost: count every detection since launch (through the flight's powered dynamics),
    as a tracker may; False: only those from t_ref on (the bound of a tracker that starts
    after burnout knowing nothing, which is no bound for one that saw the boost).
    """
    meas, labels, cat, truth, sc = _inputs(source)
    track = truth.object(object_id)
    flight = next(f for f in sc.flights() if f.id == track.flight_id)
    beta = VEHICLES[flight.vehicle_class].payload_beta
    t_burn = next(e.t for e in truth.events_of("burnout") if e.flight_id == track.flight_id)
    obs = observations(meas, labels, cat, object_id)
    if t_ref is None:
        late = obs.radar & (obs.t >= t_burn + sc.truth_interval_s)
        if not late.any():
            raise ValueError(f"{object_id} has no radar detection after burnout")
        t_ref = float(obs.t[late][0])
    if not boost:
        obs = obs.take(obs.t >= t_ref)
    ascent = Ascent.of(flight.vehicle_class, flight.time_s, t_burn)
    return bound(track, obs, t_ref, beta, times, beta_log_sigma, ascent)
