"""Simulate a scenario (fly, observe) and write the run directory of docs/formats.md."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from warnlink import __version__
from warnlink.formats.jsonl import write_json, write_jsonl
from warnlink.formats.measurement_files import measurement_records, sensor_catalogue
from warnlink.formats.records import Manifest
from warnlink.formats.truth_files import write_truth
from warnlink.physics.flight import fly
from warnlink.physics.truth import Truth
from warnlink.scenario.model import Scenario
from warnlink.sensors.batch import MeasurementBatch
from warnlink.sensors.observe import observe

FILES = {
    "truth": "truth.jsonl",
    "events": "events.jsonl",
    "measurements": "measurements.jsonl",
    "labels": "labels.jsonl",
    "sensors": "sensors.json",
    "scenario": "scenario.toml",
    "manifest": "manifest.json",
}

Step = Callable[[str], None]


@dataclass
class Simulation:
    scenario: Scenario
    truth: Truth
    batches: list[MeasurementBatch]
    t_end: float
    timings_s: dict[str, float] = field(default_factory=dict)


def simulate(scenario: Scenario, step: Step = lambda _: None) -> Simulation:
    """Fly every launch and observe it with every sensor, seeded by the scenario."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    step("flying launches (targeting and propagation)")
    truth = fly(scenario.flights(), t_end=scenario.duration_s)
    timings["fly"] = time.perf_counter() - t0
    t_end = (
        scenario.duration_s
        if scenario.duration_s is not None
        else max((o.t_end for o in truth.objects), default=0.0)
    )
    # no launches: the sensors see only clutter, from t = 0
    t_start = min((launch.time_s for launch in scenario.launches), default=0.0)
    step(f"observing with {len(scenario.sensors)} sensors")
    t1 = time.perf_counter()
    rng = np.random.default_rng(scenario.seed)
    batches = observe(scenario.sensors, truth, t_start, t_end, rng)
    timings["observe"] = time.perf_counter() - t1
    return Simulation(scenario, truth, batches, t_end, timings)


def write_run(sim: Simulation, out_dir: Path, step: Step = lambda _: None) -> dict[str, Path]:
    """Write truth, events, measurements, labels, sensor catalogue, scenario and manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {k: out_dir / name for k, name in FILES.items()}
    sc = sim.scenario
    step("writing truth")
    n_truth = write_truth(sim.truth, paths["truth"], paths["events"], sc.truth_interval_s)
    step("writing measurements")
    measurements, labels = measurement_records(sim.batches)
    write_jsonl(paths["measurements"], measurements)
    write_jsonl(paths["labels"], labels)
    write_json(paths["sensors"], sensor_catalogue(sc.sensors, sc.epoch))
    if sc.path.resolve() != paths["scenario"].resolve():
        shutil.copyfile(sc.path, paths["scenario"])
    counts = {
        "objects": len(sim.truth.objects),
        "events": len(sim.truth.events),
        "truth_samples": n_truth,
        "measurements": len(measurements),
        "false_alarms": sum(1 for lab in labels if lab.object is None),
    }
    write_json(
        paths["manifest"],
        Manifest(
            warnlink_version=__version__,
            scenario=sc.name,
            epoch=sc.epoch.isoformat(),
            seed=sc.seed,
            t_end=sim.t_end,
            files=dict(FILES),
            counts=counts,
        ),
    )
    return paths
