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

ROOT = Path(__file__).resolve().parents[2]
# scenario stem -> end of the replayed window (scenario s): the warning-relevant part of
# the flights, so the suite stays within its time budget
WINDOWS = {"irbm-northern-japan": 300.0, "srbm-salvo-east-sea": 220.0}


@pytest.fixture(scope="session")
def replayed() -> Callable[[str], Replayed]:
    """Replays of shipped scenarios by file stem, each computed once per test session."""
    cache: dict[str, Replayed] = {}

    def get(stem: str) -> Replayed:
        if stem not in cache:
            scenario = load_scenario(ROOT / "scenarios" / f"{stem}.toml")
            sim = simulate(scenario)
            measurements, labels = measurement_records(sim.batches)
            catalogue = sensor_catalogue(scenario.sensors, scenario.epoch)
            run = replay(catalogue, measurements, t_stop=WINDOWS[stem])
            cache[stem] = Replayed(sim.truth, {lb.id: lb.object for lb in labels}, run)
        return cache[stem]

    return get
