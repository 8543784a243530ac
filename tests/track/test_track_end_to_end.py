"""The whole chain as real processes: simulate, track, evaluate, on a fixed seed.

The benchmark (bench/bench_tracking.py) measures the same over 100 Monte Carlo runs; this
is its fixed-seed, single-run check: honest 95% impact ellipses and a consistent state.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cli_support import warnlink

ROOT = Path(__file__).resolve().parents[2]


def run_ok(*args: str) -> subprocess.CompletedProcess[str]:
    proc = warnlink(*args)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def metrics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    run = tmp_path_factory.mktemp("e2e") / "salvo"
    run_ok("simulate", str(ROOT / "scenarios" / "srbm-salvo-east-sea.toml"), "--out", str(run))
    est = run / "estimates.jsonl"
    tracked = run_ok(
        "track", "--sensors", str(run / "sensors.json"),
        "--measurements", str(run / "measurements.jsonl"), "--out", str(est),
    )  # fmt: skip
    assert "0 rejected" in tracked.stderr
    run_ok("evaluate", "--run", str(run), "--estimates", str(est), "--out", str(run / "eval"))
    result: dict[str, object] = json.loads((run / "eval" / "metrics.json").read_text())
    return result


def test_every_rv_gets_an_impact_estimate_with_honest_ellipses(metrics: dict[str, object]) -> None:
    rvs = metrics["rvs"]
    assert isinstance(rvs, dict) and len(rvs) == 4
    for rv, m in rvs.items():
        impact = m["impact"]
        assert impact["first_s_since_launch"] is not None, rv
        assert impact["error_m"]["final"] < 1000.0, rv
    overall = metrics["overall"]
    assert isinstance(overall, dict)
    coverage = overall["impact"]["coverage"]
    assert coverage["confidence"] == pytest.approx(0.95)
    assert 0.85 <= coverage["share"] <= 0.995


def test_state_covariance_is_consistent(metrics: dict[str, object]) -> None:
    overall = metrics["overall"]
    assert isinstance(overall, dict)
    nees = overall["nees"]
    assert 2.0 <= nees["mean"] <= 12.0  # 6 dof: 6 when exactly consistent
