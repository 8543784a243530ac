"""Over-warning scored once per region: two warning threads naming one region at once
warned the public once (a satellite launch's two system tracks did, and counted double)."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from warnlink.exercise.plan import AlertRecord, AlertRegion
from warnlink.exercise.warned import _active_spans, _union_length


def _msg(t: float, thread: str, regions: dict[str, str]) -> AlertRecord:
    parts = [AlertRegion(r, stage, []) for r, stage in regions.items()]
    return AlertRecord(t, t, t, f"{thread}-{t}", "Update", "x", thread, 0, parts)


def test_two_threads_warning_one_region_count_once() -> None:
    records = [
        _msg(10.0, "F1", {"JP-47": "overflight_expected"}),
        _msg(20.0, "F3", {"JP-47": "overflight_expected", "JP-46": "launch"}),
        _msg(50.0, "F1", {}),  # F1 lifts at 50 s; F3 keeps JP-47 until the end
        _msg(60.0, "F3", {"JP-47": "overflight_expected"}),  # JP-46's launch stage ends
    ]
    spans = _active_spans(records, t_end=100.0)
    assert sorted(spans["JP-47"]) == [(10.0, 50.0, "overflight_expected"),
                                      (20.0, 100.0, "overflight_expected")]  # fmt: skip
    assert _union_length([(a, b) for a, b, _ in spans["JP-47"]]) == 90.0  # not 120
    assert _union_length([(a, b) for a, b, _ in spans["JP-46"]]) == 40.0
    assert _union_length([]) is None


spans_st = st.lists(
    st.tuples(st.floats(0, 1000), st.floats(0, 500)).map(lambda p: (p[0], p[0] + p[1])),
    min_size=1, max_size=12,
)  # fmt: skip


@given(spans_st)
def test_union_is_between_the_longest_span_and_the_sum(spans: list[tuple[float, float]]) -> None:
    covered = _union_length(spans)
    assert covered is not None
    lengths = [b - a for a, b in spans]
    assert max(lengths) - 1e-9 <= covered <= sum(lengths) + 1e-9
    # and it is the measure of the union: as fine a grid as the spans' ends gives
    ends = sorted({x for s in spans for x in s})
    grid = sum(b - a for a, b in pairwise(ends)
               if any(s[0] <= (a + b) / 2 <= s[1] for s in spans))  # fmt: skip
    assert abs(covered - grid) <= 1e-6 * max(1.0, covered)
