"""The consultation in `warnlink exercise`: each party's channel on its own node, convened
by the party whose territory is at risk, with simulated principals.

The scenario (srbm-japan.toml): one SRBM onto Okayama, its stage falling in Shimane, so
Japan's public alerting warns of impact on its own regions and Japan convenes. KR (the
scenario's first party) keeps the decision log and its leader never answers, so its
alternate is paged; every other principal acknowledges after the plan's delay, and the
joint decision Japan proposes is signed by all three parties.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from cli_support import exercise as run_exercise
from cli_support import warnlink
from warnlink.alert.policy import default_policy
from warnlink.consult import wire
from warnlink.consult.setup import PASSPHRASE_ENV
from warnlink.exchange.node import HubAddress, Node
from warnlink.exercise.consultation import PartyConsultation, init_consultation
from warnlink.exercise.plan import CONSULT_DIR, AlertRecord, AlertRegion, ConsultPlan, PartyPlan
from warnlink.exercise.supervise import make_pki

SCENARIO = Path(__file__).with_name("srbm-japan.toml")
SPEED = "6"
PARTIES = ("KR", "US", "JP")
ACK_TIMEOUT_S = ConsultPlan("c", [], "KR", []).ack_timeout_s
# said only inside the consultation (the CAP alert notices travel in the clear)
SECRETS = ("regions at risk:", "warns its public", "keep their tracks of the threat")

pytestmark = [pytest.mark.timeout(900), pytest.mark.xdist_group("exercise-consultation")]


def _alert(track: str, msg_type: str, *regions: tuple[str, str]) -> AlertRecord:
    return AlertRecord(0.0, 0.0, 0.0, f"{track}-{msg_type}", msg_type, regions[0][1], track, 0,
                       [AlertRegion(r, stage, ["impact"]) for r, stage in regions])  # fmt: skip


def test_a_party_convenes_once_on_its_own_regions_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, "throwaway")
    make_pki(tmp_path / "pki", list(PARTIES))
    dirs = {p: tmp_path / p for p in PARTIES}
    plans = init_consultation(tmp_path / "pki", dirs, "throwaway", 5.0, "KR", "KR")
    plan = PartyPlan(
        "JP", ["KR", "US"], str(dirs["JP"]), "", "", str(tmp_path / "pki"), "127.0.0.1:1", [],
        [], 0.0, 100.0, 5.0, alert_policy=msgspec.to_builtins(default_policy("JP")),
        consult=plans["JP"],
    )  # fmt: skip
    node = Node(tmp_path / "pki", "JP", HubAddress.parse("127.0.0.1:1"), dirs["JP"])
    jp = PartyConsultation(plan, node, lambda *a, **k: None)

    def sent() -> list[wire.Body]:
        rows = jp.service.store.db.execute("SELECT body FROM outgoing").fetchall()
        return [wire.decode_body(r[0]) for r in rows]

    def convened() -> list[wire.Convene]:
        return [b for b in sent() if isinstance(b, wire.Convene)]

    jp.alerts([_alert("F1", "Alert", ("JP-01", "launch"), ("JP-32", "launch"))])
    jp.alerts([_alert("F1", "Update", ("KR-47", "impact_expected"), ("JP-32", "lifted"))])
    assert convened() == []  # a launch warning, or another country's impact: no
    jp.alerts([_alert("F1", "Update", ("JP-32", "impact_expected"), ("KR-47", "passed"))])
    jp.alerts([_alert("F1", "Update", ("JP-31", "overflight_expected"))])  # the same threat
    jp.alerts([_alert("F2", "Cancel", ("JP-33", "impact_expected"))])
    (c,) = convened()
    assert c.reason == "regions at risk: JP-32 (threat F1)"
    assert c.timeouts == (ACK_TIMEOUT_S / 5.0,)  # scenario seconds on the channel's wall clock
    # another threat (another missile, or warhead and stage warned apart): told, not convened
    jp.alerts([_alert("F2", "Alert", ("JP-31", "overflight_expected"))])
    assert len(convened()) == 1
    chats = [b.text for b in sent() if isinstance(b, wire.Chat)]
    assert chats == ["also regions at risk: JP-31 (threat F2)"]
    assert jp.speaker() == "leader"
    jp.close()
    node.store.close()


@pytest.fixture(scope="module")
def exercise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared run, once for the module."""
    return run_exercise(SCENARIO, SPEED, tmp_path_factory.mktemp("consultation")) / "sharing"


