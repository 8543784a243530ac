"""Shared fixtures of the fusion tests: a shipped scenario simulated once, each party's own
tracker run on its own sensors (warnlink.fusion.replay), and pictures made from it."""

from __future__ import annotations

import fcntl
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
from fusion_support import Replayed

from warnlink.formats.measurement_files import measurement_records, sensor_catalogue
from warnlink.fusion.replay import replay
from warnlink.scenario.load import load_scenario
from warnlink.sim.run import simulate

ROOT = Path(__file__).resolve().parents[2]
# scenario stem -> end of the replayed window (scenario s): the warning-relevant part of
# the flights, so the suite stays within its time budget
WINDOWS = {"irbm-northern-japan": 300.0, "srbm-salvo-east-sea": 220.0}


def _replay(stem: str) -> Replayed:
    scenario = load_scenario(ROOT / "scenarios" / f"{stem}.toml")
    sim = simulate(scenario)
    measurements, labels = measurement_records(sim.batches)
    catalogue = sensor_catalogue(scenario.sensors, scenario.epoch)
    run = replay(catalogue, measurements, t_stop=WINDOWS[stem])
    return Replayed(sim.truth, {lb.id: lb.object for lb in labels}, run)


@pytest.fixture(scope="session")
def replayed(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Callable[[str], Replayed]:
    """Replays of shipped scenarios by file stem, each computed once per test session.

    Under pytest-xdist the workers share one replay through a locked pickle in the
    session's temporary directory (as tests/track does), so that no scenario is tracked
    once per worker.
    """
    cache: dict[str, Replayed] = {}
    shared = None if worker_id == "master" else tmp_path_factory.getbasetemp().parent

    def get(stem: str) -> Replayed:
        if stem not in cache:
            if shared is None:
                cache[stem] = _replay(stem)
                return cache[stem]
            with open(shared / f"fusion-{stem}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                pkl = shared / f"fusion-{stem}.pkl"
                if pkl.exists():
                    cache[stem] = pickle.loads(pkl.read_bytes())
                else:
                    cache[stem] = _replay(stem)
                    pkl.write_bytes(pickle.dumps(cache[stem]))
        return cache[stem]

    return get
