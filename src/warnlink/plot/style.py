"""Colours and line styles shared by the map and the profiles, so one flight looks the same
in both figures and sensors never borrow a flight's colour."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D

from warnlink.physics.truth import ObjectKind

# Saturated, mutually distinct hues for flights (Tableau 10 without its grey and olive).
FLIGHT_COLOURS = (
    "#d62728",
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
)
# Darker, cooler tones for sensors, per party, so coverage reads as background.
PARTY_COLOURS = ("#00695c", "#283593", "#6d4c41", "#4a148c", "#37474f")

LAND = "#efebe2"
SEA = "#dce8f0"
COAST = "#8c8c8c"
ADMIN1 = "#b4b0a8"
BORDER = "#5a5a5a"
INK = "#222222"
MUTED = "#666666"

# Line style of a track by object kind: the RV is what warning is about, so it dominates.
KIND_STYLE: dict[ObjectKind, dict[str, Any]] = {
    "rv": {"linewidth": 2.2, "linestyle": "-", "alpha": 1.0},
    "stage": {"linewidth": 0.9, "linestyle": (0, (4, 2)), "alpha": 0.85},
    "payload": {"linewidth": 1.6, "linestyle": (0, (6, 1.5, 1, 1.5)), "alpha": 1.0},
}
KIND_LABEL: dict[ObjectKind, str] = {"rv": "RV", "stage": "spent stage", "payload": "payload"}
BURN_STYLE: dict[str, Any] = {"linewidth": 7.0, "alpha": 0.28, "solid_capstyle": "round"}


def assign_colours(keys: Iterable[str], palette: tuple[str, ...]) -> dict[str, str]:
    """Colour per key in first-seen order, cycling the palette if there are more keys."""
    out: dict[str, str] = {}
    for k in keys:
        if k not in out:
            out[k] = palette[len(out) % len(palette)]
    return out


def sectioned_legend(
    target: Figure | Axes, sections: Mapping[str, Sequence[Artist]], **kwargs: Any
) -> Legend:
    """One legend with bold headings: separate legends stacked in a column can overlap."""
    handles: list[Artist] = []
    labels: list[str] = []
    headings: list[int] = []
    for title, items in sections.items():
        if not items:
            continue
        if handles:
            handles.append(Line2D([], [], ls="none"))
            labels.append("")
        headings.append(len(handles))
        handles.append(Line2D([], [], ls="none"))
        labels.append(title)
        handles += items
        labels += [str(h.get_label()) for h in items]
    legend = target.legend(handles, labels, **kwargs)
    texts = legend.get_texts()
    for i in headings:
        texts[i].set_fontweight("bold")
        texts[i].set_fontsize(float(texts[i].get_fontsize()) + 1.0)
    return legend
