"""The Fuser on hand-made reports: pass-through of one contributor, no double counting of
one object's reports, separate objects kept apart, deletion and ageing."""

from __future__ import annotations

import msgspec
import numpy as np
from fusion_support import coasting_update

from warnlink.fusion.fuser import Fuser
from warnlink.fusion.report import SharedTrack, shared_tracks
from warnlink.track.estimates import EstimateMaker
from warnlink.track.state import N_STATE


def report(party: str, track: str, t: float = 100.0, shift_m: float = 0.0) -> SharedTrack:
    u = coasting_update(track, t)
    u.x = u.x.copy()
    u.x[0] += shift_m
    (s,) = shared_tracks(party, [u], EstimateMaker().records([u]))
    return s


def test_one_contributor_is_passed_through() -> None:
    s = report("KR", "T1")
    u = coasting_update("T1", 100.0)
    (own,) = EstimateMaker().records([u])
    fuser = Fuser("JP")
    fuser.add(s)
    (f,) = fuser.picture(100.0)
    assert f.system_id == "F1" and f.contributors == [("KR", "T1")] and f.parties == ["KR"]
    e = f.estimate
    assert (e.impact, e.launch, e.orbit) == (s.impact, s.launch, s.orbit)
    assert e.predicted_from_t == s.predicted_from_t == own.predicted_from_t == 100.0
    assert e.track == "F1" and e.status == "confirmed" and e.sources == ["radar"]
    np.testing.assert_allclose(e.ecef_m, own.ecef_m, rtol=0, atol=1e-6)
    np.testing.assert_allclose(e.cov_ecef, own.cov_ecef, rtol=1e-9)


def test_two_reports_of_one_object_fuse_without_double_counting() -> None:
    fuser = Fuser("JP")
    fuser.add(report("KR", "T1"))
    fuser.add(report("US", "T9", shift_m=50.0))
    (f,) = fuser.picture(100.0)
    assert f.contributors == [("KR", "T1"), ("US", "T9")] and f.parties == ["KR", "US"]
    P = np.reshape(report("KR", "T1").cov_eci, (N_STATE, N_STATE))
    fused = np.reshape(f.estimate.cov_ecef, (6, 6))
    # equal covariances: the intersection is the input, not half of it
    assert np.linalg.det(fused[:3, :3]) >= 0.99 * np.linalg.det(P[:3, :3])
    assert f.estimate.impact is not None and f.estimate.predicted_from_t == 100.0


def test_objects_far_apart_stay_apart_and_ids_are_stable() -> None:
    fuser = Fuser("JP")
    for t in (100.0, 101.0, 102.0):
        fuser.add(report("KR", "T1", t))
        fuser.add(report("KR", "T2", t, shift_m=30e3))
        fuser.add(report("US", "T5", t, shift_m=30e3 + 80.0))
        fuser.add(report("US", "T6", t, shift_m=60.0))
        pic = {f.system_id: f.contributors for f in fuser.picture(t)}
        assert pic == {"F1": [("KR", "T1"), ("US", "T6")], "F2": [("KR", "T2"), ("US", "T5")]}


def test_deleted_and_stale_reports_leave_the_picture() -> None:
    fuser = Fuser("JP", max_age_s=10.0)
    fuser.add(report("KR", "T1", 100.0))
    fuser.add(report("US", "T9", 100.0))
    assert len(fuser.picture(100.0)) == 1
    fuser.add(msgspec.structs.replace(report("US", "T9", 101.0), deleted=True))
    (f,) = fuser.picture(101.0)
    assert f.contributors == [("KR", "T1")]
    assert f.estimate.ecef_m != report("KR", "T1").state_eci[:3]  # aligned to 101 s
    # KR silent (an outage, or its computing behind): held, predicted, for max_hold_s
    assert fuser.picture(130.0) and not fuser.picture(130.5)


