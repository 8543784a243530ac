"""`warnlink evaluate` as a real process on a simulated run with synthetic estimates."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from cli_support import warnlink
from test_evaluate_support import Synth, rv_tracks, truth_of, write_estimates, write_salvo_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_salvo_run(tmp_path_factory.mktemp("salvo"))


@pytest.fixture(scope="module")
def estimates(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    synth = Synth(truth_of(run_dir), np.random.default_rng(11))
    return write_estimates(
        tmp_path_factory.mktemp("est") / "estimates.jsonl", rv_tracks(run_dir, synth)
    )


def test_evaluate_writes_metrics_and_plots(run_dir: Path, estimates: Path, tmp_path: Path) -> None:
    proc = warnlink(
        "evaluate", "--run", str(run_dir), "--estimates", str(estimates), "--out", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    assert "GOSPA" in proc.stderr and "S1-1/RV" in proc.stderr
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert set(m) == {"parameters", "counts", "rvs", "overall", "tracks", "objects", "gospa"}
    assert sorted(m["rvs"]) == [f"S1-{i}/RV" for i in range(1, 5)]
    rv = m["rvs"]["S1-1/RV"]
    assert rv["impact"]["coverage"]["verdict"] == "consistent"
    assert rv["nees"]["dof"] == 6
    assert m["parameters"]["gospa_c_m"] == 10_000.0
    assert len(m["gospa"]["series"]["gospa"]) > 500
    assert all(t["purity"] == 1.0 for t in m["tracks"].values())
    for png in ("impact_error.png", "coverage.png", "gospa.png"):
        assert (tmp_path / png).stat().st_size > 20_000, png


def test_every_metrics_field_is_documented(run_dir: Path, estimates: Path, tmp_path: Path) -> None:
    proc = warnlink(
        "evaluate", "--run", str(run_dir), "--estimates", str(estimates), "--out", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    m = json.loads((tmp_path / "metrics.json").read_text())
    doc = (ROOT / "docs" / "evaluation.md").read_text()
    documented = set(re.findall(r"`([a-z_0-9]+)`", doc))
    rv = m["rvs"]["S1-1/RV"]
    keys = set(m) | set(m["parameters"]) | set(m["counts"]) | set(rv) | set(rv["impact"])
    keys |= set(rv["impact"]["error_m"]) | set(rv["impact"]["time_error_s"])
    keys |= set(rv["impact"]["coverage"]) | set(rv["nees"]) | set(m["overall"])
    keys |= set(next(iter(m["tracks"].values()))) | set(m["objects"]["S1-1/RV"]) | set(m["gospa"])
    assert keys - documented == set()


def test_bad_estimates_line_is_an_error_naming_the_file(run_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "estimates.jsonl"
    bad.write_text('{"t": 1.0, "track": "T1", "status": "confirmed"}\n')
    proc = warnlink("evaluate", "--run", str(run_dir), "--estimates", str(bad))
    assert proc.returncode == 2
    assert f"{bad}:1" in proc.stderr.replace("\n", "")
    assert "Traceback" not in proc.stderr


def test_unknown_measurement_is_an_error(run_dir: Path, estimates: Path, tmp_path: Path) -> None:
    line = estimates.read_text().splitlines()[0]
    first = json.loads(line)
    first["measurement"] = "no-such-measurement"
    bad = tmp_path / "estimates.jsonl"
    bad.write_text(json.dumps(first) + "\n")
    proc = warnlink("evaluate", "--run", str(run_dir), "--estimates", str(bad))
    assert proc.returncode == 2
    assert "no-such-measurement" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_run_file_is_an_error_naming_it(
    run_dir: Path, estimates: Path, tmp_path: Path
) -> None:
    proc = warnlink("evaluate", "--run", str(tmp_path), "--estimates", str(estimates))
    assert proc.returncode == 2
    assert "truth.jsonl" in proc.stderr and "Traceback" not in proc.stderr
    proc = warnlink("evaluate", "--run", str(run_dir), "--estimates", str(tmp_path / "none.jsonl"))
    assert proc.returncode == 2
    assert "none.jsonl" in proc.stderr


def test_no_confirmed_tracks_scores_everything_missed(run_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "estimates.jsonl"
    empty.write_text("")
    proc = warnlink("evaluate", "--run", str(run_dir), "--estimates", str(empty))
    assert proc.returncode == 0, proc.stderr
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert all(rv["n_updates"] == 0 for rv in m["rvs"].values())
    assert m["gospa"]["mean_false"] == 0.0
    assert m["gospa"]["mean_ospa"] == pytest.approx(m["parameters"]["gospa_c_m"])
