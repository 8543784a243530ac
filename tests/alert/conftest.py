"""The shipped IRBM scenario simulated and tracked once per session (estimates for alerting)."""

from __future__ import annotations

import fcntl
import pickle
from pathlib import Path

import pytest
from alert_support import TrackedRun

from warnlink.alert.run import find_epoch
from warnlink.formats.jsonl import iter_jsonl
from warnlink.formats.records import Estimate
from warnlink.scenario.load import load_scenario
from warnlink.sim.run import simulate, write_run
from warnlink.track.run import run_tracker

ROOT = Path(__file__).resolve().parents[2]


def _make(out: Path) -> TrackedRun:
    sim = simulate(load_scenario(ROOT / "scenarios" / "irbm-northern-japan.toml"))
    paths = write_run(sim, out)
    est = out / "estimates.jsonl"
    run_tracker(paths["sensors"], paths["measurements"], est)
    return TrackedRun(out, est, list(iter_jsonl(est, Estimate)), find_epoch(est))


@pytest.fixture(scope="session")
def irbm_run(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> TrackedRun:
    """Simulate + track irbm-northern-japan once (shared by xdist workers through a lock)."""
    if worker_id == "master":
        return _make(tmp_path_factory.mktemp("irbm"))
    shared = tmp_path_factory.getbasetemp().parent
    with open(shared / "alert-irbm.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        pkl = shared / "alert-irbm.pkl"
        if pkl.exists():
            run: TrackedRun = pickle.loads(pkl.read_bytes())
            return run
        run = _make(shared / "alert-irbm")
        pkl.write_bytes(pickle.dumps(run))
        return run