def test_a_track_its_origin_stopped_reporting_leaves_while_the_origin_reports_others() -> None:
    fuser = Fuser("JP", max_age_s=10.0)
    fuser.add(report("KR", "T1", 100.0))
    fuser.add(report("KR", "T2", 100.0, shift_m=30e3))
    assert len(fuser.picture(100.0)) == 2
    fuser.add(report("KR", "T2", 110.0, shift_m=30e3))
    assert len(fuser.picture(110.0)) == 2  # T1 is 10 s behind its origin's newest: kept
    fuser.add(report("KR", "T2", 110.5, shift_m=30e3))
    (f,) = fuser.picture(110.5)
    assert f.contributors == [("KR", "T2")]


def test_own_tracks_are_never_dropped_for_the_clock_only_for_newer_own_reports() -> None:
    fuser = Fuser("JP", max_age_s=10.0, max_hold_s=30.0)
    fuser.add(report("JP", "T1", 100.0))
    assert len(fuser.picture(170.0)) == 1  # its own computing 70 s behind: predicted forward


def test_a_lone_own_track_leaves_once_its_tracker_has_gone_on_without_it() -> None:
    # the party's only track (a spent stage below its radars' horizon) is no longer
    # measured: once the tracker has processed max_age_s past it, it is not current
    fuser = Fuser("JP", max_age_s=10.0, max_hold_s=30.0)
    fuser.add(report("JP", "T1", 100.0))
    fuser.add(report("KR", "T5", 100.0, shift_m=30e3))
    fuser.processed(110.0)
    assert len(fuser.picture(112.0)) == 2  # 10 s behind its tracker: kept
    fuser.processed(110.5)
    (f,) = fuser.picture(112.0)
    assert f.contributors == [("KR", "T5")]  # a partner's is judged by its own reports
    fuser.processed(90.0)  # the mark never goes back
    fuser.add(report("JP", "T2", 100.0))
    assert [f.contributors for f in fuser.picture(112.0)] == [[("KR", "T5")]]


def test_reports_newer_than_the_picture_wait() -> None:
    fuser = Fuser("JP")
    fuser.add(report("KR", "T1", 105.0))
    assert fuser.picture(104.0) == []
    assert len(fuser.picture(105.0)) == 1


def test_a_member_leaves_only_after_repeated_gate_failures() -> None:
    fuser = Fuser("JP", max_gate_misses=3)
    fuser.add(report("KR", "T1", 100.0))
    fuser.add(report("US", "T9", 100.0))
    assert [f.contributors for f in fuser.picture(100.0)] == [[("KR", "T1"), ("US", "T9")]]
    for t in (101.0, 102.0, 103.0):
        fuser.add(report("KR", "T1", t))
        fuser.add(report("US", "T9", t, shift_m=20e3))  # now far outside the gate
        pic = {f.system_id: f.contributors for f in fuser.picture(t)}
        if t < 103.0:  # kept through two failures: one bad update does not split a track
            assert pic == {"F1": [("KR", "T1"), ("US", "T9")]}
    assert pic == {"F1": [("KR", "T1")], "F2": [("US", "T9")]}  # the first member keeps F1


def test_system_tracks_of_different_parties_merge_once_they_meet() -> None:
    fuser = Fuser("US")
    fuser.add(report("US", "T2", 100.0))
    fuser.add(report("KR", "T3", 100.0))
    fuser.add(report("KR", "T4", 100.0, shift_m=30e3))  # KR's new track, far at first
    pic = {f.system_id: f.contributors for f in fuser.picture(100.0)}
    assert pic == {"F1": [("KR", "T3"), ("US", "T2")], "F2": [("KR", "T4")]}
    # KR's T3 drifts off (to the spent stage) and its T4 comes onto US's T2
    for t in (101.0, 102.0, 103.0, 104.0):
        fuser.add(report("US", "T2", t))
        fuser.add(report("KR", "T3", t, shift_m=30e3))
        fuser.add(report("KR", "T4", t, shift_m=20.0))
        pic = {f.system_id: f.contributors for f in fuser.picture(t)}
    assert pic["F1"] == [("KR", "T4"), ("US", "T2")], pic
    assert [("KR", "T3")] in pic.values() and "F2" not in pic


def test_system_tracks_holding_the_same_party_never_merge() -> None:
    fuser = Fuser("US")
    fuser.add(report("US", "T1", 100.0))
    fuser.add(report("US", "T2", 100.0, shift_m=10.0))  # two of its own tracks, one place
    assert len(fuser.picture(100.0)) == 2
