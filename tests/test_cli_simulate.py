"""`warnlink simulate` and `warnlink plot` as real processes on the shipped scenarios."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_support import warnlink
from warnlink.formats.jsonl import iter_jsonl, read_json
from warnlink.formats.records import (
    EventRecord,
    Label,
    Manifest,
    Measurement,
    SensorCatalogue,
    TruthSample,
)

ROOT = Path(__file__).resolve().parents[1]
SALVO = ROOT / "scenarios" / "srbm-salvo-east-sea.toml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "salvo"
    proc = warnlink("simulate", str(SALVO), "--out", str(out), "--plot")
    assert proc.returncode == 0, proc.stderr
    assert "run directory" in proc.stderr
    return out


def test_run_directory_is_complete_and_consistent(run_dir: Path) -> None:
    manifest = read_json(run_dir / "manifest.json", Manifest)
    for name in manifest.files.values():
        assert (run_dir / name).is_file(), name
    measurements = list(iter_jsonl(run_dir / "measurements.jsonl", Measurement))  # type: ignore[arg-type]
    labels = list(iter_jsonl(run_dir / "labels.jsonl", Label))
    truth = list(iter_jsonl(run_dir / "truth.jsonl", TruthSample))
    events = list(iter_jsonl(run_dir / "events.jsonl", EventRecord))
    catalogue = read_json(run_dir / "sensors.json", SensorCatalogue)

    assert manifest.counts["measurements"] == len(measurements) == len(labels) > 1000
    assert manifest.counts["truth_samples"] == len(truth)
    assert manifest.counts["events"] == len(events)
    assert manifest.counts["false_alarms"] == sum(lab.object is None for lab in labels)
    assert [m.id for m in measurements] == [lab.id for lab in labels]
    assert len({m.id for m in measurements}) == len(measurements)
    times = [m.t for m in measurements]
    assert times == sorted(times)
    assert {m.sensor for m in measurements} <= {s.id for s in catalogue.sensors}
    objects = {s.object for s in truth}
    assert {lab.object for lab in labels if lab.object is not None} <= objects
    rvs = {o for o in objects if o.endswith("/RV")}
    assert len(rvs) == 4  # the salvo's four missiles
    assert {e.object for e in events if e.kind == "impact"} == objects  # everything lands
    assert (run_dir / "map.png").stat().st_size > 50_000
    assert (run_dir / "profile.png").stat().st_size > 50_000


def test_plot_redraws_from_the_files_alone(run_dir: Path, tmp_path: Path) -> None:
    proc = warnlink("plot", str(run_dir), "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.png", "profile.png"]


def test_same_seed_same_measurements(run_dir: Path, tmp_path: Path) -> None:
    proc = warnlink("simulate", str(run_dir / "scenario.toml"), "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for name in ("measurements.jsonl", "truth.jsonl", "labels.jsonl"):
        assert (tmp_path / name).read_bytes() == (run_dir / name).read_bytes(), name


def test_bad_scenario_is_rejected_naming_file_field_and_problem(tmp_path: Path) -> None:
    text = SALVO.read_text()
    assert 'max_range = "' in text
    bad = tmp_path / "bad-unit.toml"
    bad.write_text(text.replace('max_range = "', 'max_range = "9 s" #', 1))
    out = tmp_path / "out"
    proc = warnlink("simulate", str(bad), "--out", str(out))
    assert proc.returncode == 2
    err = " ".join(proc.stderr.split())
    assert "bad-unit.toml" in err
    assert ".max_range" in err
    assert "wrong unit" in err
    assert not out.exists()  # nothing half-written


def test_missing_scenario_file_is_a_clear_error(tmp_path: Path) -> None:
    proc = warnlink("simulate", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert "nope.toml" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_manifest_is_json_with_the_documented_fields(run_dir: Path) -> None:
    doc = json.loads((run_dir / "manifest.json").read_text())
    assert set(doc) == {"warnlink_version", "scenario", "epoch", "seed", "t_end", "files", "counts"}


def test_a_scenario_without_launches_gives_clutter_only(tmp_path: Path) -> None:
    text = SALVO.read_text()
    start, end = text.index("[[launches]]"), text.index("[[parties]]")
    quiet = tmp_path / "quiet.toml"
    quiet.write_text(text[:start] + text[end:])
    out = tmp_path / "out"
    proc = warnlink("simulate", str(quiet), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    labels = list(iter_jsonl(out / "labels.jsonl", Label))
    assert labels and all(lab.object is None for lab in labels)
    assert (out / "truth.jsonl").read_text() == ""
