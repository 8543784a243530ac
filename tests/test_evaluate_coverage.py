"""Coverage, NEES and errors on synthetic estimates with a known error distribution.

The estimates are drawn from the truth of a real simulated salvo with errors from a stated
covariance; an honest synthetic tracker must pass, and one that understates its covariance
2x must fail: a metric that cannot fail measures nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from test_evaluate_support import (
    IMPACT_AFTER_S,
    IMPACT_COV,
    Synth,
    rv_tracks,
    truth_of,
    write_estimates,
    write_salvo_run,
)
from warnlink.evaluate import evaluate, load_estimates, load_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_salvo_run(tmp_path_factory.mktemp("salvo"))


def summary_of(run_dir: Path, tmp: Path, seed: int, **synth: Any) -> dict[str, Any]:
    s = Synth(truth_of(run_dir), np.random.default_rng(seed), **synth)
    path = write_estimates(tmp / "estimates.jsonl", rv_tracks(run_dir, s))
    run = load_run(run_dir)
    return evaluate(run, load_estimates(path, run)).summary


def within_binomial(k: int, n: int, p: float, level: float = 0.999) -> bool:
    lo, hi = stats.binom.interval(level, n, p)
    return bool(lo <= k <= hi)


def test_honest_ellipses_cover_at_their_confidence(run_dir: Path, tmp_path: Path) -> None:
    s = summary_of(run_dir, tmp_path, seed=1)
    for kind in ("impact", "launch"):
        cov = s["overall"][kind]["coverage"]
        assert cov["n"] > 4000
        assert cov["confidence"] == pytest.approx(0.95)
        assert within_binomial(cov["inside"], cov["n"], 0.95), cov
        assert cov["verdict"] == "consistent"
        for rv in s["rvs"].values():
            assert within_binomial(rv[kind]["coverage"]["inside"], rv[kind]["coverage"]["n"], 0.95)
    nees = s["overall"]["nees"]
    assert nees["verdict"] == "consistent"
    assert nees["interval"][0] < 6.0 < nees["interval"][1]


def test_understated_covariance_is_reported_as_under_covering(
    run_dir: Path, tmp_path: Path
) -> None:
    s = summary_of(run_dir, tmp_path, seed=2, stated_scale=0.5)
    # stated covariance half the actual: m² is doubled, so inside iff chi2_2 <= q95 / 2
    expected = float(stats.chi2.cdf(stats.chi2.ppf(0.95, 2) / 2, 2))
    for kind in ("impact", "launch"):
        cov = s["overall"][kind]["coverage"]
        assert cov["verdict"] == "under-covering"
        assert cov["interval"][1] < 0.95
        assert within_binomial(cov["inside"], cov["n"], expected), (cov, expected)
    assert s["overall"]["nees"]["verdict"] == "optimistic"
    assert s["overall"]["nees"]["mean"] == pytest.approx(12.0, rel=0.05)


def test_coverage_uses_each_ellipse_confidence(run_dir: Path, tmp_path: Path) -> None:
    s = summary_of(run_dir, tmp_path, seed=3, confidence=0.5)
    cov = s["overall"]["impact"]["coverage"]
    assert cov["confidence"] == pytest.approx(0.5)
    assert within_binomial(cov["inside"], cov["n"], 0.5)
    assert cov["verdict"] == "consistent"


def test_errors_and_first_estimates_match_the_synthetic_tracker(
    run_dir: Path, tmp_path: Path
) -> None:
    s = summary_of(run_dir, tmp_path, seed=4)
    # median distance of the drawn impact offsets, by an independent Monte Carlo
    draws = np.random.default_rng(0).multivariate_normal(np.zeros(2), IMPACT_COV, 200_000)
    median = float(np.median(np.linalg.norm(draws, axis=1)))
    assert s["overall"]["impact"]["error_m"]["median"] == pytest.approx(median, rel=0.05)
    assert abs(s["overall"]["impact"]["time_error_s"]["median_abs"] - 2.0 * 0.674) < 0.15
    for rv in s["rvs"].values():
        assert rv["impact"]["first_s_since_launch"] >= IMPACT_AFTER_S
        assert rv["first_estimate_s_since_launch"] < rv["impact"]["first_s_since_launch"]
        assert rv["impact"]["true_t"] > rv["launch_t"]
        assert rv["launch"]["first_s_since_launch"] == rv["first_estimate_s_since_launch"]
    assert s["overall"]["impact"]["first_s_since_launch"] == max(
        rv["impact"]["first_s_since_launch"] for rv in s["rvs"].values()
    )
