"""The tracker's input: bad lines are rejected and counted, good ones all pass, in order."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_support import warnlink
from warnlink.formats.measurement_files import sensor_catalogue
from warnlink.formats.records import InfraredMeasurement, Measurement, RadarMeasurement
from warnlink.scenario.model import InfraredSpec, RadarSpec
from warnlink.track.inputs import InputReport, read_measurements, scans

RADAR = RadarSpec(
    id="R1", party="KR", platform="ground", lat_deg=37.0, lon_deg=127.0, alt_m=100.0,
    max_range_m=800e3, elevation_mask_rad=0.02, range_sigma_m=20.0, angle_sigma_rad=1e-3,
    update_interval_s=1.0, detection_probability=0.9, false_alarms_per_scan=0.1,
)  # fmt: skip
IR = InfraredSpec(
    id="S1", party="US", sat_lat_deg=0.0, sat_lon_deg=120.0, sat_alt_m=35786e3,
    los_sigma_rad=3e-5, update_interval_s=2.0, detection_probability=0.95,
    false_alarms_per_scan=0.1, min_altitude_m=10e3,
)  # fmt: skip
CATALOGUE = sensor_catalogue([RADAR, IR], datetime(2025, 1, 1, tzinfo=UTC))
ENC = msgspec.json.Encoder()


def radar(mid: str, t: float, **kw: float) -> bytes:
    fields = {"range_m": 5e5, "az_deg": 10.0, "el_deg": 5.0} | kw
    return ENC.encode(RadarMeasurement(mid, t, "R1", **fields))


def ir(mid: str, t: float, los: tuple[float, float, float] = (0.6, 0.8, 0.0)) -> bytes:
    return ENC.encode(InfraredMeasurement(mid, t, "S1", los, (4.2e7, 0.0, 0.0)))


def read(tmp_path: Path, lines: list[bytes]) -> tuple[list[Measurement], InputReport]:
    path = tmp_path / "m.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = InputReport()
    return list(read_measurements(path, CATALOGUE, report)), report


def test_every_kind_of_bad_line_is_rejected_with_its_reason(tmp_path: Path) -> None:
    lines = [
        radar("a", 1.0),
        b'{"type": "radar", "id": "b", "t": NaN}',  # not JSON
        b"\x00\xff garbage",
        b'{"type": "radar", "id": "c", "t": 2.0, "sensor": "R1"}',  # fields missing
        radar("d", 2.0).replace(b"R1", b"XX"),  # unknown sensor
        ir("e", 2.0).replace(b'"S1"', b'"R1"'),  # infrared from a radar
        radar("f", 2.0, range_m=-5.0),
        radar("g", 2.0, el_deg=95.0),
        ir("h", 2.0, los=(1.0, 1.0, 0.0)),  # not a unit vector
        radar("a", 3.0),  # duplicate id
        radar("i", 0.5),  # older than accepted
        ir("j", 3.0),
        radar("k", 1e308).replace(b"1e308", b"1e999"),  # overflows to infinity
    ]
    good, report = read(tmp_path, lines)
    assert [m.id for m in good] == ["a", "j"]
    assert report.lines == len(lines) and report.accepted == 2
    assert report.rejected == {
        "malformed": 4,
        "unknown-sensor": 1,
        "wrong-sensor-type": 1,
        "invalid-value": 3,
        "duplicate-id": 1,
        "out-of-order": 1,
    }
    assert report.examples[0].line == 2 and "malformed" in report.examples[0].reason


def test_scans_group_one_sensor_at_one_time(tmp_path: Path) -> None:
    good, _ = read(
        tmp_path, [radar("a", 1.0), radar("b", 1.0), ir("c", 1.0), radar("d", 1.0), radar("e", 2.0)]
    )
    assert [[m.id for m in s] for s in scans(iter(good))] == [["a", "b"], ["c"], ["d"], ["e"]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=60) | st.just(b"{}") | st.just(b'{"type":"radar"}'), max_size=8))
def test_garbage_never_crashes_and_never_loses_good_lines(
    tmp_path_factory: pytest.TempPathFactory, junk: list[bytes]
) -> None:
    good_lines = [radar(f"g{k}", float(k)) for k in range(5)]
    lines: list[bytes] = []
    for k, g in enumerate(good_lines):
        lines.append(g)
        if k < len(junk):
            lines.append(junk[k].replace(b"\n", b" "))
    good, report = read(tmp_path_factory.mktemp("j"), lines)
    assert [m.id for m in good][:5] == [f"g{k}" for k in range(5)]
    assert report.accepted + sum(report.rejected.values()) == report.lines


def test_track_command_counts_rejections_and_refuses_a_bad_catalogue(tmp_path: Path) -> None:
    (tmp_path / "sensors.json").write_bytes(msgspec.json.encode(CATALOGUE))
    feed = tmp_path / "m.jsonl"
    feed.write_bytes(b"\n".join([radar("a", 1.0), b"not json", radar("b", 0.5), ir("c", 2.0)]))
    out = tmp_path / "estimates.jsonl"
    args = ["track", "--sensors", str(tmp_path / "sensors.json"), "--measurements", str(feed)]
    proc = warnlink(*args, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    err = " ".join(proc.stderr.split())
    assert "4 measurement lines: 2 accepted, 2 rejected" in err
    assert "malformed" in err and "out-of-order" in err
    assert out.exists()

    (tmp_path / "sensors.json").write_text('{"epoch": "x", "sensors": [{"type": "sonar"}]}')
    proc = warnlink(*args, "--out", str(out))
    assert proc.returncode == 2
    assert "sensors.json" in proc.stderr and "Traceback" not in proc.stderr
