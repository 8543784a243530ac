"""Alignment: a report brought to a later time moves along its flight and grows uncertain."""

from __future__ import annotations

import numpy as np
from fusion_support import coasting_update

from warnlink.fusion.align import align, states
from warnlink.fusion.report import shared_tracks
from warnlink.track.estimates import EstimateMaker
from warnlink.track.manager import TrackerConfig
from warnlink.track.state import POS, VEL


def test_a_report_moves_on_its_coast_and_grows_uncertain() -> None:
    u = coasting_update("T1", 100.0)
    (s,) = shared_tracks("KR", [u], EstimateMaker().records([u]))
    x0, P0, _ = states([s])
    same, P_same, _ = align([s], 100.0, TrackerConfig())
    assert np.array_equal(same, x0) and np.array_equal(P_same, P0)  # at its own time: as sent
    x, P, pb = align([s], 105.0, TrackerConfig())
    moved = x[0, POS] - (x0[0, POS] + 5.0 * x0[0, VEL])
    assert np.linalg.norm(moved) < 0.5 * 9.81 * 5.0**2  # a coast: gravity's pull at most
    assert np.trace(P[0, POS, POS]) > np.trace(P0[0, POS, POS])
    assert pb[0] < 0.05  # a coasting report does not relight
