"""The kinds of value a scenario field holds: how each is read, checked and described.

A `Field` pairs a key with its kind; the tables of fields are in `schema`. A kind's `parse`
reads a raw TOML value (into SI units unless it says otherwise) or raises `Invalid`;
`describe` and `allowed` fill the type and allowed columns of docs/scenarios.md.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import ClassVar, Final

from warnlink.scenario.quantities import ARTICLE, UNITS, Dimension, QuantityError, parse_quantity


class Invalid(ValueError):
    """A value is unacceptable; the message says why, the loader adds where."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()


_TOML_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),  # before int: bool is an int in Python, not in TOML
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "an array"),
    (dict, "a table"),
    (datetime, "a date-time"),  # before date, its base class
    (date, "a date"),
    (time, "a time of day"),
)


def type_name(raw: object) -> str:
    """How TOML calls the type of a parsed value, for messages."""
    return next((name for kind, name in _TOML_TYPES if isinstance(raw, kind)), "a value")


def suggest(word: str, known: list[str]) -> str:
    """A 'did you mean' hint, or the list of choices when nothing is close."""
    close = difflib.get_close_matches(word, known, n=1)
    return f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"


@dataclass(frozen=True)
class Range:
    """Allowed interval, with its ends written as a user writes values ('0 m', '90 deg')."""

    low: str | None = None
    high: str | None = None
    low_open: bool = False
    high_open: bool = False

    def check(self, value: float, convert: Callable[[str], float], raw: object) -> None:
        low_ok = self.low is None or (
            value > convert(self.low) if self.low_open else value >= convert(self.low)
        )
        high_ok = self.high is None or (
            value < convert(self.high) if self.high_open else value <= convert(self.high)
        )
        if not (low_ok and high_ok):
            raise Invalid(f"must be {self}, got {raw!r}")

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            return f"in {left}{self.low}, {self.high}{right}"
        if self.low is not None:
            return f"{'more than' if self.low_open else 'at least'} {self.low}"
        if self.high is not None:
            return f"{'less than' if self.high_open else 'at most'} {self.high}"
        return ""


class _Described:
    """What docs/scenarios.md says of a kind: its type, and the values allowed if limited."""

    TYPE: ClassVar[str] = ""
    ALLOWED: ClassVar[str] = ""

    def describe(self) -> str:
        return self.TYPE

    def allowed(self) -> str:
        return self.ALLOWED


class _Ranged(_Described):
    """A kind whose values are limited to `range`."""

    range: Range

    def allowed(self) -> str:
        return str(self.range)


@dataclass(frozen=True)
class Text(_Described):
    TYPE = "text"

    allow_empty: bool = False

    def parse(self, raw: object) -> str:
        if not isinstance(raw, str):
            raise Invalid(f"needs a string, got {type_name(raw)}")
        if not self.allow_empty and not raw.strip():
            raise Invalid("must not be empty")
        return raw

    def allowed(self) -> str:
        return "" if self.allow_empty else "not empty"


@dataclass(frozen=True)
class Integer(_Ranged):
    TYPE = "integer"

    range: Range = Range()

    def parse(self, raw: object) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise Invalid(f"needs an integer, got {type_name(raw)}")
        self.range.check(raw, int, raw)
        return raw


@dataclass(frozen=True)
class Number(_Ranged):
    """A plain number: degrees of latitude/longitude, probabilities, rates."""

    example: str
    unit: str = ""
    range: Range = Range()

    def parse(self, raw: object) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            what = f"a plain number in {self.unit}" if self.unit else "a plain number"
            raise Invalid(f"needs {what} such as {self.example}, got {type_name(raw)}")
        if not math.isfinite(raw):
            raise Invalid(f"must be finite, got {raw}")
        self.range.check(raw, float, raw)
        return float(raw)

    def describe(self) -> str:
        return f"number ({self.unit})" if self.unit else "number"


