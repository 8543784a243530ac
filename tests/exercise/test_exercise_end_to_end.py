"""`warnlink exercise` end to end: a hub and three party processes over real TLS on
loopback, a release policy, a link outage; then the same scenario with each party alone.

The scenario (srbm-short.toml): one SRBM; KR releases its tracks to US only; US releases
estimates to JP only (KR gets its tracks bare); JP's link is down from 100 s to 160 s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from cli_support import warnlink
from warnlink.alert import cap
from warnlink.exercise.metrics import load_outputs

SCENARIO = Path(__file__).with_name("srbm-short.toml")
SPEED = "5"  # slow enough that three parties keep up beside the other test worker
OUTAGE = (100.0, 160.0)
RELEASED_TO = {"KR": {"US"}, "US": {"KR", "JP"}, "JP": {"KR", "US"}}  # tracks, per origin
# fused-vs-own RMS (compared by the time of the data behind each estimate) may exceed the
# own by this much: covariance intersection weighs members by their stated covariances,
# and a member whose covariance understates its error (the US track after burnout, NEES
# about 15; tracks of an unresolved RV and stage) pulls the intersection off. How far
# depends on which reports a picture already holds, so on arrival timing: the same run
# has given +0.4% to +3.7% for US fused against KR's own on a quiet machine and +12% under
# heavy load (tests/fusion, which replay without the network, allow 1%). A known weakness
# (docs/BENCHMARKS.md, Fusion), bounded here rather than hidden.
RMS_SLACK = 1.15

# one worker runs the whole module: its tests share one exercise (a module fixture)
pytestmark = [pytest.mark.timeout(900), pytest.mark.xdist_group("exercise")]


@pytest.fixture(scope="module")
def exercise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exercise")
    done = warnlink("exercise", str(SCENARIO), "--speed", SPEED, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"report: {out / 'report.html'}" in done.stderr.replace("\n", "")
    return out


def _metrics(out: Path, mode: str = "sharing") -> dict[str, Any]:
    return json.loads((out / mode / "metrics.json").read_text())  # type: ignore[no-any-return]


def test_the_timeline_and_the_report_are_written(exercise: Path) -> None:
    page = (exercise / "report.html").read_text()
    assert "What sharing buys" in page and "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page  # nothing fetched to show it
    events = {p: [json.loads(line)["kind"] for line in (exercise / "sharing" / p /
              "events.jsonl").read_text().splitlines()] for p in RELEASED_TO}  # fmt: skip
    for kinds in events.values():
        assert "fused-track" in kinds and "done" in kinds


def test_a_party_receives_only_what_its_partners_release_to_it(exercise: Path) -> None:
    outputs = load_outputs(exercise / "sharing", list(RELEASED_TO))
    for party, out in outputs.items():
        origins = {r.origin for r in out.received}
        allowed = {o for o, to in RELEASED_TO.items() if party in to}
        assert origins <= allowed, f"{party} received from {origins - allowed}"
        assert all(party in r.label for r in out.received)
    assert {r.origin for r in outputs["JP"].received} == {"US"}  # nothing of KR's
    assert any(r.has_estimates for r in outputs["JP"].received if r.origin == "US")
    assert not any(r.has_estimates for r in outputs["KR"].received if r.origin == "US")
    assert _metrics(exercise)["releasability_violations"] == []


def test_an_outage_delays_but_loses_nothing(exercise: Path) -> None:
    m = _metrics(exercise)
    assert m["link_cuts"]["JP"] >= 1
    assert m["delivery"]["published_before_end"]["JP->US"] > 0
    assert all(n == 0 for n in m["delivery"]["lost"].values()), m["delivery"]
    assert m["delivery"]["unacknowledged"] == 0
    # reports JP made during its outage reached US only after the link came back
    during = [r for r in load_outputs(exercise / "sharing", ["US"])["US"].received
              if r.origin == "JP" and OUTAGE[0] <= r.t < OUTAGE[1] - 5]  # fmt: skip
    assert during, "JP published nothing during its outage"
    assert min(r.known_t for r in during) >= OUTAGE[1] - 1.0


def test_fused_is_never_worse_than_the_best_single_party_it_hears_from(exercise: Path) -> None:
    for party, pr in _metrics(exercise)["flights"]["S1"]["parties"].items():
        heard = {party} | {o for o, to in RELEASED_TO.items() if party in to}
        versus = pr["fused_vs_own"]
        for q in heard:
            v = versus[q]
            assert v["n"] >= 20
            assert v["fused_rms_m"] <= RMS_SLACK * v["own_rms_m"], (party, q, v)


def test_sharing_tells_parties_earlier_than_their_own_sensors(exercise: Path) -> None:
    parties = _metrics(exercise)["flights"]["S1"]["parties"]
    jp, us = parties["JP"], parties["US"]
    # Japan's radars see the SRBM a minute after Korea's: sharing tells it at once
    assert jp["first_fused_track_s"] < jp["first_detection_s"] - 30
    # its link is down when its own impact estimate comes, so none comes earlier; the
    # picture may trail its own tracker by a picture cycle (a scan of its radar)
    assert jp["first_fused_impact_s"] <= jp["first_own_impact_s"] + 4.0
    # the US gets Korea's impact estimate long before its own radar has one
    assert us["first_fused_impact_s"] < us["first_own_impact_s"] - 20
    lat = _metrics(exercise)["latency_ms"]["JP"]
    assert lat["n"] > 0 and lat["p50"] > 0


CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
TERRITORY = {"KR": "KR-", "US": "US-GU", "JP": "JP-"}  # the shipped policies' regions


def test_public_warnings_are_valid_cap_and_go_out_within_a_minute(exercise: Path) -> None:
    alerting = _metrics(exercise)["alerting"]
    assert set(alerting) == set(TERRITORY)
    for party, a in alerting.items():
        d = exercise / "sharing" / party
        records = [json.loads(line) for line in (d / "alerts.jsonl").read_text().splitlines()]
        assert records and records[0]["msg_type"] == "Alert"
        docs = {f.stem: etree.parse(str(f)) for f in (d / "cap" / "alerts").glob("*.xml")}
        assert set(docs) == {r["id"] for r in records}
        for doc in docs.values():
            cap.schema().assertValid(doc)
            assert doc.findtext(f"{CAP}status") == "Exercise"
            for ref in (doc.findtext(f"{CAP}references") or "").split():
                assert ref.split(",")[1] in docs  # the chain names messages that went out
        # an authority warns only its own territory
        assert all(g["region"].startswith(TERRITORY[party])
                   for r in records for g in r["regions"])  # fmt: skip
        assert b"<feed" in (d / "cap" / "alerts.atom").read_bytes()
        # space-based infrared sees the boost: the first warning within 60 s of launch
        assert a["first_alert_s"] is not None and a["first_alert_s"] <= 60.0
        assert a["missed"] == []
        kinds = [json.loads(x)["kind"] for x in (d / "events.jsonl").read_text().splitlines()]
        assert "alert" in kinds
    page = (exercise / "report.html").read_text()
    assert "Public warnings" in page and "sharing/JP/cap/alerts.atom" in page


def test_no_sharing_runs_each_party_alone_beside_the_shared_run(exercise: Path) -> None:
    done = warnlink("exercise", str(SCENARIO), "--speed", "10", "--no-sharing", "--out",
                    str(exercise))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    alone = load_outputs(exercise / "alone", list(RELEASED_TO))
    assert all(not out.received for out in alone.values())
    assert not (exercise / "alone" / "hub").exists()
    rows = json.loads((exercise / "metrics.json").read_text())["comparison"]
    assert {r["party"] for r in rows} == set(RELEASED_TO)
    for r in rows:
        assert "alone_first_impact_s" in r and "sharing_first_impact_s" in r
    jp = next(r for r in rows if r["party"] == "JP")
    assert jp["sharing_first_track_s"] < jp["alone_first_track_s"]
    assert "sharing warns earlier by" in (exercise / "report.html").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "0"], "--speed must be more than 0"),
        (["--speed", "-3"], "--speed must be more than 0"),
    ],
)
def test_bad_arguments_are_refused_clearly(tmp_path: Path, args: list[str], message: str) -> None:
    done = warnlink("exercise", str(SCENARIO), "--out", str(tmp_path), *args)
    assert done.returncode == 2 and message in done.stderr
    assert not (tmp_path / "sharing").exists()


def test_a_missing_scenario_is_refused_clearly(tmp_path: Path) -> None:
    done = warnlink("exercise", str(tmp_path / "nope.toml"), "--out", str(tmp_path))
    assert done.returncode == 2 and "nope.toml" in done.stderr
