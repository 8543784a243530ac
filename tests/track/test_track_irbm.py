"""An IRBM seen by infrared and radar keeps one track through staging and burnout."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from conftest import Tracked

IRBM = "irbm-northern-japan"


def test_one_track_from_boost_through_burnout(tracked: Callable[[str], Tracked]) -> None:
    run = tracked(IRBM)
    burnout = next(e.t for e in run.sim.truth.events if e.kind == "burnout")
    staging = next(e.t for e in run.sim.truth.events if e.kind == "stage_separation")
    first = run.first_detection("L1/RV")
    # the missile's track: born in boost on the missile and still alive long after burnout
    born = [
        tid
        for tid, ups in run.confirmed().items()
        if ups[0].t <= first + 10.0 and run.label[ups[0].measurement_id or ""] == "L1/RV"
    ]
    assert len(born) == 1, born
    ups = [u for u in run.by_track[born[0]] if u.measurement_id]
    assert ups[-1].t > burnout + 300.0
    assert ups[-1].sources == frozenset({"radar", "infrared"})
    # through first-stage separation and burnout it stays on the missile: before burnout on
    # the stack, after it on the RV or its spent second stage, which separates at 2 m/s and
    # so stays unresolved (a few hundred metres apart) for the whole flight
    before = [run.label[u.measurement_id or ""] for u in ups if u.t < burnout]
    after = [run.label[u.measurement_id or ""] for u in ups if u.t > burnout]
    assert np.mean([o == "L1/RV" for o in before]) >= 0.95
    assert np.mean([o in ("L1/RV", "L1/S2") for o in after]) >= 0.98
    assert np.mean([o == "L1/RV" for o in after]) >= 0.6
    boost = [u.boost_probability for u in ups if ups[0].t + 10.0 < u.t < burnout - 2.0]
    coast = [u.boost_probability for u in ups if u.t > burnout + 20.0]
    assert np.mean(boost) > 0.9
    assert np.mean(coast) < 0.05
    assert all(u.status == "confirmed" for u in ups if u.t > staging)


def test_the_spent_first_stage_gets_its_own_track(tracked: Callable[[str], Tracked]) -> None:
    run = tracked(IRBM)
    stage = [tid for tid in run.confirmed() if run.majority(tid)[0] == "L1/S1"]
    assert len(stage) == 1
    assert run.majority(stage[0])[1] >= 0.9
    assert None not in [run.majority(tid)[0] for tid in run.confirmed()]