@dataclass(frozen=True)
class Quantity(_Ranged):
    """A string with a unit; read into SI, or into `unit` when the model wants degrees."""

    dimension: Dimension
    example: str
    range: Range = Range()
    unit: str | None = None

    def to_si(self, text: str) -> float:
        try:
            return parse_quantity(text, self.dimension, self.example)
        except QuantityError as error:
            raise Invalid(str(error)) from None

    def parse(self, raw: object) -> float:
        if not isinstance(raw, str):
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                raise Invalid(
                    f"{raw} has no unit; needs {ARTICLE[self.dimension]} "
                    f"written as a string such as '{self.example}'"
                )
            raise Invalid(
                f"needs {ARTICLE[self.dimension]} such as '{self.example}', got {type_name(raw)}"
            )
        value = self.to_si(raw)
        self.range.check(value, self.to_si, raw)
        return value / UNITS[self.unit][1] if self.unit else value

    def describe(self) -> str:
        return self.dimension


# Each end of a Sector.
_AZIMUTH = Quantity("angle", "300 deg", Range("-360 deg", "360 deg"))


@dataclass(frozen=True)
class Choice(_Described):
    options: tuple[str, ...]

    def parse(self, raw: object) -> str:
        if not isinstance(raw, str):
            raise Invalid(f"needs one of {', '.join(self.options)}, got {type_name(raw)}")
        if raw not in self.options:
            hint = suggest(raw, list(self.options))
            raise Invalid(f"unknown value {raw!r}; one of {', '.join(self.options)} ({hint})")
        return raw

    def describe(self) -> str:
        return "one of " + ", ".join(f'"{option}"' for option in self.options)


@dataclass(frozen=True)
class Timestamp(_Described):
    """An instant with an explicit offset: a local time would make the run depend on the host."""

    TYPE = "date-time"
    ALLOWED = "with offset"

    example: str

    def parse(self, raw: object) -> datetime:
        if isinstance(raw, str):
            try:
                raw = datetime.fromisoformat(raw)
            except ValueError:
                raise Invalid(
                    f"cannot read {raw!r} as ISO 8601; write e.g. '{self.example}'"
                ) from None
        if not isinstance(raw, datetime):
            raise Invalid(f"needs a date-time such as {self.example}, got {type_name(raw)}")
        if raw.utcoffset() is None:
            raise Invalid(f"needs a UTC offset ('Z' or '+09:00'), e.g. {self.example}")
        return raw.astimezone(UTC)


@dataclass(frozen=True)
class Sector(_Described):
    """(from, to) azimuths clockwise from true north, normalised to [0, 2 pi); may wrap."""

    TYPE = "[angle, angle]"
    ALLOWED = "from ≠ to"

    example: str

    def parse(self, raw: object) -> tuple[float, float]:
        if not (isinstance(raw, list) and len(raw) == 2):
            raise Invalid(f"needs [from, to] clockwise, such as {self.example}")
        start, end = (_AZIMUTH.parse(value) % (2 * math.pi) for value in raw)
        if math.isclose(start, end, abs_tol=1e-12):
            raise Invalid("empty sector (from = to); omit azimuth_sector for all-round cover")
        return start, end


@dataclass(frozen=True)
class Codes(_Described):
    """A list of distinct codes (parties); whether each is known is the loader's check."""

    TYPE = "array of text"
    ALLOWED = "distinct"

    def parse(self, raw: object) -> tuple[str, ...]:
        if not isinstance(raw, list):
            raise Invalid(f'needs an array of codes such as ["US", "JP"], got {type_name(raw)}')
        bad = [item for item in raw if not isinstance(item, str) or not item.strip()]
        if bad:
            raise Invalid(f"needs non-empty strings, got {bad[0]!r}")
        if len(set(raw)) != len(raw):
            raise Invalid(f"lists a code twice: {raw!r}")
        return tuple(raw)


@dataclass(frozen=True)
class Sub(_Described):
    """A nested table (`many`: an array of tables). `variants` picks extra fields by the
    value of the first field (the sensor `type`); `label` names the field that identifies
    an entry in messages, e.g. sensors[2] (KR-GP1)."""

    fields: tuple[Field, ...]
    doc: str = ""
    many: bool = False
    label: str | None = None
    variants: Mapping[str, tuple[Field, ...]] = field(default_factory=dict)

    def describe(self) -> str:
        return "array of tables" if self.many else "table"


Kind = Text | Integer | Number | Quantity | Choice | Timestamp | Sector | Codes | Sub


@dataclass(frozen=True)
class Field:
    key: str
    kind: Kind
    doc: str
    default: object = REQUIRED  # a raw TOML value, read like a written one; None: optional
    attr: str | None = None  # the model's name for it, when not the key

    @property
    def name(self) -> str:
        return self.attr or self.key
