"""Infrared false alarms alone, simulated by the sensor models, make no public alert."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from warnlink.alert.lifecycle import run_alerts
from warnlink.alert.policy import DEFAULT_POLICIES, policy_from_dict
from warnlink.formats.jsonl import iter_jsonl
from warnlink.formats.records import Estimate
from warnlink.scenario.load import load_scenario
from warnlink.scenario.model import InfraredSpec
from warnlink.sim.run import simulate, write_run
from warnlink.track.run import run_tracker

ROOT = Path(__file__).resolve().parents[2]
EPOCH = datetime(2023, 11, 21, 13, 42, tzinfo=UTC)


@pytest.fixture(scope="module")
def clutter(tmp_path_factory: pytest.TempPathFactory) -> list[Estimate]:
    """The satellite-launch scenario's two infrared satellites with no launch and 20
    times their clutter, for 20 minutes, simulated and tracked: tracks start (and may
    take plots from both satellites), but none is confirmed."""
    tmp_path = tmp_path_factory.mktemp("ir-clutter")
    sc = load_scenario(ROOT / "scenarios" / "slv-okinawa.toml")
    ir = tuple(
        replace(s, false_alarms_per_scan=20 * s.false_alarms_per_scan)
        for s in sc.sensors
        if isinstance(s, InfraredSpec)
    )
    assert len(ir) == 2
    paths = write_run(simulate(replace(sc, launches=(), sensors=ir, duration_s=1200.0)), tmp_path)
    run = run_tracker(paths["sensors"], paths["measurements"], tmp_path / "estimates.jsonl")
    assert len(run.tracks) > 500  # the clutter did start tracks
    assert not run.confirmed
    return list(iter_jsonl(tmp_path / "estimates.jsonl", Estimate))


@pytest.mark.parametrize("party", ["JP", "KR", "US"])
def test_infrared_false_alarms_alone_make_no_alert(clutter: list[Estimate], party: str) -> None:
    assert clutter  # the tentative tracks' estimates did reach the authority
    policy = policy_from_dict(DEFAULT_POLICIES[party])
    assert run_alerts(clutter, policy, EPOCH, exercise=True) == []
