"""Simulation speed: a 20-missile salvo seen by 10 sensors over 30 minutes.

Baselines measured in the same run:
- scaling: the same scenario with a single missile; a loop over missiles would cost ~20x,
  the vectorised batch should cost far less;
- an independent integrator: scipy's adaptive DOP853 (rtol 1e-11) propagating the same
  20 re-entry vehicles from burnout to impact one at a time with the same equations of
  motion, against our batched RK4: time ratio and the largest impact-point difference.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.integrate import solve_ivp

from warnlink.geo.frames import ecef_to_eci
from warnlink.physics.dynamics import FULL_PHYSICS, acceleration, height
from warnlink.physics.flight import fly
from warnlink.physics.propagate import coast
from warnlink.physics.vehicles import VEHICLES
from warnlink.scenario.load import load_scenario
from warnlink.scenario.model import Scenario
from warnlink.sim.run import simulate

SCENARIO = Path(__file__).resolve().parent / "salvo20.toml"
REPEATS = 3


def _timed(fn: Any, repeats: int = REPEATS) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _burnout_states(scenario: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    truth = fly(scenario.flights())
    burnouts = {e.flight_id: e.t for e in truth.events if e.kind == "burnout"}
    t0, r0, v0, beta = [], [], [], []
    for f in scenario.flights():
        obj = truth.object(f"{f.id}/RV")
        tb = burnouts[f.id] + 1.0  # just after separation: a pure coast from here
        r, v, _, _ = obj.state_at(np.array([tb]))
        ri, vi = ecef_to_eci(np.array([tb]), r, v)
        t0.append(tb)
        r0.append(ri[0])
        v0.append(vi[0])
        beta.append(VEHICLES[f.vehicle_class].payload_beta)
    return np.array(t0), np.array(r0), np.array(v0), np.array(beta)


def _dop853_impacts(t0: np.ndarray, r0: np.ndarray, v0: np.ndarray, beta: np.ndarray) -> np.ndarray:
    out = []
    for i in range(len(t0)):

        def rhs(_t: float, y: np.ndarray, b: float = float(beta[i])) -> np.ndarray:
            a = acceleration(y[None, :3], y[None, 3:], b, FULL_PHYSICS)[0]
            return np.concatenate([y[3:], a])

        def ground(_t: float, y: np.ndarray) -> float:
            return float(height(y[None, :3], FULL_PHYSICS)[0])

        ground.terminal = True  # type: ignore[attr-defined]
        ground.direction = -1  # type: ignore[attr-defined]
        sol = solve_ivp(
            rhs, (t0[i], t0[i] + 7200.0), np.concatenate([r0[i], v0[i]]), method="DOP853",
            rtol=1e-11, atol=1e-6, events=ground,
        )  # fmt: skip
        out.append(sol.y_events[0][0, :3])
    return np.array(out)


def run() -> dict[str, Any]:
    scenario = load_scenario(SCENARIO)
    t_sim, sim = _timed(lambda: simulate(scenario))
    n_meas = sum(len(b.t) for b in sim.batches)
    first = scenario.launches[0]
    single = dataclasses.replace(scenario, launches=(dataclasses.replace(first, salvo_count=1),))
    t_one, _ = _timed(lambda: simulate(single))

    t0, r0, v0, beta = _burnout_states(scenario)
    t_rk4, arcs = _timed(lambda: coast(t0, r0, v0, model=FULL_PHYSICS, beta=beta))
    t_dop, ref = _timed(lambda: _dop853_impacts(t0, r0, v0, beta), repeats=1)
    ours = np.array([a.r[-1] for a in arcs])
    assert all(a.at_surface for a in arcs)
    return {
        "flights": len(scenario.flights()),
        "objects": len(sim.truth.objects),
        "sensors": len(scenario.sensors),
        "simulated_span_s": sim.t_end,
        "measurements": n_meas,
        "simulate_s (fly + observe, median of 3)": round(t_sim, 3),
        "  of which fly_s / observe_s": [
            round(sim.timings_s["fly"], 3),
            round(sim.timings_s["observe"], 3),
        ],
        "baseline single-missile simulate_s": round(t_one, 3),
        "ratio 20 missiles / 1 missile (a loop would be ~20)": round(t_sim / t_one, 2),
        "coast 20 RVs burnout->impact, batched RK4_s": round(t_rk4, 3),
        "baseline scipy DOP853 one at a time_s": round(t_dop, 3),
        "speed-up batched RK4 vs DOP853": round(t_dop / t_rk4, 1),
        "max impact difference RK4 vs DOP853_m": round(float(np.abs(ours - ref).max()), 3),
    }
