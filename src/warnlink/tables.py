"""Terminal tables in one style: text columns left-aligned, then numbers right-aligned."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table


def table(title: str, text: Sequence[str], numbers: Sequence[str]) -> Table:
    t = Table(title=title)
    for col in text:
        t.add_column(escape(col))
    for col in numbers:
        t.add_column(escape(col), justify="right")  # escaped: "[km]" is a unit, not markup
    return t
