"""Warning lifecycles: corrections with references, passes, falls, lifts, all-clear."""

from __future__ import annotations

import numpy as np
from alert_support import (
    AKITA,
    EPOCH,
    IWATE,
    PACIFIC_FAR,
    SEA_OF_JAPAN_EEZ,
    boosting,
    falling_on,
    impact,
    policy,
    state_estimate,
)
from msgspec import structs

from warnlink.alert.areas import assess, region_index
from warnlink.alert.cap import alert_xml
from warnlink.alert.lifecycle import AlertMessage, Authority
from warnlink.formats.records import Estimate, Orbit, vec3
from warnlink.geo.frames import ecef_to_eci, ecef_to_geodetic, eci_to_ecef, enu_basis
from warnlink.physics.propagate import coast


def _chain_ok(msgs: list[AlertMessage]) -> None:
    """Each message references every earlier one of its chain, as 'sender,identifier,sent'."""
    for i, m in enumerate(msgs):
        assert [str(r) for r in m.references] == [f"{p.sender},{p.id},{p.sent}" for p in msgs[:i]]
        assert m.sent.endswith("+09:00") and len(m.sent) == len("2022-10-04T07:22:00+09:00")
        alert_xml(m)  # valid CAP
    assert len({m.id for m in msgs}) == len(msgs)


def test_corrections_as_the_impact_moves_then_fell_at_sea_and_all_clear() -> None:
    auth = Authority(policy(), EPOCH, exercise=True)
    (m1,) = auth.update(boosting(5.0))
    assert (m1.msg_type, m1.stage, len(m1.region_ids)) == ("Alert", "launch", 47)
    (m2,) = auth.update(falling_on(*AKITA, t=20.0))
    assert (m2.msg_type, m2.stage) == ("Update", "impact_expected")
    assert [p.stage for p in m2.parts] == ["impact_expected", "lifted"]
    assert {r.region.id for r in m2.parts[0].risks} == {"JP-05"}
    assert len(m2.parts[1].risks) == 46
    (m3,) = auth.update(falling_on(*IWATE, t=25.0))
    assert {r.region.id for r in m3.parts[0].risks} == {"JP-03"}  # added
    assert {r.region.id for r in m3.parts[1].risks} == {"JP-05"}  # lifted
    assert auth.update(falling_on(*IWATE, t=26.0)) == []  # no change: nothing goes out
    (m4,) = auth.update(falling_on(*PACIFIC_FAR, t=30.0))
    assert [p.stage for p in m4.parts] == ["lifted"] and m4.msg_type == "Update"
    rest = auth.finish()
    assert [(m.msg_type, m.stage) for m in rest] == [("Update", "fell"), ("Cancel", "all_clear")]
    fell = rest[0].parts[0]
    assert fell.place is not None and fell.place.waters == "outside" and not fell.risks
    assert "排他的経済水域（EEZ）外" in fell.texts["ja-JP"].description
    assert rest[0].t >= 30.0 + 60.0  # after the predicted impact time
    _chain_ok(auth.messages)


def test_fell_on_land_then_all_clear() -> None:
    auth = Authority(policy(all_clear_after_s=300.0), EPOCH)
    auth.update(falling_on(*AKITA, t=20.0))
    assert auth.advance(79.0) == []  # impact predicted at 80 (+30 s margin)
    (fell,) = auth.advance(111.0)
    assert fell.stage == "fell" and fell.region_ids == {"JP-05"}
    assert (
        "この地域にミサイルが落下した可能性があります" in fell.parts[0].texts["ja-JP"].description
    )
    assert auth.advance(400.0) == []
    (clear,) = auth.advance(411.0)
    assert clear.msg_type == "Cancel" and clear.stage == "all_clear"
    assert clear.parts[0].texts["ko-KR"].description.startswith("[FDMA test]")
    _chain_ok(auth.messages)


