"""Altitude profiles: against ground range and against time, both counted from each
flight's own launch, so salvo rounds and staggered launches overlay directly."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import StrMethodFormatter

from warnlink.physics.truth import Event, EventKind, ObjectKind, Truth
from warnlink.plot import style
from warnlink.plot.basemap import HALO
from warnlink.plot.tracks import GeoTrack, Origin, ground_range_km

EVENT_STYLE: dict[EventKind, dict[str, Any]] = {
    "stage_burnout": {"marker": "o", "ms": 5, "mec": "white", "mew": 0.8},
    "burnout": {"marker": "o", "ms": 5, "mec": "white", "mew": 0.8},
    "stage_separation": {"marker": "|", "ms": 9, "mew": 1.5},
    "apogee": {"marker": "^", "ms": 7, "mec": style.INK, "mew": 0.6},
    "impact": {"marker": "X", "ms": 9, "mec": style.INK, "mew": 0.7},
    "orbit": {"marker": "*", "ms": 13, "mec": style.INK, "mew": 0.6},
}
EVENT_LABEL: dict[EventKind, str] = {
    "burnout": "burnout",
    "stage_burnout": "burnout",
    "stage_separation": "stage separation",
    "apogee": "apogee",
    "impact": "impact",
    "orbit": "orbit insertion",
}
# Text only for these, and only on one flight per launch: salvo rounds would stack labels.
ANNOTATED: tuple[EventKind, ...] = ("apogee", "impact", "orbit")


def profile_figure(
    title: str,
    truth: Truth,
    tracks: list[GeoTrack],
    origins: dict[str, Origin],
    flight_colours: dict[str, str],
    flight_labels: dict[str, str],
) -> Figure:
    fig = Figure(figsize=(14.0, 6.0), layout="constrained")
    ax_r, ax_t = fig.subplots(1, 2, sharey=True)
    # Frame the flights up to orbit insertion: an orbiting payload would otherwise stretch
    # the axes to its whole tail, which runs on off the right edge.
    insertion = {e.object_id: e.t for e in truth.events if e.kind == "orbit"}
    frame = np.zeros(3)  # max ground range, time, altitude within the frame
    for g in tracks:
        o = origins[g.obj.flight_id]
        x_r = ground_range_km(o.lat_deg, o.lon_deg, g.lat_deg, g.lon_deg)
        x_t = g.obj.t - o.t_s
        y = g.alt_m / 1e3
        # burning[i] covers the step after sample i, so light up both of its ends.
        burn = g.obj.burning.copy()
        burn[1:] |= g.obj.burning[:-1]
        framed = g.obj.t <= insertion.get(g.obj.object_id, np.inf)
        if framed.any():
            frame = np.maximum(frame, [x_r[framed].max(), x_t[framed].max(), y[framed].max()])
        colour = flight_colours[g.obj.flight_id]
        for ax, x in ((ax_r, x_r), (ax_t, x_t)):
            if burn.any():
                ax.plot(x, np.where(burn, y, np.nan), color=colour, zorder=2, **style.BURN_STYLE)
            ax.plot(x, y, color=colour, zorder=3, **style.KIND_STYLE[g.obj.kind])

    ax_r.set_xlabel("ground range from launch site (km)")
    ax_t.set_xlabel("time since launch (s)")
    ax_r.set_ylabel("altitude (km)")
    for ax, x_max in ((ax_r, frame[0]), (ax_t, frame[1])):
        ax.set_xlim(0.0, max(1.04 * x_max, 10.0))
        ax.set_ylim(0.0, max(1.1 * frame[2], 10.0))  # room for the apogee labels
        if not tracks:
            ax.text(0.5, 0.5, "no objects", transform=ax.transAxes, ha="center", color=style.MUTED)
        ax.grid(True, color="#e4e4e4", linewidth=0.7)
        ax.set_axisbelow(True)
        ax.tick_params(labelsize=8.5, colors=style.MUTED)
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    ax_r.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    kinds = {g.obj.object_id: g.obj.kind for g in tracks}
    launch_of = {g.obj.flight_id: g.obj.launch_id for g in tracks}
    _draw_events(ax_r, ax_t, truth.events, origins, flight_colours, kinds, launch_of)
    ax_t.tick_params(labelleft=True)
    fig.suptitle(f"{title}: altitude profiles", fontsize=14, fontweight="bold", x=0.01, ha="left")
    flights = [
        Line2D([], [], color=c, lw=2.5, label=flight_labels.get(f, f))
        for f, c in flight_colours.items()
    ]
    style.sectioned_legend(
        fig,
        {"Flights": flights, "Symbols": _symbol_handles(truth.events, tracks)},
        loc="outside right upper",
        fontsize=8,
        frameon=False,
    )
    return fig


def _draw_events(
    ax_r: Axes,
    ax_t: Axes,
    events: list[Event],
    origins: dict[str, Origin],
    flight_colours: dict[str, str],
    kinds: dict[str, ObjectKind],
    launch_of: dict[str, str],
) -> None:
    notes: list[tuple[bool, float, float, float, str]] = []
    first_of_launch: dict[str, str] = {}
    for e in sorted(events, key=lambda e: e.t):
        first_of_launch.setdefault(launch_of.get(e.flight_id, e.flight_id), e.flight_id)
    for e in events:
        o = origins.get(e.flight_id)
        if o is None or e.kind not in EVENT_STYLE:
            continue
        x_r = float(ground_range_km(o.lat_deg, o.lon_deg, e.lat_deg, e.lon_deg))
        x_t, y = e.t - o.t_s, e.alt_m / 1e3
        colour = flight_colours.get(e.flight_id, style.INK)
        ev_style = dict(EVENT_STYLE[e.kind])
        if e.kind == "impact" and kinds.get(e.object_id, "rv") != "rv":
            ev_style.update(marker="x", ms=6, mew=1.5, mec=colour)
        for ax, x in ((ax_r, x_r), (ax_t, x_t)):
            ax.plot(x, y, ls="none", color=colour, zorder=5, clip_on=False, **ev_style)
        annotate = (
            e.kind in ANNOTATED
            and kinds.get(e.object_id, "rv") != "stage"
            and first_of_launch.get(launch_of.get(e.flight_id, e.flight_id)) == e.flight_id
        )
        if annotate:
            notes.append((e.kind == "apogee", x_r, x_t, y, _event_text(e, x_r, x_t)))
    for i, ax in enumerate((ax_r, ax_t)):
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        last_x, last_y, raised = -np.inf, 0.0, True
        for above, *xs, y, text in sorted(notes, key=lambda n: n[1 + i]):
            # Apogee text above the peak; the rest up and right, where the trajectory
            # (arriving from the upper left) leaves room, raised if the previous is close.
            if above:
                offset, ha = (0.0, 9.0), "center"
            else:
                close = xs[i] - last_x < 0.15 * (x1 - x0) and abs(y - last_y) < 0.1 * (y1 - y0)
                raised = close and not raised
                last_x, last_y = xs[i], y
                offset, ha = (7.0, 30.0 if raised else 8.0), "left"
            ax.annotate(
                text,
                (xs[i], y),
                xytext=offset,
                textcoords="offset points",
                ha=ha,
                va="bottom",
                fontsize=7,
                color=style.INK,
                path_effects=HALO,
                zorder=6,
            )


def _event_text(e: Event, range_km: float, t_s: float) -> str:
    if e.kind == "apogee":
        return f"apogee {e.alt_m / 1e3:,.0f} km\nT+{t_s:,.0f} s"
    if e.kind == "orbit":
        return f"orbit {e.alt_m / 1e3:,.0f} km\nT+{t_s:,.0f} s"
    return f"impact {range_km:,.0f} km\nT+{t_s:,.0f} s"


def _symbol_handles(events: list[Event], tracks: list[GeoTrack]) -> list[Artist]:
    """Legend entries only for symbols that actually appear."""
    kinds = {g.obj.kind for g in tracks}
    handles: list[Artist] = [
        Line2D([], [], color=style.INK, label=style.KIND_LABEL[k], **style.KIND_STYLE[k])
        for k in ("rv", "stage", "payload")
        if k in kinds
    ]
    if any(g.obj.burning.any() for g in tracks):
        handles.append(Line2D([], [], color="#999999", label="motor burning", **style.BURN_STYLE))
    seen: set[str] = set()
    for e in events:
        label = EVENT_LABEL.get(e.kind)
        if label is None or label in seen:
            continue
        seen.add(label)
        handles.append(
            Line2D([], [], ls="none", color="#999999", label=label, **EVENT_STYLE[e.kind])
        )
    return handles
