"""Every shipped scenario flies as asked: ballistic launches within 1 km, launchers to orbit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pymap3d.vincenty import vdist

from warnlink.physics.flight import fly
from warnlink.scenario.load import load_scenario

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml"))


def test_there_are_at_least_five_scenarios() -> None:
    assert len(SCENARIOS) >= 5


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_launch_reaches_its_target_or_orbit(path: Path) -> None:
    scenario = load_scenario(path)
    truth = fly(scenario.flights())
    impacts = {e.object_id: e for e in truth.events if e.kind == "impact"}
    orbits = {e.object_id: e for e in truth.events if e.kind == "orbit"}
    for f in scenario.flights():
        if f.vehicle_class == "slv":
            ev = orbits[f"{f.id}/SAT"]
            assert ev.details["perigee_alt_m"] > 150e3
            assert f.orbit_altitude_m is not None
            assert ev.details["perigee_alt_m"] == pytest.approx(f.orbit_altitude_m, rel=0.05)
            continue
        assert f.target_lat_deg is not None and f.target_lon_deg is not None
        hit = impacts[f"{f.id}/RV"]
        miss_m, _ = vdist(hit.lat_deg, hit.lon_deg, f.target_lat_deg, f.target_lon_deg)
        assert float(np.asarray(miss_m)) < 1000.0, f"{f.id} misses by {float(miss_m):.0f} m"
        assert abs(hit.alt_m) < 1.0