def test_overflight_passes_region_by_region() -> None:
    lat_end, lon_end = 39.48, 144.8  # where the hop comes down, as the corridor test finds
    e = state_estimate(
        0.0, 39.7, 138.5, 99e3, (2500.0, 0.0, 500.0),
        impact_point=impact(lat_end, lon_end, 230.0),
    )  # fmt: skip
    auth = Authority(policy(corridor_ceiling_m=150e3, passed_margin_s=5.0), EPOCH)
    (alert,) = auth.update(e)
    assert (alert.msg_type, alert.stage) == ("Alert", "overflight_expected")
    risks = {r.region.id: r for r in alert.parts[0].risks}
    assert {"JP-05", "JP-03"} <= set(risks)
    akita_left = risks["JP-05"].t_over_last
    assert akita_left is not None and akita_left < risks["JP-03"].t_over_last  # type: ignore[operator]
    assert alert.parts[0].t_event == min(r.t_over_first for r in risks.values())  # type: ignore[type-var]
    (passed,) = auth.advance(akita_left + 5.0)
    stages = {p.stage: {r.region.id for r in p.risks} for p in passed.parts}
    assert "JP-05" in stages["passed"] and "JP-03" in stages["overflight_expected"]
    assert "通過した模様です" in passed.parts[1].texts["ja-JP"].description
    rest = auth.finish()
    assert [m.stage for m in rest] == ["passed", "fell", "all_clear"]
    assert rest[1].parts[0].place is not None and not rest[1].parts[0].place.on_land
    _chain_ok(auth.messages)


def test_orbit_lifts_and_cancels_at_once() -> None:
    auth = Authority(policy(), EPOCH)
    auth.update(boosting(5.0))
    up = state_estimate(60.0, 35.0, 135.0, 300e3, (7700.0, 0.0, 0.0))
    up = structs.replace(up, orbit=Orbit(280e3, 320e3, 0.99))
    (cancel,) = auth.update(up)
    assert (cancel.msg_type, cancel.stage) == ("Cancel", "lifted")
    assert len(cancel.region_ids) == 47
    assert "着弾・通過のおそれがなくなりました" in cancel.parts[0].texts["ja-JP"].description
    assert auth.finish() == []
    _chain_ok(auth.messages)


def test_lost_track_is_cleared_after_silence() -> None:
    auth = Authority(policy(lost_after_s=60.0, all_clear_after_s=120.0), EPOCH)
    auth.update(boosting(5.0))
    deleted = structs.replace(boosting(10.0), status="deleted")
    assert auth.update(deleted) == []
    assert auth.advance(60.0) == []  # silent since 5 s: lost from 65 s
    assert auth.advance(65.0 + 119.0) == []
    (clear,) = auth.advance(65.0 + 120.0)
    assert clear.msg_type == "Cancel" and clear.stage == "all_clear"
    assert len(clear.region_ids) == 47


def test_tentative_estimates_and_other_tracks_are_separate() -> None:
    auth = Authority(policy(), EPOCH)
    assert auth.update(structs.replace(boosting(5.0), status="tentative")) == []
    a = auth.update(falling_on(*AKITA, t=6.0, track="A"))
    b = auth.update(falling_on(*IWATE, t=7.0, track="B"))
    assert [m.msg_type for m in a + b] == ["Alert", "Alert"]
    assert a[0].references == () and b[0].references == ()
    assert {m.track for m in auth.current()} == {"A", "B"}


def test_launch_sector_only_grows_while_the_motor_burns() -> None:
    auth = Authority(policy(launch_sector_deg=10.0, include_neighbours=True), EPOCH)
    (first,) = auth.update(boosting(5.0, heading=(77.0, 2.0)))
    msgs = [
        m
        for h in (70.0, 90.0, 77.0, 60.0)
        for m in auth.update(boosting(6.0 + h / 10, heading=(h, 2.0)))
    ]
    assert all(p.stage == "launch" for m in msgs for p in m.parts)  # nothing lifted
    sizes = [len(first.region_ids)] + [len(m.region_ids) for m in msgs]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]
    assert auth.update(boosting(20.0, heading=(77.0, 2.0))) == []  # nothing new


