"""Quantities with units, as scenario files write them: "600 km", "40 ms", "1.5 mrad".

Every dimensional value in a scenario carries its unit, so a file reads without the manual
and a value in the wrong unit is refused instead of being silently misscaled.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Literal

Dimension = Literal["length", "time", "angle", "speed"]

# unit -> (dimension, size in SI units: m, s, rad, m/s)
UNITS: dict[str, tuple[Dimension, float]] = {
    "m": ("length", 1.0),
    "km": ("length", 1000.0),
    "nmi": ("length", 1852.0),
    "s": ("time", 1.0),
    "ms": ("time", 1e-3),
    "min": ("time", 60.0),
    "h": ("time", 3600.0),
    "deg": ("angle", math.pi / 180.0),
    "°": ("angle", math.pi / 180.0),
    "rad": ("angle", 1.0),
    "mrad": ("angle", 1e-3),
    "urad": ("angle", 1e-6),
    "µrad": ("angle", 1e-6),  # micro sign U+00B5
    "μrad": ("angle", 1e-6),  # Greek mu U+03BC, what many keyboards type
    "arcsec": ("angle", math.pi / 648000.0),
    "m/s": ("speed", 1.0),
    "km/s": ("speed", 1000.0),
}

ARTICLE: dict[Dimension, str] = {
    "length": "a length",
    "time": "a time",
    "angle": "an angle",
    "speed": "a speed",
}

_QUANTITY = re.compile(
    r"[ \t]*(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"[ \t]*(?P<unit>\S*)[ \t]*"
)


class QuantityError(ValueError):
    """Text is not a quantity of the wanted dimension; the message says how to write one."""


def units_of(dimension: Dimension) -> list[str]:
    return [unit for unit, (dim, _) in UNITS.items() if dim == dimension]


def parse_quantity(text: str, dimension: Dimension, example: str) -> float:
    """The value of `text` in SI units; `example` (e.g. "600 km") goes into error messages."""
    needs = f"needs {ARTICLE[dimension]} such as '{example}'"
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise QuantityError(f"cannot read {text!r}; {needs}")
    unit = match["unit"]
    if not unit:
        raise QuantityError(f"no unit in {text!r}; {needs}")
    if unit not in UNITS:
        close = difflib.get_close_matches(unit, units_of(dimension), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        units = ", ".join(units_of(dimension))
        raise QuantityError(f"unknown unit {unit!r}; {hint}{dimension} units are {units}")
    unit_dimension, size = UNITS[unit]
    if unit_dimension != dimension:
        raise QuantityError(f"wrong unit {unit!r} ({ARTICLE[unit_dimension]}); {needs}")
    value = float(match["number"]) * size
    if not math.isfinite(value):
        raise QuantityError(f"{text!r} is too large; {needs}")
    return value
