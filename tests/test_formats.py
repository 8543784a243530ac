"""The run-directory file formats: round trips and clear errors on bad lines."""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warnlink.formats.jsonl import FormatError, iter_jsonl, write_jsonl
from warnlink.formats.measurement_files import measurement_records
from warnlink.formats.records import (
    InfraredMeasurement,
    Label,
    Measurement,
    RadarMeasurement,
    TruthSample,
)
from warnlink.formats.truth_files import read_truth, write_truth
from warnlink.physics.truth import Event, ObjectTrack, Truth
from warnlink.sensors.batch import InfraredBatch, RadarBatch

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
ids = st.text(alphabet="abcXYZ019-/_", min_size=1, max_size=12)

radar = st.builds(
    RadarMeasurement,
    id=ids,
    t=finite,
    sensor=ids,
    range_m=finite,
    az_deg=finite,
    el_deg=finite,
    range_rate_mps=st.none() | finite,
)
infrared = st.builds(
    InfraredMeasurement,
    id=ids,
    t=finite,
    sensor=ids,
    los=st.tuples(finite, finite, finite),
    sensor_ecef_m=st.tuples(finite, finite, finite),
)


@settings(max_examples=50, deadline=None)
@given(st.lists(radar | infrared, max_size=20))
def test_measurements_round_trip_exactly(
    tmp_path_factory: pytest.TempPathFactory, recs: list[Measurement]
) -> None:
    path = tmp_path_factory.mktemp("m") / "measurements.jsonl"
    assert write_jsonl(path, recs) == len(recs)
    assert list(iter_jsonl(path, Measurement)) == recs  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_lines_give_a_line_numbered_error_not_a_crash(
    tmp_path_factory: pytest.TempPathFactory, junk: bytes
) -> None:
    path = tmp_path_factory.mktemp("g") / "m.jsonl"
    good = msgspec.json.encode(RadarMeasurement("m1", 0.0, "R", 1.0, 2.0, 3.0))
    junk = junk.replace(b"\n", b" ")
    path.write_bytes(good + b"\n" + junk + b"\n")
    try:
        out = list(iter_jsonl(path, Measurement))  # type: ignore[arg-type]
    except FormatError as exc:
        assert str(exc).startswith(f"{path}:2: ")
    else:  # the junk happened to be blank or a valid record
        assert out[0] == RadarMeasurement("m1", 0.0, "R", 1.0, 2.0, 3.0)


def test_unknown_field_and_wrong_type_are_named(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"type":"radar","id":"m1","t":0,"sensor":"R","range_m":1,"az_deg":2,"el_deg":3,"bogus":1}\n'
    )
    with pytest.raises(FormatError, match=r"m.jsonl:1: .*bogus"):
        list(iter_jsonl(path, Measurement))  # type: ignore[arg-type]
    path.write_text(
        '{"type":"radar","id":"m1","t":"soon","sensor":"R","range_m":1,"az_deg":2,"el_deg":3}\n'
    )
    with pytest.raises(FormatError, match=r"m.jsonl:1: Expected `float`.*\$\.t"):
        list(iter_jsonl(path, Measurement))  # type: ignore[arg-type]


def _arc_truth() -> Truth:
    t = np.arange(0.0, 100.5, 0.5)
    w, radius = 1e-3, 6.6e6
    r = np.stack([radius * np.cos(w * t), radius * np.sin(w * t), 1e5 + 0 * t], -1)
    v = np.stack([-radius * w * np.sin(w * t), radius * w * np.cos(w * t), 0 * t], -1)
    obj = ObjectTrack("L1/RV", "L1", "L1", "rv", t, r, v, t < 30.25, ended_by="impact")
    ev = [
        Event(0.0, "launch", "L1", "L1/RV", 1.0, 2.0, 3.0),
        Event(100.0, "impact", "L1", "L1/RV", 4.0, 5.0, 0.0),
    ]
    return Truth([obj], ev)


def test_truth_round_trip_keeps_positions_and_events(tmp_path: Path) -> None:
    truth = _arc_truth()
    n = write_truth(truth, tmp_path / "truth.jsonl", tmp_path / "events.jsonl", interval_s=1.0)
    assert n == 101
    back = read_truth(tmp_path / "truth.jsonl", tmp_path / "events.jsonl")
    obj, orig = back.object("L1/RV"), truth.object("L1/RV")
    assert obj.ended_by == "impact"
    tq = np.linspace(0.0, 100.0, 777)
    r1, v1, _, _ = obj.state_at(tq)
    r0, v0, _, _ = orig.state_at(tq)
    # 1 s samples of a 1e-3 rad/s circle: Hermite error ~ R (w dt)^4 / 384 < 1 mm
    assert np.abs(r1 - r0).max() < 1e-3
    assert np.abs(v1 - v0).max() < 1e-5
    assert back.events == truth.events
    samples = list(iter_jsonl(tmp_path / "truth.jsonl", TruthSample))
    assert [s.t for s in samples] == sorted(s.t for s in samples)
    assert samples[0].burning and not samples[-1].burning


def test_out_of_order_truth_is_rejected(tmp_path: Path) -> None:
    truth = _arc_truth()
    write_truth(truth, tmp_path / "truth.jsonl", tmp_path / "events.jsonl", interval_s=1.0)
    lines = (tmp_path / "truth.jsonl").read_text().splitlines()
    lines[3], lines[4] = lines[4], lines[3]
    (tmp_path / "truth.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError, match="not in time order"):
        read_truth(tmp_path / "truth.jsonl", tmp_path / "events.jsonl")


def test_batches_merge_in_time_order_with_labels() -> None:
    radar = RadarBatch(
        "R1",
        t=np.array([1.0, 3.0]),
        range_m=np.array([1e5, 2e5]),
        az_rad=np.array([0.0, math.pi]),
        el_rad=np.array([0.1, 0.2]),
        range_rate_mps=np.array([np.nan, -5.0]),
        truth=np.array([0, -1]),
        objects=["L1/RV"],
    )
    ir = InfraredBatch(
        "S1",
        t=np.array([2.0]),
        los=np.array([[0.0, 0.6, 0.8]]),
        sensor_ecef_m=np.array([[4.2e7, 0.0, 0.0]]),
        truth=np.array([0]),
        objects=["L1/RV"],
    )
    meas, labels = measurement_records([radar, ir])
    assert [m.t for m in meas] == [1.0, 2.0, 3.0]
    assert [m.id for m in meas] == ["m1", "m2", "m3"]
    assert isinstance(meas[0], RadarMeasurement) and meas[0].range_rate_mps is None
    assert isinstance(meas[2], RadarMeasurement) and meas[2].az_deg == pytest.approx(180.0)
    assert isinstance(meas[1], InfraredMeasurement)
    assert labels == [Label("m1", "L1/RV"), Label("m2", "L1/RV"), Label("m3", None)]