def _consultation(run: Path) -> dict[str, Any]:
    metrics = json.loads((run / "metrics.json").read_text())
    out: dict[str, Any] = metrics["consultation"]
    return out


def _timeline(run: Path, party: str) -> list[str]:
    lines = (run / party / "events.jsonl").read_text().splitlines()
    return [e["text"] for e in map(json.loads, lines) if e["kind"] == "consult"]


def test_the_party_at_risk_convenes_by_itself(exercise: Path) -> None:
    c = _consultation(exercise)
    assert set(c) == set(PARTIES)
    for party in PARTIES:
        convened = c[party]["convened"]
        assert convened, f"{party} never saw the consultation convened"
        first = min(convened, key=lambda x: x["at_s"])
        assert first["by"] == "JP/leader/desk"
        assert "regions at risk: JP-" in first["reason"]
        assert first["at_s"] > 0  # after the launch, on Japan's warning
    # once per threat: Japan's alerting sends updates, Japan convenes once
    assert len(c["JP"]["convened"]) == 1


def test_the_silent_leader_s_alternate_is_paged_and_answers(exercise: Path) -> None:
    c = _consultation(exercise)
    assert c["KR"]["escalations"] == ["alternate"]
    (kr,) = c["KR"]["acks"]
    assert kr["by"] == "alternate" and kr["after_s"] >= ACK_TIMEOUT_S - 1
    assert c["US"]["acks"][0]["by"] == "leader" and c["US"]["escalations"] == []
    assert c["JP"]["acks"][0] == {"by": "leader", "after_s": 0.0}  # asking is answering


def test_a_joint_decision_signed_by_all_verifies_in_every_log(exercise: Path) -> None:
    c = _consultation(exercise)
    for party in PARTIES:
        assert c[party]["decisions_signed"] == 1 and c[party]["decisions_logged"] == 1
        assert c[party]["verify_ok"], c[party]["verify_problems"]
        db = exercise / party / CONSULT_DIR / "decisions.db"
        done = warnlink("consult", "verify", "--log", str(db), "--pki", str(exercise / "pki"))
        assert done.returncode == 0, done.stdout
        log = warnlink("consult", "log", "--data", str(exercise / party / CONSULT_DIR)).stdout
        assert "requested_action [JP,KR,US]: JP warns its public" in log
        assert "(signed JP,KR,US)" in log


def test_the_hub_holds_no_plaintext_of_the_consultation(exercise: Path) -> None:
    hub = b"".join(p.read_bytes() for p in (exercise / "hub").glob("hub.db*"))
    status = json.loads((exercise / "JP" / CONSULT_DIR / "status.json").read_text())
    leader = next(d for d, name in status["names"].items() if name == "JP/leader/desk")
    assert leader.encode() in hub  # the routing is there, by an id that says nothing
    for secret in SECRETS:
        assert secret.encode() not in hub, f"{secret!r} in the hub's storage"
    # nor who the principals are: device ids say nothing, roles go only to members
    for word in ("JP/leader/desk", "KR/alternate/desk", "leader", "alternate"):
        assert word.encode() not in hub, f"{word!r} in the hub's storage"
    decided = (exercise / "JP" / CONSULT_DIR / "decisions.db").read_bytes()
    assert SECRETS[1].encode() in decided  # where it belongs, in the clear


def test_the_timeline_and_the_report_show_the_consultation(exercise: Path) -> None:
    kr = _timeline(exercise, "KR")
    assert any(t.startswith("consultation convened by JP/leader/desk") for t in kr)
    assert any(t.startswith("alternate paged: leader did not acknowledge") for t in kr)
    assert any(t.startswith("acknowledged by alternate after") for t in kr)
    for party in PARTIES:
        texts = _timeline(exercise, party)
        assert any(t.startswith("decision proposed by JP") for t in texts)
        assert any(t.startswith("signed decision") for t in texts)
        assert "joint decision in the decision log (entry 0)" in texts
    page = (exercise.parent / "report.html").read_text()
    assert "consultation by JP/leader/desk at T+" in page
