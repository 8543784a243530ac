"""Tracker speed on salvo20, CPU time, old code against new in alternation.

The machine is shared and its speed drifts within minutes, so a before/after figure is
only worth the ratio of runs interleaved in one session. salvo20 is simulated once; each
run is a fresh process importing warnlink from the given source tree (PYTHONPATH), so
the old tree may be a `git worktree` of an earlier commit. By default a run times
Tracker.process alone; with --estimates it times `warnlink track` (run_tracker on the
written measurement file: the tracker, launch and impact estimates, the JSON), after
Tracker.process alone in the same process, and both rates are printed.
Usage: python bench/tracker_ab.py [--estimates] OLD_SRC NEW_SRC [PAIRS]
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
from warnlink.sim.run import simulate, write_run

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
# --estimates: the same, then `warnlink track` on the run directory sys.argv[2]
RUN_ESTIMATES = (
    RUN
    + """
from pathlib import Path
from warnlink.track.run import run_tracker
run_dir = Path(sys.argv[2])
c0 = time.process_time()
run_tracker(run_dir / "sensors.json", run_dir / "measurements.jsonl", run_dir / "estimates.jsonl")
print(len(measurements) / (time.process_time() - c0))
"""
)


def rates(src: str, data: Path, run_dir: Path | None) -> list[float]:
    """Measurements/s of one run: [tracker alone] or [tracker alone, with estimates]."""
    env = dict(os.environ, PYTHONPATH=str(Path(src).resolve()))
    code, args = (
        (RUN, [str(data)]) if run_dir is None else (RUN_ESTIMATES, [str(data), str(run_dir)])
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, check=True, capture_output=True, text=True
    )
    return [float(x) for x in out.stdout.split()]


def report(name: str, before: list[float], after: list[float]) -> None:
    b, a = statistics.median(before), statistics.median(after)
    ratios = [y / x for x, y in zip(before, after, strict=True)]
    print(f"{name}: medians before {b:,.0f}/s, after {a:,.0f}/s; ratio of medians {a / b:.2f},")
    print(f"  per pair {min(ratios):.2f} to {max(ratios):.2f}")


def main(old: str, new: str, pairs: int, estimates: bool) -> None:
    scenario = load_scenario(SALVO20)
    sim = simulate(scenario)
    measurements, _ = measurement_records(sim.batches)
    catalogue = sensor_catalogue(scenario.sensors, scenario.epoch)
    names = ["Tracker.process alone", "warnlink track (with estimates)"][: 2 if estimates else 1]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "salvo20.pkl"
        data.write_bytes(pickle.dumps((measurements, catalogue)))
        run_dir = Path(tmp) / "run" if estimates else None
        if run_dir is not None:
            write_run(sim, run_dir)
        before: list[list[float]] = []
        after: list[list[float]] = []
        for i in range(pairs):
            before.append(rates(old, data, run_dir))
            after.append(rates(new, data, run_dir))
            cells = ", ".join(
                f"{n} before {b:,.0f}/s after {a:,.0f}/s"
                for n, b, a in zip(names, before[-1], after[-1], strict=True)
            )
            print(f"pair {i + 1}: {cells}", flush=True)
    print(f"{len(measurements):,} measurements")
    for j, name in enumerate(names):
        report(name, [b[j] for b in before], [a[j] for a in after])


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--estimates"]
    main(args[0], args[1], int(args[2]) if len(args) > 2 else 5, "--estimates" in sys.argv[1:])