def test_a_second_track_of_the_same_threat_joins_its_warning() -> None:
    auth = Authority(policy(), EPOCH)
    (first,) = auth.update(boosting(5.0, track="KR:T1"))
    assert first.msg_type == "Alert"
    # another party's track of the same booster, one second on: no second alert
    assert auth.update(boosting(6.0, track="US:T7")) == []
    # a track 90 km away is another threat
    (other,) = auth.update(falling_on(*AKITA, t=6.5, track="X"))
    assert other.msg_type == "Alert" and other.references == ()
    # while the first track reports, the joined one (no trajectory yet) is not assessed
    assert auth.update(boosting(7.0, track="KR:T1")) == []
    assert auth.update(boosting(8.0, track="US:T7")) == []
    # the first falls silent: the joined track carries the threat's warning on
    (update,) = auth.update(falling_on(*IWATE, t=20.0, track="US:T7"))
    assert update.msg_type == "Update" and update.track == "KR:T1"
    assert update.references == (first.reference,)
    assert {r.region.id for r in update.parts[0].risks} == {"JP-03"}
    _chain_ok([m for m in auth.messages if m.track == "KR:T1"])


def test_same_threat_needs_a_recent_estimate() -> None:
    auth = Authority(policy(same_threat_window_s=10.0), EPOCH)
    auth.update(boosting(5.0, track="A"))
    (late,) = auth.update(boosting(30.0, track="B"))  # 25 s later: not joined
    assert late.msg_type == "Alert" and late.track == "B"


def test_a_joined_track_with_its_own_trajectory_is_warned_on_its_own() -> None:
    """Warhead and stage leave the boost as one threat; when the stage's track predicts
    the sea and the warhead's Akita, the warhead's region is warned, not lifted."""
    auth = Authority(policy(), EPOCH)
    auth.update(boosting(5.0, track="stage"))
    assert auth.update(boosting(6.0, track="rv")) == []  # joined: one launch alert
    (sea,) = auth.update(falling_on(*PACIFIC_FAR, t=20.0, track="stage"))
    assert sea.msg_type == "Update" and [p.stage for p in sea.parts] == ["lifted"]
    (rv,) = auth.update(falling_on(*AKITA, t=21.0, track="rv"))
    assert (rv.msg_type, rv.stage, rv.track) == ("Alert", "impact_expected", "rv")
    assert rv.region_ids == {"JP-05"}
    assert {m.track for m in auth.current()} == {"stage", "rv"}


def test_a_second_track_of_a_lifted_threat_is_no_new_launch() -> None:
    """A booster heading away: its warning is lifted and cancelled while it still burns.
    A new track of the same object (a partner's, or a tracker's duplicate, with a wide
    heading of its own) joins the lifted threat instead of a second launch alert, and a
    moment's wide heading of its own track does not start one either."""
    auth = Authority(policy(launch_sector_deg=10.0), EPOCH)
    (first,) = auth.update(boosting(5.0))  # no heading yet: all round
    msgs = [
        m for t in range(7, 40, 2) for m in auth.update(boosting(float(t), heading=(270.0, 2.0)))
    ]
    assert msgs[-1].msg_type == "Cancel" and [m.msg_type for m in auth.current()] == ["Cancel"]
    assert auth.update(boosting(40.0, track="dup")) == []
    assert auth.update(boosting(41.0, heading=(270.0, 2.0))) == []
    assert auth.update(boosting(41.5, track="dup")) == []  # ignored while T1 reports
    # the heading blurs for a moment (staging): no news about where it goes, no new alert
    assert auth.update(boosting(43.0, heading=(270.0, 25.0))) == []
    assert auth.update(boosting(45.0)) == []
    # a well-known heading that turns towards Japan brings its regions back
    (back,) = auth.update(boosting(47.0, heading=(110.0, 2.0)))
    assert (back.msg_type, back.stage) == ("Alert", "launch") and "JP-13" in back.region_ids
    # before the fix, the same second track after a lift started a new launch alert
    fresh = Authority(policy(launch_sector_deg=10.0), EPOCH)
    (alert,) = fresh.update(boosting(40.0, track="dup"))
    assert (alert.msg_type, alert.stage) == (
        "Alert",
        "launch",
    ) and alert.region_ids == first.region_ids


