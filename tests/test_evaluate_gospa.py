"""GOSPA and OSPA against hand-computed cases, and GOSPA's metric properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warnlink.evaluate.gospa import gospa, gospa_series

C = 10.0


def pts(*xy: tuple[float, float]) -> np.ndarray:
    return np.array(xy, dtype=float).reshape(-1, 2)


@pytest.mark.parametrize(
    ("x", "y", "total", "loc", "missed", "false"),
    [
        (pts(), pts(), 0.0, 0.0, 0, 0),
        (pts((0, 0)), pts(), math.sqrt(C**2 / 2), 0.0, 1, 0),  # one missed: c^p / 2
        (pts(), pts((0, 0), (5, 5)), math.sqrt(C**2), 0.0, 0, 2),
        (pts((0, 0)), pts((3, 4)), 5.0, 5.0, 0, 0),
        (pts((0, 0)), pts((30, 0)), math.sqrt(C**2), 0.0, 1, 1),  # beyond c: missed + false
        (pts((0, 0), (100, 0)), pts((3, 4), (100, 0), (50, 50)), math.sqrt(25 + 50), 5.0, 0, 1),
        (pts((0, 0), (10, 0)), pts((1, 0)), math.sqrt(1 + 50), 1.0, 1, 0),
    ],
)
def test_gospa_hand_cases(
    x: np.ndarray, y: np.ndarray, total: float, loc: float, missed: int, false: int
) -> None:
    g = gospa(x, y, C, 2.0)
    assert g.gospa == pytest.approx(total)
    assert g.localisation == pytest.approx(loc)
    assert (g.missed, g.false) == (missed, false)
    # the decomposition is exact in p-th powers
    assert g.gospa**2 == pytest.approx(g.localisation**2 + C**2 / 2 * (g.missed + g.false))


def test_gospa_prefers_the_optimal_assignment() -> None:
    # greedy nearest-first would pair (0) with (4) and leave (8) at distance 8 from (-3)
    g = gospa(pts((-3, 0), (4, 0)), pts((0, 0), (8, 0)), 100.0, 2.0)
    assert g.gospa == pytest.approx(math.sqrt(3**2 + 4**2))


def test_ospa_hand_case() -> None:
    g = gospa(pts((0, 0), (10, 0)), pts((1, 0)), C, 2.0)
    assert g.ospa == pytest.approx(math.sqrt((1 + C**2) / 2))
    assert gospa(pts(), pts((1, 1)), C, 2.0).ospa == pytest.approx(C)


def test_gospa_series_uses_only_alive_points() -> None:
    truth = np.array([[[0.0, 0, 0], [0, 0, 0]], [[50.0, 0, 0], [50, 0, 0]]])  # 2 objects, 2 t
    alive = np.array([[True, True], [False, True]])
    est = np.array([[[3.0, 4, 0], [3, 4, 0]]])
    est_ok = np.array([[True, False]])
    s = gospa_series(truth, alive, est, est_ok, C, 2.0)
    assert s["gospa"][0] == pytest.approx(5.0)
    assert s["missed"].tolist() == [0, 2]
    assert s["gospa"][1] == pytest.approx(math.sqrt(2 * C**2 / 2))


coord = st.floats(-25.0, 25.0, allow_nan=False).map(lambda v: round(v, 3))  # no subnormals
point_sets = st.lists(st.tuples(coord, coord), min_size=0, max_size=4).map(
    lambda xs: np.array(xs, dtype=float).reshape(-1, 2)
)


@settings(max_examples=300, deadline=None)
@given(point_sets, point_sets, point_sets, st.sampled_from([1.0, 2.0, 3.0]))
def test_gospa_is_a_metric(x: np.ndarray, y: np.ndarray, z: np.ndarray, p: float) -> None:
    d_xy, d_yx = gospa(x, y, C, p).gospa, gospa(y, x, C, p).gospa
    assert d_xy >= 0.0
    assert d_xy == pytest.approx(d_yx, abs=1e-9)
    assert gospa(x, x, C, p).gospa == pytest.approx(0.0, abs=1e-9)
    assert gospa(x, z, C, p).gospa <= d_xy + gospa(y, z, C, p).gospa + 1e-9


@settings(max_examples=100, deadline=None)
@given(point_sets, point_sets)
def test_gospa_distinguishes_different_sets(x: np.ndarray, y: np.ndarray) -> None:
    same = len(x) == len(y) and np.array_equal(x[np.lexsort(x.T[::-1])], y[np.lexsort(y.T[::-1])])
    assert (gospa(x, y, C, 2.0).gospa == 0.0) == same
