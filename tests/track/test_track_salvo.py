"""The SRBM salvo (4 missiles and their spent stages, false alarms, Pd < 1) tracked end to end.

Truth comes from the real simulator; labels are used only here to score the tracks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from conftest import Tracked

SALVO = "srbm-salvo-east-sea"
FLIGHTS = [f"S1-{i}" for i in range(1, 5)]
CHI2_6_99 = 16.81  # 99 % point of chi-square with 6 degrees of freedom


def _track_of(run: Tracked, obj: str) -> str:
    """The confirmed track with obj as its majority object and the most of its plots."""
    cands = [(run.objects(tid)[obj], tid) for tid in run.confirmed() if run.majority(tid)[0] == obj]
    assert cands, f"no confirmed track follows {obj}"
    return max(cands)[1]


def test_every_rv_and_stage_has_one_pure_track_from_detection_to_impact(
    tracked: Callable[[str], Tracked],
) -> None:
    run = tracked(SALVO)
    for obj in [f"{f}/{part}" for f in FLIGHTS for part in ("RV", "S1")]:
        tid = _track_of(run, obj)
        ups = [u for u in run.by_track[tid] if u.measurement_id]
        _, purity = run.majority(tid)
        assert purity >= 0.9, (obj, tid, run.objects(tid))
        confirmed_at = next(u.t for u in ups if u.status == "confirmed")
        assert confirmed_at <= run.first_detection(obj) + 10.0, (obj, confirmed_at)
        assert ups[-1].t >= run.last_detection(obj) - 5.0, (obj, ups[-1].t)
        # the track carries most of the object's detections: it was not swapped or re-made
        share = run.objects(tid)[obj] / sum(1 for v in run.label.values() if v == obj)
        assert share >= 0.9, (obj, share)


def test_no_false_or_duplicate_confirmed_tracks(tracked: Callable[[str], Tracked]) -> None:
    run = tracked(SALVO)
    majorities = [run.majority(tid)[0] for tid in run.confirmed()]
    assert None not in majorities  # no confirmed track is made of false alarms (mostly)
    for tid in run.confirmed():
        assert any(o is not None for o in run.objects(tid))
    assert sorted(str(m) for m in majorities) == sorted(
        f"{f}/{p}" for f in FLIGHTS for p in ("RV", "S1")
    )


def test_stage_separation_makes_separate_tracks(tracked: Callable[[str], Tracked]) -> None:
    run = tracked(SALVO)
    for f in FLIGHTS:
        rv, stage = _track_of(run, f"{f}/RV"), _track_of(run, f"{f}/S1")
        assert rv != stage
        # the missile's track is the one born in boost; the stage's is born at separation
        assert run.by_track[rv][0].t < run.by_track[stage][0].t
        assert run.by_track[rv][-1].sources == frozenset({"radar", "infrared"})


def test_boost_probability_follows_the_motor(tracked: Callable[[str], Tracked]) -> None:
    run = tracked(SALVO)
    for f in FLIGHTS:
        rv = run.sim.truth.object(f"{f}/RV")
        burnout = next(
            e.t for e in run.sim.truth.events if e.kind == "burnout" and e.flight_id == f
        )
        ups = [u for u in run.by_track[_track_of(run, f"{f}/RV")] if u.status == "confirmed"]
        boost = [u.boost_probability for u in ups if u.t < burnout - 2.0]
        coast = [u.boost_probability for u in ups if u.t > burnout + 15.0]
        assert boost and np.mean(boost) > 0.8, (f, np.mean(boost))
        assert np.mean(coast) < 0.05, (f, np.mean(coast))
        assert rv.t_start < ups[0].t


def test_nees_on_the_ballistic_coast_is_consistent(tracked: Callable[[str], Tracked]) -> None:
    """Mean NEES (position and velocity, 6 dof) of every RV and stage over its coast.

    Successive updates are strongly correlated (a track is a smoothed memory of the same
    plots), so the chi-square interval of a mean of N independent samples would be far too
    narrow; we ask instead that the mean lies in [3, 9] (6 expected, a filter that is
    overconfident by a factor 1.5 in variance fails) and that fewer than 3 % of the updates
    exceed the 99 % point. Honest covariances matter more than small errors: impact
    ellipses are drawn from them.
    """
    run = tracked(SALVO)
    means = []
    for f in FLIGHTS:
        burnout = next(
            e.t for e in run.sim.truth.events if e.kind == "burnout" and e.flight_id == f
        )
        for part in ("RV", "S1"):
            obj = f"{f}/{part}"
            t, nees = run.nees(_track_of(run, obj), obj)
            coast = nees[(t > burnout + 20.0) & (t < run.sim.truth.object(obj).t_end - 10.0)]
            assert len(coast) > 500
            assert np.mean(coast > CHI2_6_99) < 0.03, (obj, np.mean(coast > CHI2_6_99))
            means.append(float(np.mean(coast)))
    assert 3.0 <= np.mean(means) <= 9.0, means
    assert all(2.0 <= m <= 12.0 for m in means), means