def test_a_lifted_region_on_the_sectors_edge_does_not_flicker_back() -> None:
    """Heading south-east, known to 2 degrees: regions outside the sector are lifted. A
    heading that moves a degree or two puts one back on the sector's edge: it stays lifted
    (launch_return_margin_deg); a real turn brings it back."""
    pol = policy(launch_sector_deg=10.0)
    auth = Authority(pol, EPOCH)
    auth.update(boosting(5.0))
    for t in range(7, 40, 2):
        auth.update(boosting(float(t), heading=(130.0, 2.0)))
    lifted = {
        r.region.id for m in auth.messages for p in m.parts if p.stage == "lifted" for r in p.risks
    }
    # the smallest change of heading whose sector touches a lifted region again
    index = region_index(pol.countries)

    def touched(h: float) -> set[str]:
        risks = assess(boosting(41.0, heading=(h, 2.0)), pol, index).risks
        return {r.region.id for r in risks} & lifted

    edge = next((h, touched(h)) for h in np.arange(130.5, 150.0, 0.5) if touched(h))
    assert edge[0] - 130.0 <= pol.launch_return_margin_deg
    assert auth.update(boosting(41.0, heading=(edge[0], 2.0))) == []  # on the edge: not back
    turned = auth.update(boosting(43.0, heading=(edge[0] + 2 * pol.launch_return_margin_deg, 2.0)))
    assert edge[1] <= {
        r.region.id for m in turned for p in m.parts if p.stage == "launch" for r in p.risks
    }


def test_a_well_known_heading_lifts_regions_long_outside_the_sector() -> None:
    """A long boost (a satellite launcher) heading south-east: once the heading is known
    to 3 degrees, Hokkaido, outside the sector for 20 s, is lifted; Okinawa stays."""
    auth = Authority(policy(launch_sector_deg=10.0), EPOCH)
    (first,) = auth.update(boosting(5.0))  # no heading yet: all round
    assert {"JP-01", "JP-47"} <= first.region_ids
    msgs = [
        m for t in range(7, 40, 2) for m in auth.update(boosting(float(t), heading=(150.0, 3.0)))
    ]
    lifted = {r.region.id for m in msgs for p in m.parts if p.stage == "lifted" for r in p.risks}
    assert "JP-01" in lifted and "JP-47" not in lifted
    first_lift = min(m.t for m in msgs if any(p.stage == "lifted" for p in m.parts))
    assert first_lift >= 7.0 + 20.0  # outside the sector from t = 7, lifted 20 s later
    # a wide heading never narrows the sector
    wide = Authority(policy(launch_sector_deg=10.0), EPOCH)
    wide.update(boosting(5.0))
    later = [
        m for t in range(7, 40, 2) for m in wide.update(boosting(float(t), heading=(150.0, 15.0)))
    ]
    assert not any(p.stage == "lifted" for m in later for p in m.parts)


def _flown(e: Estimate, t: float, east_m: float = 0.0) -> Estimate:
    """e's object at t, flown by the coast model (vacuum; shifted east_m), as a new track
    with no prediction yet (the tracker withholds it for a new track's first seconds)."""
    r, v = ecef_to_eci(e.t, np.array([e.ecef_m]), np.array([e.vel_mps]))
    (arc,) = coast(e.t, r, v, t_stop=t)
    r1, v1 = eci_to_ecef(arc.t[-1:], arc.r[-1:], arc.v[-1:])
    lat, lon, _ = ecef_to_geodetic(r1[0])
    shift = east_m * enu_basis(float(lat), float(lon))[0]
    return structs.replace(
        e, t=t, track="new", ecef_m=vec3(r1[0] + shift), vel_mps=vec3(v1[0]), impact=None
    )


def test_a_coasting_threat_re_acquired_after_a_gap_is_not_a_new_launch() -> None:
    """A lofted missile's warhead leaves every sensor's cover near apogee; the new track
    of it minutes later (no prediction in its first seconds) continues its threat's
    warning instead of a launch alert for every region within reach."""
    auth = Authority(policy(), EPOCH)
    high = state_estimate(
        100.0, 41.5, 134.9, 1300e3, (-1500.0, 0.0, -2500.0), track="rv",
        impact_point=impact(*SEA_OF_JAPAN_EEZ, 500.0),
    )  # fmt: skip
    assert auth.update(high) == []  # a trajectory into the sea: nothing to warn
    assert auth.update(_flown(high, 250.0)) == []  # 150 s later, where the rv is: joined
    # 300 km off the flown path it is something else: warned as a launch
    other = Authority(policy(), EPOCH)
    other.update(high)
    (alert,) = other.update(_flown(high, 250.0, east_m=300e3))
    assert (alert.msg_type, alert.stage) == ("Alert", "launch")
