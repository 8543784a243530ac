"""The scenario map: ground tracks, flight events, launch sites and sensor coverage."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from warnlink.physics.truth import Event, ObjectKind, Truth
from warnlink.plot import style
from warnlink.plot.basemap import HALO, KOREA_JAPAN, Extent, draw_basemap
from warnlink.plot.coverage import radar_margin_m
from warnlink.plot.tracks import GeoTrack
from warnlink.scenario.model import InfraredSpec, RadarSpec, Scenario

# Footprint altitudes: 100 km is where ballistic missiles are first seen over the horizon,
# 500 km shows how far out a radar holds a high (midcourse or lofted) object.
FOOTPRINT_ALTS_M = (100e3, 500e3)
# Points outside this window (an orbiting payload circling the Earth) do not widen the map.
# It reaches far into the Pacific because impact points there must be on the map, even
# though the land data stops at 150E (beyond it the map shows sea, apart from Guam).
MAX_EXTENT = Extent(110.0, 180.0, 5.0, 60.0)
GRID_STEP_DEG = 0.08

EVENT_MARKERS: dict[str, dict[str, Any]] = {
    "rv_impact": {"marker": "X", "ms": 10, "mec": style.INK, "mew": 0.8},
    "impact": {"marker": "x", "ms": 6, "mew": 1.6},
    "orbit": {"marker": "*", "ms": 15, "mec": style.INK, "mew": 0.7},
}


def scenario_extent(scenario: Scenario, tracks: list[GeoTrack], events: list[Event]) -> Extent:
    """Everything of interest, clamped to MAX_EXTENT, never smaller than Korea–Japan.

    Orbiting objects count only up to orbit insertion; the shape is kept between 3:4 and
    7:4 (wide) so that the map and its legend column stay readable.
    """
    lon: list[float] = []
    lat: list[float] = []
    for f in scenario.flights():
        lon.append(f.site_lon_deg)
        lat.append(f.site_lat_deg)
        if f.target_lat_deg is not None and f.target_lon_deg is not None:
            lon.append(f.target_lon_deg)
            lat.append(f.target_lat_deg)
    for s in scenario.sensors:
        if isinstance(s, RadarSpec):
            lon.append(s.lon_deg)
            lat.append(s.lat_deg)
    for e in events:
        lon.append(e.lon_deg)
        lat.append(e.lat_deg)
    insertion = {e.object_id: e.t for e in events if e.kind == "orbit"}
    until = [g.obj.t <= insertion.get(g.obj.object_id, np.inf) for g in tracks]
    lo = np.concatenate(
        [np.asarray(lon), *(g.lon_deg[k] for g, k in zip(tracks, until, strict=True))]
    )
    la = np.concatenate(
        [np.asarray(lat), *(g.lat_deg[k] for g, k in zip(tracks, until, strict=True))]
    )
    keep = np.isfinite(lo) & np.isfinite(la)
    lo = np.clip(lo[keep], MAX_EXTENT.lon_min, MAX_EXTENT.lon_max)
    la = np.clip(la[keep], MAX_EXTENT.lat_min, MAX_EXTENT.lat_max)
    box = KOREA_JAPAN if lo.size == 0 else Extent.around(lo, la).padded().union(KOREA_JAPAN)
    return box.with_shape(0.75, 1.75)


def map_figure(
    scenario: Scenario,
    truth: Truth,
    tracks: list[GeoTrack],
    flight_colours: dict[str, str],
    flight_labels: dict[str, str],
) -> Figure:
    extent = scenario_extent(scenario, tracks, truth.events)
    # Fixed layout in inches (map, then a legend column), sized to the map's true aspect:
    # constrained layout does not settle with a fixed-aspect axes and clips tick labels.
    left, bottom, top, map_w, legend_w = 0.65, 0.6, 0.62, 9.3, 3.6
    map_h = map_w / extent.width_over_height
    fig_w, fig_h = left + map_w + legend_w, bottom + map_h + top
    fig = Figure(figsize=(fig_w, fig_h))
    ax = fig.add_axes((left / fig_w, bottom / fig_h, map_w / fig_w, map_h / fig_h))
    draw_basemap(ax, extent)
    parties = style.assign_colours([s.party for s in scenario.sensors], style.PARTY_COLOURS)
    radars = [s for s in scenario.sensors if isinstance(s, RadarSpec)]
    for r in radars:
        _draw_footprints(ax, extent, r, parties[r.party])
    for g in tracks:
        _draw_track(ax, g, flight_colours[g.obj.flight_id])
    kinds = {g.obj.object_id: g.obj.kind for g in tracks}
    for e in truth.events:
        _draw_event(ax, e, kinds.get(e.object_id, "rv"), flight_colours.get(e.flight_id, style.INK))
    _draw_launch_sites(ax, scenario)
    for r in radars:
        _draw_radar_site(ax, r, parties[r.party])
    infrared = [
        _draw_infrared(ax, extent, s, parties[s.party])
        for s in scenario.sensors
        if isinstance(s, InfraredSpec)
    ]

    fig.text(
        left / fig_w, 1.0 - 0.1 / fig_h, scenario.name, fontsize=14, fontweight="bold", va="top"
    )
    ax.set_title(
        f"Ground tracks, flight events and radar coverage   ·   t = 0 at "
        f"{scenario.epoch:%Y-%m-%d %H:%M:%S} UTC",
        fontsize=9,
        color=style.MUTED,
        loc="left",
    )
    flights = [
        Line2D([], [], color=c, lw=2.5, label=flight_labels.get(f, f))
        for f, c in flight_colours.items()
    ]
    style.sectioned_legend(
        ax,
        {
            "Flights": flights,
            "Symbols": _symbol_handles(scenario, parties, truth.events, kinds),
            "Space-based infrared": infrared,
        },
        loc="upper left",
        bbox_to_anchor=(1.03, 1.0),
        fontsize=8,
        frameon=False,
        borderaxespad=0.0,
    )
    return fig


def _draw_track(ax: Axes, g: GeoTrack, colour: str) -> None:
    kind_style = style.KIND_STYLE[g.obj.kind]
    ax.plot(
        g.lon_deg,
        g.lat_deg,
        color=colour,
        zorder=5 if g.obj.kind == "rv" else 4.8,
        solid_capstyle="round",
        **kind_style,
    )


def _draw_event(ax: Axes, e: Event, kind: ObjectKind, colour: str) -> None:
    if e.kind == "impact":
        key = "rv_impact" if kind == "rv" else "impact"
    elif e.kind == "orbit":
        key = "orbit"
    else:
        return  # burnouts and apogees are read off the profile figure
    ax.plot(e.lon_deg, e.lat_deg, ls="none", color=colour, zorder=7.2, **EVENT_MARKERS[key])


def _draw_launch_sites(ax: Axes, scenario: Scenario) -> None:
    seen: set[tuple[float, float]] = set()
    for launch in scenario.launches:
        site = (launch.site_lon_deg, launch.site_lat_deg)
        if site in seen:
            continue
        seen.add(site)
        ax.plot(*site, marker="^", ms=9, color="white", mec=style.INK, mew=1.3, zorder=7)
        # Left of the marker, where tracks from these sites rarely go; boxed, so it stays
        # legible over place labels.
        ax.annotate(
            launch.site_name,
            site,
            xytext=(-7, 3),
            textcoords="offset points",
            ha="right",
            fontsize=7.5,
            fontweight="bold",
            color=style.INK,
            zorder=7.5,
            annotation_clip=True,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8},
        )


def _draw_footprints(ax: Axes, extent: Extent, radar: RadarSpec, colour: str) -> None:
    n_lon = int((extent.lon_max - extent.lon_min) / GRID_STEP_DEG) + 2
    n_lat = int((extent.lat_max - extent.lat_min) / GRID_STEP_DEG) + 2
    lon, lat = np.meshgrid(
        np.linspace(extent.lon_min, extent.lon_max, n_lon),
        np.linspace(extent.lat_min, extent.lat_max, n_lat),
    )
    for k, alt in enumerate(FOOTPRINT_ALTS_M):
        m = radar_margin_m(radar, lon, lat, alt)
        if not (m >= 0).any():
            continue
        if k == 0:
            ax.contourf(
                lon,
                lat,
                m,
                levels=[0.0, float(m.max()) + 1.0],
                colors=[colour],
                alpha=0.05,
                zorder=2,
            )
        if (m < 0).any():
            ax.contour(
                lon,
                lat,
                m,
                levels=[0.0],
                colors=[colour],
                zorder=2.5,
                linewidths=1.1 if k == 0 else 0.8,
                alpha=0.9 if k == 0 else 0.6,
                linestyles=["solid" if k == 0 else (0, (5, 3))],
            )


def _draw_radar_site(ax: Axes, radar: RadarSpec, colour: str) -> None:
    marker = "D" if radar.platform == "ship" else "s"
    ax.plot(
        radar.lon_deg,
        radar.lat_deg,
        marker=marker,
        ms=6.5,
        color=colour,
        mec="white",
        mew=0.9,
        zorder=7,
    )
    ax.annotate(
        radar.id,
        (radar.lon_deg, radar.lat_deg),
        xytext=(5, 4),
        textcoords="offset points",
        fontsize=7,
        color=colour,
        path_effects=HALO,
        zorder=7,
        annotation_clip=True,
    )


def _draw_infrared(ax: Axes, extent: Extent, ir: InfraredSpec, colour: str) -> Artist:
    """Sub-satellite point: a marker if on the map, else an arrow at the edge pointing to it.

    Returns the legend entry, which carries the coordinates so the map needs only the id.
    """
    lon = (ir.sat_lon_deg - extent.lon_min) % 360.0 + extent.lon_min  # same branch as the map
    lat = ir.sat_lat_deg
    on_map = extent.lon_min <= lon <= extent.lon_max and extent.lat_min <= lat <= extent.lat_max
    entry = Line2D(
        [],
        [],
        ls="none",
        marker="h",
        ms=8,
        color=colour,
        mec="white",
        label=f"{ir.id}\nsub-satellite point {_lat_lon_text(lat, ir.sat_lon_deg)}"
        + ("" if on_map else "\n(off map: arrow at the edge)"),
    )
    if on_map:
        ax.plot(lon, lat, marker="h", ms=9, color=colour, mec="white", mew=0.9, zorder=7)
        ax.annotate(
            ir.id,
            (lon, lat),
            xytext=(6, 4),
            textcoords="offset points",
            fontsize=7,
            color=colour,
            path_effects=HALO,
            zorder=7,
        )
        return entry
    cx, cy = 0.5 * (extent.lon_min + extent.lon_max), extent.mid_lat
    if lon > extent.lon_max + 180.0:  # shorter the other way round
        lon -= 360.0
    dx, dy = lon - cx, lat - cy
    hx, hy = 0.5 * (extent.lon_max - extent.lon_min), 0.5 * (extent.lat_max - extent.lat_min)
    s = 0.99 / max(abs(dx) / hx, abs(dy) / hy)
    ux, uy = dx / hx, dy / hy
    norm = float(np.hypot(ux, uy))
    # Below tracks and event markers: this is context, and it sits where they may end.
    ax.annotate(
        ir.id,
        (cx + s * dx, cy + s * dy),
        xytext=(-32 * ux / norm, -32 * uy / norm),
        textcoords="offset points",
        fontsize=6.5,
        color=colour,
        ha="center",
        va="center",
        zorder=4.5,
        path_effects=HALO,
        arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.0, "shrinkA": 2},
    )
    return entry


def _lat_lon_text(lat: float, lon: float) -> str:
    lon = (lon + 180.0) % 360.0 - 180.0
    return f"{abs(lat):.1f}°{'N' if lat >= 0 else 'S'} {abs(lon):.1f}°{'E' if lon >= 0 else 'W'}"


def _symbol_handles(
    scenario: Scenario, parties: dict[str, str], events: list[Event], kinds: dict[str, ObjectKind]
) -> list[Artist]:
    """Legend entries only for symbols that actually appear."""

    def marker(label: str, **kw: Any) -> Line2D:
        return Line2D([], [], ls="none", label=label, **kw)

    grey, ink = style.MUTED, style.INK
    handles: list[Artist] = [
        Line2D([], [], color=ink, label=style.KIND_LABEL[k], **style.KIND_STYLE[k])
        for k in ("rv", "stage", "payload")
        if k in set(kinds.values())
    ]
    handles.append(marker("launch site", marker="^", ms=8, color="white", mec=ink, mew=1.3))
    impact_kinds = {kinds.get(e.object_id, "rv") for e in events if e.kind == "impact"}
    if "rv" in impact_kinds:
        handles.append(marker("RV impact", color="#999999", **EVENT_MARKERS["rv_impact"]))
    if impact_kinds - {"rv"}:
        handles.append(marker("stage / other impact", color=ink, **EVENT_MARKERS["impact"]))
    if any(e.kind == "orbit" for e in events):
        handles.append(marker("orbit insertion", color="#999999", **EVENT_MARKERS["orbit"]))
    handles += [
        Patch(facecolor=c, alpha=0.25, edgecolor=c, label=f"{party} sensors")
        for party, c in parties.items()
    ]
    platforms = {s.platform for s in scenario.sensors if isinstance(s, RadarSpec)}
    if "ground" in platforms:
        handles.append(marker("ground radar", marker="s", ms=6, color=grey))
    if "ship" in platforms:
        handles.append(marker("ship radar", marker="D", ms=6, color=grey))
    if platforms:
        a0, a1 = (f"{a / 1e3:.0f} km" for a in FOOTPRINT_ALTS_M)
        handles += [
            Patch(facecolor="#cccccc", edgecolor=grey, label=f"radar coverage, object at {a0}"),
            Line2D([], [], color=grey, ls=(0, (5, 3)), lw=0.9, label=f"… at {a1}"),
        ]
    return handles
