"""Shared fixtures of the fusion tests: a shipped scenario simulated once, each party's own
tracker run on its own sensors (warnlink.fusion.replay), and pictures made from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fusion_support import Replayed

from warnlink.formats.measurement_files import measurement_records, sensor_catalogue
from warnlink.fusion.replay import replay
from warnlink.scenario.load import load_scenario
from warnlink.sim.run import simulate
from worker_cache import shared_cache

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
    return shared_cache(tmp_path_factory, worker_id, "fusion", _replay)
