"""Fill numba's on-disk cache of the tracker's compiled kernels and of the alerting's
compiled coast (`make install`).

A process that finds no cache compiles them first, about 13 s of CPU: on a fresh checkout
that lands inside the first test or exercise party that tracks. Tracking the first few
thousand measurements of a shipped scenario takes every kernel through its compile once;
one flown state compiles track.coast_path.
numba notices a change to a kernel's own file, not to a kernel in another module that it
calls (ukf's and coast_path's inline models'), so warm first deletes every cached kernel
of the package: after editing a kernel, run it again.
Usage: python -m warnlink.track.warm SCENARIO.toml
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from warnlink.formats.measurement_files import measurement_records, sensor_catalogue
from warnlink.scenario.load import load_scenario
from warnlink.sim.run import simulate
from warnlink.track.coast_path import coast_path
from warnlink.track.tracker import Tracker

MEASUREMENTS = 3000


def main(scenario_path: Path) -> None:
    start = time.process_time()
    for cached in (Path(__file__).parent / "__pycache__").glob("*.nb[ic]"):
        cached.unlink()
    scenario = load_scenario(scenario_path)
    measurements, _ = measurement_records(simulate(scenario).batches)
    tracker = Tracker(sensor_catalogue(scenario.sensors, scenario.epoch))
    tracker.process(measurements[:MEASUREMENTS])
    tracker.finish()
    coast_path(0.0, [[7e6, 0.0, 0.0]], [[0.0, 7.5e3, 0.0]], 1e-3, [0.0, 10.0])
    print(f"tracker kernels compiled and cached ({time.process_time() - start:.1f} s CPU)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
