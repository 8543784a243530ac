"""Tracker.process alone on salvo20, CPU time, old code against new in alternation.

The machine is shared and its speed drifts within minutes, so a before/after figure is
only worth the ratio of runs interleaved in one session. salvo20 is simulated once; each
run is a fresh process importing warnlink from the given source tree (PYTHONPATH), so
the old tree may be a `git worktree` of an earlier commit.
Usage: python bench/tracker_ab.py OLD_SRC NEW_SRC [PAIRS]   (e.g. /tmp/wt-base/src src)
"""

from __future__ import annotations

import os
import pickle
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from warnlink.formats.measurement_files import measurement_records, sensor_catalogue
from warnlink.scenario.load import load_scenario
from warnlink.sim.run import simulate

SALVO20 = Path(__file__).resolve().parent / "salvo20.toml"
# one run: the measurement rate of Tracker.process and finish, as the speed part of
# bench_tracking times it
RUN = """
import pickle, sys, time
from warnlink.track.tracker import Tracker
measurements, catalogue = pickle.load(open(sys.argv[1], "rb"))
tracker = Tracker(catalogue)
c0 = time.process_time()
tracker.process(measurements)
tracker.finish()
print(len(measurements) / (time.process_time() - c0))
"""


def rate(src: str, data: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(Path(src).resolve()))
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(data)], env=env, check=True, capture_output=True, text=True
    )
    return float(out.stdout)


def main(old: str, new: str, pairs: int) -> None:
    scenario = load_scenario(SALVO20)
    measurements, _ = measurement_records(simulate(scenario).batches)
    catalogue = sensor_catalogue(scenario.sensors, scenario.epoch)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "salvo20.pkl"
        data.write_bytes(pickle.dumps((measurements, catalogue)))
        before, after = [], []
        for i in range(pairs):
            before.append(rate(old, data))
            after.append(rate(new, data))
            print(f"pair {i + 1}: before {before[-1]:,.0f}/s, after {after[-1]:,.0f}/s", flush=True)
    b, a = statistics.median(before), statistics.median(after)
    ratios = [y / x for x, y in zip(before, after, strict=True)]
    print(f"{len(measurements):,} measurements; medians: before {b:,.0f}/s, after {a:,.0f}/s")
    print(f"ratio of medians {a / b:.2f}; per pair {min(ratios):.2f} to {max(ratios):.2f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 5)
