"""Quantities with units: exact round trips, and garbage refused with a readable error."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warnlink.scenario.quantities import ARTICLE, UNITS, Dimension, QuantityError, parse_quantity

values = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e100, max_value=1e100)
units = st.sampled_from(sorted(UNITS))
# arbitrary text, and text close to a quantity (digits, signs, exponents, unit letters)
garbage = st.one_of(
    st.text(),
    st.from_regex(r"[ +\-0-9.eE]{0,8}[ a-zµμ°/]{0,6}", fullmatch=True),
)
dimensions: st.SearchStrategy[Dimension] = st.sampled_from(list(ARTICLE))


@given(values, units)
def test_round_trip(value: float, unit: str) -> None:
    dimension, size = UNITS[unit]
    assert parse_quantity(f"{value!r} {unit}", dimension, "1 m") == value * size


@given(values, units)
def test_round_trip_from_si(si: float, unit: str) -> None:
    dimension, size = UNITS[unit]
    back = parse_quantity(f"{si / size!r}{unit}", dimension, "1 m")
    assert math.isclose(back, si, rel_tol=1e-15, abs_tol=1e-300)


@given(garbage, dimensions)
def test_garbage_is_refused_cleanly(text: str, dimension: Dimension) -> None:
    try:
        value = parse_quantity(text, dimension, "1 x")
    except QuantityError as error:
        assert "1 x" in str(error) or "unit" in str(error)
    else:
        assert math.isfinite(value)


@pytest.mark.parametrize(
    ("text", "dimension", "expected"),
    [
        ("600 km", "length", 600e3),
        ("  3.5nmi ", "length", 3.5 * 1852),
        ("2 min", "time", 120.0),
        ("40 ms", "time", 0.04),
        ("1.5 mrad", "angle", 1.5e-3),
        ("20 µrad", "angle", 20e-6),
        ("20 μrad", "angle", 20e-6),
        ("20 urad", "angle", 20e-6),
        ("-90 deg", "angle", -math.pi / 2),
        ("3600 arcsec", "angle", math.pi / 180),
        ("7.5 km/s", "speed", 7500.0),
        (".5e3 m", "length", 500.0),
    ],
)
def test_units(text: str, dimension: Dimension, expected: float) -> None:
    assert parse_quantity(text, dimension, "1 m") == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "dimension", "message"),
    [
        ("600", "length", "no unit in '600'; needs a length such as '1 m'"),
        ("2 s", "length", "wrong unit 's' (a time); needs a length such as '1 m'"),
        ("600 kms", "length", "unknown unit 'kms'; did you mean 'km'?"),
        ("600 furlongs", "length", "length units are m, km, nmi"),
        ("km 600", "length", "cannot read 'km 600'"),
        ("1e999 m", "length", "too large"),
        ("nan m", "length", "cannot read"),
        ("1,5 deg", "angle", "cannot read"),
    ],
)
def test_errors_say_what_is_expected(text: str, dimension: Dimension, message: str) -> None:
    with pytest.raises(QuantityError, match=re.escape(message)):
        parse_quantity(text, dimension, "1 m")
