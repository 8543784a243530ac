"""Purity, continuity and GOSPA of synthetic tracks built on a real simulated salvo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import numpy as np
import pytest

from test_evaluate_support import (
    Synth,
    object_measurements,
    rv_tracks,
    truth_of,
    write_estimates,
    write_salvo_run,
)
from warnlink.evaluate import evaluate, load_estimates, load_run
from warnlink.formats.jsonl import iter_jsonl
from warnlink.formats.records import Label, Measurement

X, Y = "S1-1/RV", "S1-2/RV"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_salvo_run(tmp_path_factory.mktemp("salvo"))


def test_a_track_that_swaps_objects_halfway(run_dir: Path, tmp_path: Path) -> None:
    truth = truth_of(run_dir)
    per_object = object_measurements(run_dir)
    t_mid = 300.0  # both RVs in flight and observed
    x_before = [(m, t, X) for m, t in per_object[X] if t < t_mid]
    y_before = [(m, t, Y) for m, t in per_object[Y] if t < t_mid]
    y_after = [(m, t, Y) for m, t in per_object[Y] if t >= t_mid][: len(x_before)]
    synth = Synth(truth, np.random.default_rng(5))
    records = synth.track("SWAP", x_before + y_after) + synth.track("Y-EARLY", y_before)
    path = write_estimates(tmp_path / "estimates.jsonl", sorted(records, key=lambda e: e.t))
    run = load_run(run_dir)
    s = evaluate(run, load_estimates(path, run)).summary

    assert s["tracks"]["SWAP"]["purity"] == pytest.approx(0.5)
    assert s["tracks"]["SWAP"]["dominant_object"] in (X, Y)
    assert s["tracks"]["Y-EARLY"]["purity"] == 1.0
    assert s["objects"][Y]["n_tracks"] == 2
    assert s["objects"][Y]["breaks"] == 1
    assert set(s["objects"][Y]["tracks"]) == {"SWAP", "Y-EARLY"}
    assert s["objects"][X]["tracks"] == ["SWAP"]
    # X is dropped at t_mid: under track for well under its whole life, Y for most of it
    x_life = truth.object(X)
    share_x = (t_mid - x_life.t_start) / (x_life.t_end - x_life.t_start)
    assert s["objects"][X]["lifetime_share_tracked"] == pytest.approx(share_x, abs=0.1)
    assert s["objects"][Y]["lifetime_share_tracked"] > 0.8
    # errors are scored against the object each update came from: still consistent
    assert s["overall"]["nees"]["verdict"] == "consistent"


def test_false_alarm_updates_lower_purity_and_keep_the_object(
    run_dir: Path, tmp_path: Path
) -> None:
    truth = truth_of(run_dir)
    labels = list(iter_jsonl(run_dir / "labels.jsonl", Label))
    per_object = object_measurements(run_dir)
    clean = [(m, t, X) for m, t in per_object[X]][:200]
    fa_ids = [lab.id for lab in labels if lab.object is None]
    measurements: Iterator[Measurement] = iter_jsonl(
        run_dir / "measurements.jsonl",
        Measurement,  # type: ignore[arg-type]
    )
    meas_t = {m.id: m.t for m in measurements}
    t_lo, t_hi = clean[0][1], clean[-1][1]
    fas = [(m, meas_t[m], X) for m in fa_ids if t_lo < meas_t[m] < t_hi][:20]
    assert len(fas) == 20
    updates = sorted(clean + fas, key=lambda u: u[1])
    records = Synth(truth, np.random.default_rng(6)).track("T", updates)
    path = write_estimates(tmp_path / "estimates.jsonl", records)
    run = load_run(run_dir)
    s = evaluate(run, load_estimates(path, run)).summary
    assert s["tracks"]["T"]["purity"] == pytest.approx(200 / 220)
    assert s["tracks"]["T"]["n_false_alarms"] == 20
    assert s["counts"]["updates_from_false_alarms"] == 20
    assert s["rvs"][X]["n_updates"] == 220  # false-alarm updates stay with the track's object


def test_gospa_counts_untracked_objects_and_deleted_tracks(run_dir: Path, tmp_path: Path) -> None:
    truth = truth_of(run_dir)
    records = rv_tracks(run_dir, Synth(truth, np.random.default_rng(7)))
    t_del = 350.0
    last = next(e for e in records if e.track == f"T-{X}" and e.t > t_del)
    kept = [e for e in records if not (e.track == f"T-{X}" and e.t > t_del)]
    deletion = msgspec.structs.replace(last, status="deleted", t=t_del + 0.5, measurement=None)
    path = write_estimates(
        tmp_path / "estimates.jsonl", sorted([*kept, deletion], key=lambda e: e.t)
    )
    run = load_run(run_dir)
    ev = evaluate(run, load_estimates(path, run))
    g, t = ev.gospa, ev.gospa_t

    def at(time: float) -> int:
        return int(np.searchsorted(t, time))

    assert g["missed"][at(340.0)] == 4  # the four spent stages: no track was made for them
    assert g["false"][at(340.0)] == 0
    assert g["missed"][at(360.0)] == 5  # X's track was deleted at t_del
    assert g["localisation"][at(340.0)] < 2_000.0
    assert ev.summary["gospa"]["mean_missed"] > 3.0
