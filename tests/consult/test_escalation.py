"""Acknowledgement deadlines and escalation to alternates, on a fake clock."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey

from warnlink.consult.escalation import (
    Acknowledged,
    Escalation,
    Exhausted,
    Notify,
    Status,
)
from warnlink.consult.log import plain_verifier
from warnlink.consult.roster import (
    DeviceKeys,
    HeldDevice,
    Holders,
    Membership,
    Principal,
    Roster,
    roster_hash,
    sign_holders,
    sign_roster,
)
from warnlink.exchange.signing import Signer


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


CHAINS = {"US": ["smith", "jones", "brown"], "JP": ["sato", "tanaka"]}


def test_leaders_first_then_alternates_then_exhausted() -> None:
    clock = Clock()
    esc = Escalation(CHAINS, 30, clock)
    assert esc.start() == [Notify("JP", "sato", 0, 1030), Notify("US", "smith", 0, 1030)]
    assert esc.poll() == []
    clock.t = 1029.9
    assert esc.poll() == []
    clock.t = 1030
    assert esc.poll() == [Notify("JP", "tanaka", 1, 1060), Notify("US", "jones", 1, 1060)]
    assert esc.next_deadline() == 1060
    clock.t = 1061
    assert esc.poll() == [Exhausted("JP", 1060), Notify("US", "brown", 2, 1090)]
    assert esc.status("JP") is Status.EXHAUSTED and esc.current("US") == "brown"
    clock.t = 1095
    assert esc.poll() == [Exhausted("US", 1090)]
    assert esc.done and esc.next_deadline() is None
    assert esc.poll() == []


def test_acknowledgement_stops_escalation_and_counts_once() -> None:
    clock = Clock(0)
    esc = Escalation(CHAINS, [10, 20], clock)
    esc.start()
    clock.t = 4
    assert esc.acknowledge("JP", "sato") == [Acknowledged("JP", "sato", 4)]
    assert esc.acknowledge("JP", "tanaka") == []
    assert esc.acknowledged_by("JP") == "sato"
    clock.t = 10
    assert esc.poll() == [Notify("US", "jones", 1, 30)]  # the second step has 20 s
    clock.t = 31
    # smith answers late, while brown is being asked: that still counts
    assert esc.acknowledge("US", "smith") == [
        Notify("US", "brown", 2, 50),
        Acknowledged("US", "smith", 31),
    ]
    assert esc.done and esc.status("US") is Status.ACKNOWLEDGED


def test_a_late_poll_catches_up_without_drift() -> None:
    clock = Clock(0)
    esc = Escalation({"US": ["smith", "jones", "brown"]}, 10, clock)
    esc.start()
    clock.t = 25  # the driver slept through two deadlines
    assert esc.poll() == [Notify("US", "jones", 1, 20), Notify("US", "brown", 2, 30)]
    clock.t = 29
    assert esc.poll() == []


def test_late_acknowledgement_after_exhaustion_is_still_recorded() -> None:
    clock = Clock(0)
    esc = Escalation({"JP": ["sato"]}, 5, clock)
    esc.start()
    clock.t = 6
    assert esc.poll() == [Exhausted("JP", 5)]
    assert esc.acknowledge("JP", "sato") == [Acknowledged("JP", "sato", 6)]


def test_strangers_and_bad_timeouts_refused() -> None:
    esc = Escalation(CHAINS, 5, Clock())
    with pytest.raises(ValueError, match="not in this request"):
        esc.acknowledge("US", "sato")
    with pytest.raises(ValueError, match="positive"):
        Escalation(CHAINS, 0, Clock())


def test_chains_from_the_membership_skip_principals_without_devices() -> None:
    """The escalation's chains come from the holders lists members got in the channel:
    rank order, a principal whose devices all left the roster skipped, and a party whose
    list has not come has nobody to page."""
    signers = {
        p: Signer(p, SigningKey(bytes([i + 1]) * 32), b"") for i, p in enumerate(["KR", "JP"])
    }
    members = Membership("c1", {p: plain_verifier(p, s.public_key) for p, s in signers.items()})
    devs = [DeviceKeys(f"KR/{n}", "c", "e") for n in ("a", "b", "c")]

    def publish(version: int, keep: list[DeviceKeys]) -> None:
        roster = sign_roster(Roster("c1", "KR", version, tuple(keep)), signers["KR"])
        kept = {k.device for k in keep}
        held = tuple(
            Principal(name, "leader" if rank == 0 else "alternate", rank,
                      tuple(HeldDevice(d, "desk") for d in [device] if d in kept))
            for name, rank, device in [("park", 2, "KR/b"), ("lee", 0, "KR/a"), ("kim", 1, "KR/c")]
        )  # fmt: skip
        holders = Holders("c1", "KR", version, roster_hash(roster), held)
        members.apply(roster)
        members.apply_holders(sign_holders(holders, roster, signers["KR"]))

    publish(1, devs)
    assert members.chains() == {"KR": ["lee", "kim", "park"]}
    publish(2, devs[:2])  # kim's only device removed
    members.apply(sign_roster(Roster("c1", "JP", 1, ()), signers["JP"]))
    assert members.chains() == {"KR": ["lee", "park"], "JP": []}
    # a roster that drops park's device, its holders list not here yet: park skipped
    members.apply(sign_roster(Roster("c1", "KR", 3, (devs[0],)), signers["KR"]))
    assert members.chains()["KR"] == ["lee"]
    esc = Escalation(members.chains(), 10, Clock(0))
    assert esc.start() == [Exhausted("JP", 0), Notify("KR", "lee", 0, 10)]
