"""The exercise's parts on their own: time stamps, release defaults, measurement split, file
tailing, and the scoring checks, which must be able to fail."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from warnlink.exercise.metrics import PartyOutputs, _releasability
from warnlink.exercise.plan import PartyPlan, ReceivedRecord
from warnlink.exercise.supervise import _Tail, release, split_measurements
from warnlink.exercise.timeline import stamp
from warnlink.formats.jsonl import iter_jsonl, read_json
from warnlink.formats.records import SensorCatalogue
from warnlink.scenario.load import load_scenario
from warnlink.sim.run import simulate, write_run

SCENARIO = Path(__file__).with_name("srbm-short.toml")


@pytest.mark.parametrize(
    ("t", "text"),
    [(30.0, "T+00:00.0"), (89.96, "T+01:00.0"), (29.0, "T-00:01.0"), (3630.04, "T+60:00.0")],
)
def test_stamp_counts_from_launch_without_a_sixtieth_second(t: float, text: str) -> None:
    assert stamp(t, 30.0) == text


def test_release_defaults_to_every_other_party_and_estimates_follow_tracks() -> None:
    sc = load_scenario(SCENARIO)
    codes = [p.code for p in sc.parties]
    kr, us, jp = sc.parties
    assert release(kr, codes) == (["US"], ["US"])
    assert release(us, codes) == (["KR", "JP"], ["JP"])
    assert release(jp, codes) == (["KR", "US"], ["KR", "US"])


def test_each_party_gets_only_its_own_sensors_and_all_of_their_measurements(
    tmp_path: Path,
) -> None:
    sc = load_scenario(SCENARIO)
    run = tmp_path / "run"
    write_run(simulate(sc), run)
    dirs = split_measurements(run, tmp_path / "mode", ["KR", "US", "JP"])
    total = 0
    for party, d in dirs.items():
        own = {s.id for s in read_json(d / "sensors.json", SensorCatalogue).sensors}
        assert own == {s.id for s in sc.sensors if s.party == party}
        lines = (d / "measurements.jsonl").read_text().splitlines()
        assert all(any(f'"sensor":"{s}"' in line for s in own) for line in lines)
        total += len(lines)
    assert total == len((run / "measurements.jsonl").read_text().splitlines())


def test_tail_returns_complete_lines_only_as_they_are_finished(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    tail = _Tail(path)
    assert tail.lines() == []  # not written yet
    with path.open("ab", buffering=0) as f:
        f.write(b'{"a": 1}\n{"b"')
        assert tail.lines() == [b'{"a": 1}']
        f.write(b": 2}\n\n")
        assert tail.lines() == [b'{"b": 2}']
        assert tail.lines() == []


def _plan(party: str, tracks: list[str], estimates: list[str]) -> PartyPlan:
    return PartyPlan(party, [], "", "", "", None, None, tracks, estimates, 0.0, 1.0, 1.0)


def _received(origin: str, label: list[str], has_estimates: bool) -> ReceivedRecord:
    kind = "ESTIMATE" if has_estimates else "TRACK_REPORT"
    return ReceivedRecord(0.0, 0.0, origin, kind, label, "T1", 0.0, [0.0] * 3, 0.0, has_estimates)


def test_the_releasability_check_catches_what_was_not_released() -> None:
    def outputs(received: list[ReceivedRecord]) -> dict[str, PartyOutputs]:
        return {
            "KR": PartyOutputs(_plan("KR", ["US"], []), [], [], [], [], None),
            "US": PartyOutputs(_plan("US", ["KR", "JP"], ["JP"]), [], [], [], [], None),
            "JP": PartyOutputs(_plan("JP", ["KR", "US"], ["KR", "US"]), [], [], received, [], None),
        }

    assert _releasability(outputs([_received("US", ["JP"], True)])) == []
    leaks = _releasability(outputs([_received("KR", ["US", "JP"], False)]))
    assert leaks == ["JP received a TRACK_REPORT of KR not released to it"]
    ok = outputs([])
    ok["KR"].received.append(_received("US", ["KR"], True))
    assert _releasability(ok) == ["KR received estimates of US not released to it"]


def test_party_records_round_trip_through_their_files(tmp_path: Path) -> None:
    path = tmp_path / "received.jsonl"
    rec = _received("US", ["JP"], True)
    path.write_bytes(msgspec.json.encode(rec) + b"\n")
    assert list(iter_jsonl(path, ReceivedRecord)) == [rec]
