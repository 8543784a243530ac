"""The shipped IRBM scenario, simulated and tracked, through the alerting of each party."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from alert_support import TrackedRun
from lxml import etree

from warnlink.alert.cap import CAP_NS, alert_xml
from warnlink.alert.lifecycle import AlertMessage, run_alerts
from warnlink.alert.policy import DEFAULT_POLICIES, policy_from_dict
from warnlink.cli import main

QUICK = {"reassess_interval_s": 20.0}  # fewer corridor flights: the test stays fast


def _threads(msgs: list[AlertMessage]) -> dict[str, list[AlertMessage]]:
    out: dict[str, list[AlertMessage]] = defaultdict(list)
    for m in msgs:
        out[m.track].append(m)
    return out


def _chains_ok(msgs: list[AlertMessage]) -> None:
    for thread in _threads(msgs).values():
        chain: list[AlertMessage] = []
        for m in thread:
            if m.msg_type == "Alert":
                chain = []
            assert [r.identifier for r in m.references] == [p.id for p in chain]
            chain.append(m)
        assert thread[-1].msg_type == "Cancel"  # every warning ends


@pytest.fixture(scope="module")
def jp(irbm_run: TrackedRun) -> list[AlertMessage]:
    p = policy_from_dict({**DEFAULT_POLICIES["JP"], **QUICK})
    return run_alerts(irbm_run.estimates, p, irbm_run.epoch, exercise=True)


def test_japan_warns_aomori_of_the_overflight_then_clears(jp: list[AlertMessage]) -> None:
    assert jp[0].msg_type == "Alert" and jp[0].stage == "launch"
    over = [m for m in jp if m.stage == "overflight_expected"]
    assert over and all(m.parts[0].risks for m in over)
    warned = {r.region.id for m in over for r in m.parts[0].risks}
    assert "JP-02" in warned  # Aomori, as on 4 October 2022
    assert warned <= {"JP-01", "JP-02", "JP-03", "JP-05"}  # northern Japan only
    aomori = next(r for m in over for r in m.parts[0].risks if r.region.id == "JP-02")
    lead = aomori.t_over_first - over[0].t  # type: ignore[operator]
    assert lead > 60.0  # warned minutes before the missile is overhead
    passed = [p for m in jp for p in m.parts if p.stage == "passed"]
    assert any("JP-02" in {r.region.id for r in p.risks} for p in passed)
    fell = [p for m in jp for p in m.parts if p.stage == "fell"]
    assert fell and all(p.place is not None and not p.place.on_land for p in fell)
    assert any(p.place.waters == "outside" for p in fell if p.place)  # the RV, 163E
    _chains_ok(jp)


def test_every_message_is_valid_cap(jp: list[AlertMessage]) -> None:
    for m in jp:
        doc = etree.fromstring(alert_xml(m))
        assert doc.findtext(f"{{{CAP_NS}}}status") == "Exercise"


@pytest.mark.parametrize("party", ["KR", "US"])
def test_korea_and_guam_are_lifted_once_the_trajectory_is_known(
    irbm_run: TrackedRun, party: str
) -> None:
    p = policy_from_dict({**DEFAULT_POLICIES[party], **QUICK})
    msgs = run_alerts(irbm_run.estimates, p, irbm_run.epoch)
    assert msgs and msgs[0].stage == "launch"  # warned at launch, before the path is known
    stages = {part.stage for m in msgs for part in m.parts}
    assert not stages & {"impact_expected", "overflight_expected", "passed"}
    assert "lifted" in stages
    lifted_at = min(m.t for m in msgs if any(p.stage == "lifted" for p in m.parts))
    assert lifted_at < 300.0  # well before the missile comes down
    _chains_ok(msgs)
    for m in msgs:
        alert_xml(m)


def test_cli_writes_the_feed(irbm_run: TrackedRun, tmp_path: Path) -> None:
    policy = tmp_path / "jp.toml"
    policy.write_text(
        'party = "JP"\ncountries = ["JP"]\nsender = "j@x.example"\nsender_name = "J-Alert"\n'
        'languages = ["ja-JP", "en-US"]\nutc_offset = "+09:00"\ncorridor_ceiling_m = 2000e3\n'
        "reassess_interval_s = 20.0\n"
    )
    out = tmp_path / "alerts"
    code = main(["alert", "--estimates", str(irbm_run.estimates_path), "--policy", str(policy),
                 "--out", str(out), "--exercise"])  # fmt: skip
    assert code == 0
    assert (out / "alerts.atom").is_file() and len(list((out / "alerts").glob("*.xml"))) >= 5
    bad = tmp_path / "bad.toml"
    bad.write_text(policy.read_text().replace('["JP"]', '["XX"]'))
    assert main(["alert", "--estimates", str(irbm_run.estimates_path), "--policy", str(bad),
                 "--out", str(out)]) == 2  # fmt: skip
    junk = tmp_path / "estimates.jsonl"
    junk.write_text('{"t": 1.0}\n')
    assert main(["alert", "--estimates", str(junk), "--policy", str(policy), "--out", str(out),
                 "--epoch", "2022-10-03T22:22:00Z"]) == 2  # fmt: skip
