"""End to end on simulated scenarios: each party tracks its own sensors, shares its tracks,
and fuses its own and its partners' reports; the fused picture is scored against the truth
beside each party's picture alone, at the same times."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from fusion_support import Replayed

from warnlink.evaluate.metrics import PointSeries
from warnlink.evaluate.pictures import PictureRow, attribute, point_errors
from warnlink.fusion.fuser import FusedTrack
from warnlink.fusion.replay import picture_rows
from warnlink.fusion.report import SharedTrack

IRBM, SALVO = "irbm-northern-japan", "srbm-salvo-east-sea"
FUSING = "JP"  # every party gets every report here, so one fused picture stands for all
RMS_TOLERANCE = 1.01  # a party's best estimate dominates; CI may move it by noise


class Pictures:
    """A scenario's fused picture and each party's picture alone, with their errors."""

    def __init__(self, rep: Replayed) -> None:
        self.rep = rep
        self.fused_tracks = rep.run.pictures(FUSING, sharing=True)
        self.fused = picture_rows(self.fused_tracks)
        self.alone = {
            p: picture_rows(rep.run.pictures(p, sharing=False)) for p in rep.run.parties()
        }

    def errors(self, picture: list[PictureRow]) -> dict[str, PointSeries]:
        return point_errors(picture, self.rep.run.fed_by, self.rep.labels, self.rep.truth)


@pytest.fixture(scope="module")
def scored(replayed: Callable[[str], Replayed]) -> Callable[[str], Pictures]:
    cache: dict[str, Pictures] = {}

    def get(stem: str) -> Pictures:
        if stem not in cache:
            cache[stem] = Pictures(replayed(stem))
        return cache[stem]

    return get


def rms_at(s: PointSeries, times: np.ndarray) -> float:
    return float(np.sqrt(np.mean(s.error_m[np.isin(s.since_launch, times)] ** 2)))


@pytest.mark.parametrize("stem", [IRBM, SALVO])
def test_fused_impact_never_worse_than_any_party_alone(
    scored: Callable[[str], Pictures], stem: str
) -> None:
    pics = scored(stem)
    fused = pics.errors(pics.fused)
    compared = 0
    for party, picture in pics.alone.items():
        for obj, alone in pics.errors(picture).items():
            common = np.intersect1d(alone.since_launch, fused[obj].since_launch)
            if len(common) < 10:
                continue
            compared += 1
            f, a = rms_at(fused[obj], common), rms_at(alone, common)
            assert f <= RMS_TOLERANCE * a, (party, obj, f, a)
    assert compared >= (3 if stem == IRBM else 6)


def test_fused_ellipses_hold_the_truth(scored: Callable[[str], Pictures]) -> None:
    inside = np.concatenate(
        [
            s.inside
            for stem in (IRBM, SALVO)
            for s in scored(stem).errors(scored(stem).fused).values()
        ]
    )
    assert len(inside) > 150
    assert 0.85 <= inside.mean() <= 1.0


def test_fused_ellipses_are_no_larger_than_the_best_partys(
    scored: Callable[[str], Pictures],
) -> None:
    pics = scored(SALVO)
    area: dict[tuple[float, str], list[float]] = {}
    for picture in pics.alone.values():
        for r in picture:
            obj = attribute(r.contributors, pics.rep.run.fed_by, pics.rep.labels)
            if r.impact is not None and obj is not None:
                e = r.impact.ellipse
                area.setdefault((r.t, obj), []).append(e.semi_major_m * e.semi_minor_m)
    ratios = []
    for r in pics.fused:
        obj = attribute(r.contributors, pics.rep.run.fed_by, pics.rep.labels)
        if r.impact is not None and (r.t, obj) in area:
            e = r.impact.ellipse
            ratios.append(e.semi_major_m * e.semi_minor_m / min(area[(r.t, obj)]))
    assert len(ratios) > 100
    assert np.median(ratios) <= 1.0 and np.quantile(ratios, 0.9) <= 1.5


def test_japan_warns_earlier_with_its_partners(scored: Callable[[str], Pictures]) -> None:
    pics = scored(SALVO)
    fused = pics.errors(pics.fused)
    alone = pics.errors(pics.alone["JP"])
    rv = "S1-1/RV"
    # Japan's radars see the low SRBMs late; Korea's and the US's reports come first
    assert fused[rv].since_launch[0] + 20.0 <= alone[rv].since_launch[0]


def test_salvo_missiles_stay_separate_system_tracks(scored: Callable[[str], Pictures]) -> None:
    pics = scored(SALVO)
    run, labels = pics.rep.run, pics.rep.labels
    held: dict[str, set[str]] = {}
    for _, picture in pics.fused_tracks:
        for f in picture:
            flights = {
                obj.split("/")[0]
                for k in f.contributors
                if (obj := attribute([k], run.fed_by, labels)) is not None
            }
            assert len(flights) <= 1, (f.system_id, f.contributors)  # no merge of missiles
            if flights and len(f.parties) > 1:
                held.setdefault(flights.pop(), set()).add(f.system_id)
    assert {"S1-1", "S1-2", "S1-3"} <= set(held)
    assert len(set.union(*held.values())) == sum(len(v) for v in held.values())


def test_system_ids_are_stable(scored: Callable[[str], Pictures]) -> None:
    pics = scored(IRBM)
    run, labels = pics.rep.run, pics.rep.labels
    ids = [
        f.system_id
        for _, picture in pics.fused_tracks
        for f in picture
        if len(f.parties) > 1 and attribute(f.contributors, run.fed_by, labels) == "L1/RV"
    ]
    assert len(ids) > 100
    assert max(ids.count(i) for i in set(ids)) >= 0.95 * len(ids)


def test_one_contributor_carries_its_own_estimates(scored: Callable[[str], Pictures]) -> None:
    pics = scored(SALVO)
    latest: dict[tuple[str, str], SharedTrack] = {}
    checked = 0
    for (t, reports), (_, picture) in zip(pics.rep.run.batches, pics.fused_tracks, strict=True):
        latest.update({(r.party, r.track): r for r in reports})
        singles: list[FusedTrack] = [f for f in picture if len(f.contributors) == 1]
        for f in singles:
            own = latest[f.contributors[0]]
            e = f.estimate
            assert (e.impact, e.launch, e.orbit) == (own.impact, own.launch, own.orbit), t
            assert e.predicted_from_t == own.predicted_from_t
            checked += 1
    assert checked > 50


def test_wide_infrared_boost_tracks_join_the_radar_tracks(
    scored: Callable[[str], Pictures],
) -> None:
    pics = scored(IRBM)
    run, labels = pics.rep.run, pics.rep.labels
    latest: dict[tuple[str, str], SharedTrack] = {}
    together = apart = 0
    for (_, reports), (_, picture) in zip(run.batches, pics.fused_tracks, strict=True):
        latest.update({(r.party, r.track): r for r in reports})
        system = {k: f.system_id for f in picture for k in f.contributors}
        on_rv = [k for k in system if attribute([k], run.fed_by, labels) == "L1/RV"]
        infrared = [k for k in on_rv if latest[k].sources == ["infrared"]]
        radar = [k for k in on_rv if "radar" in latest[k].sources and k[0] != "US"]
        for a in infrared:
            assert latest[a].boost_probability > 0.5
            for b in radar:
                together += system[a] == system[b]
                apart += system[a] != system[b]
    assert together >= 20 and apart == 0
