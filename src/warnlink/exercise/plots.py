"""The after-action report's figures: impact error against time, per-party timelines, and
the map of ground tracks with each party's fused impact ellipses as they narrowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse as EllipsePatch
from matplotlib.patches import Patch, PathPatch

from warnlink.exercise.metrics import load_outputs
from warnlink.formats.records import GroundPoint
from warnlink.geo.regions import load_regions
from warnlink.physics.truth import Truth
from warnlink.plot import style
from warnlink.plot.basemap import Extent, draw_basemap, polygon_path
from warnlink.plot.tracks import geo_tracks
from warnlink.scenario.model import Scenario

M_PER_DEG = 111_320.0
MARKERS = {
    "first_detection_s": ("o", "own sensors detect"),
    "first_report_s": ("s", "first partner report"),
    "first_own_impact_s": ("^", "own impact estimate"),
    "first_fused_impact_s": ("*", "fused impact estimate"),
}


def _colours(parties: list[str]) -> dict[str, str]:
    return style.assign_colours(parties, style.FLIGHT_COLOURS[1:])


def error_figure(runs: dict[str, dict[str, Any]], parties: list[str]) -> Figure:
    """Per party: impact error of what it knew, alone (own) and with sharing (fused)."""
    fig = Figure(figsize=(11.0, 3.4 * len(parties) / 1.5 + 1.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(parties), 1, sharex=True, sharey=True))
    lines = {("alone", "fused"): ("alone", "--"), ("sharing", "fused"): ("with sharing", "-")}
    for ax, p in zip(axes, parties, strict=True):
        for (mode, kind), (label, ls) in lines.items():
            for fid, fl in runs.get(mode, {}).get("flights", {}).items():
                s = fl["parties"][p].get(f"{kind}_impact_error")
                if s and s["t"]:
                    ax.plot(s["t"], np.maximum(s["error_m"], 1.0), ls, lw=1.4,
                            label=f"{fid} {label}")  # fmt: skip
        ax.set_yscale("log")
        ax.set_ylabel("impact error [m]")
        ax.set_title(f"{p}: error of its best impact estimate", fontsize=10, loc="left")
        ax.grid(True, which="both", alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("time since launch [s]")
    return fig


def timeline_figure(
    runs: dict[str, dict[str, Any]],
    parties: list[str],
    outages: dict[str, list[tuple[float, float]]],
    t_launch: float,
) -> Figure:
    """When each party knew what, alone (hollow) and with sharing (filled), per flight."""
    fig = Figure(figsize=(11.0, 1.0 + 0.9 * len(parties)), layout="constrained")
    ax = fig.subplots()
    for i, p in enumerate(parties):
        for start, end in outages.get(p, []):
            ax.axvspan(start - t_launch, end - t_launch, ymin=(i + 0.1) / len(parties),
                       ymax=(i + 0.9) / len(parties), color="0.85", zorder=0)  # fmt: skip
        for mode, fill in (("alone", "none"), ("sharing", None)):
            for fl in runs.get(mode, {}).get("flights", {}).values():
                pr = fl["parties"][p]
                for j, (key, (marker, _)) in enumerate(MARKERS.items()):
                    t = pr.get(key)
                    if t is None or (mode == "alone" and key == "first_report_s"):
                        continue
                    colour = f"C{j}"
                    ax.plot([t], [i + (0.15 if mode == "sharing" else -0.15)], marker,
                            ms=10, mfc=fill or colour, mec=colour)  # fmt: skip
    for j, (_, label) in enumerate(MARKERS.values()):
        ax.plot([], [], list(MARKERS.values())[j][0], color=f"C{j}", label=label)
    ax.plot([], [], "o", mfc="none", mec="k", label="alone (hollow)")
    ax.axvspan(0, 0, color="0.85", label="link outage")
    ax.set_yticks(range(len(parties)), parties)
    ax.set_ylim(-0.6, len(parties) - 0.4)
    ax.set_xlabel("time since launch [s]")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=8, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    return fig


def _ellipse(ax: Any, g: GroundPoint, colour: str, alpha: float) -> None:
    e = g.ellipse
    scale = np.cos(np.radians(g.lat_deg))
    ax.add_patch(EllipsePatch(
        (g.lon_deg, g.lat_deg), 2 * e.semi_minor_m / M_PER_DEG / scale,
        2 * e.semi_major_m / M_PER_DEG, angle=-e.orientation_deg, fill=False,
        ec=colour, lw=1.0, alpha=alpha,
    ))  # fmt: skip


def map_figure(scenario: Scenario, truth: Truth, mode_dir: Path, parties: list[str]) -> Figure:
    """Ground tracks, and each party's fused impact ellipse once a minute (paler: earlier)."""
    outputs = load_outputs(mode_dir, parties)
    colours = _colours(parties)
    tracks = geo_tracks(truth)
    lon = np.concatenate([g.lon_deg for g in tracks])
    lat = np.concatenate([g.lat_deg for g in tracks])
    impacts = [e for e in truth.events_of("impact")]
    fig = Figure(figsize=(13.0, 5.6), layout="constrained")
    over, zoom = fig.subplots(1, 2, width_ratios=(1.6, 1.0))
    draw_basemap(over, Extent.around(lon, lat).padded(0.08).with_shape(1.0, 1.8), place_max_rank=3)
    rv = next((e for e in impacts if e.object_id.endswith("/RV")), impacts[0] if impacts else None)
    centre = (rv.lon_deg, rv.lat_deg) if rv else (float(lon[-1]), float(lat[-1]))
    half = 1.2
    box = Extent(centre[0] - half / np.cos(np.radians(centre[1])),
                 centre[0] + half / np.cos(np.radians(centre[1])),
                 centre[1] - half, centre[1] + half)  # fmt: skip
    draw_basemap(zoom, box, place_max_rank=None)
    for ax in (over, zoom):
        for g in tracks:
            ax.plot(g.lon_deg, g.lat_deg, "-", color="k" if g.obj.kind == "rv" else "0.5",
                    lw=1.2 if g.obj.kind == "rv" else 0.7)  # fmt: skip
        for e in impacts:
            ax.plot(e.lon_deg, e.lat_deg, "kx", ms=8, mew=2)
    for p in parties:
        shown: dict[str, float] = {}
        fused = [f for f in outputs[p].fused if f.estimate.impact is not None]
        span = (fused[-1].known_t - fused[0].known_t) if fused else 1.0
        for f in fused:
            if f.known_t - shown.get(f.system_id, -1e9) < 60.0:
                continue
            shown[f.system_id] = f.known_t
            point = f.estimate.impact
            assert point is not None
            alpha = 0.25 + 0.75 * (f.known_t - fused[0].known_t) / max(span, 1.0)
            for ax in (over, zoom):
                _ellipse(ax, point, colours[p], alpha)
        zoom.plot([], [], "-", color=colours[p], label=f"{p} fused 95% ellipse, each minute")
    zoom.plot([], [], "kx", label="true impact")
    zoom.legend(fontsize=8, loc="lower left")
    over.set_title(scenario.name, fontsize=10, loc="left")
    zoom.set_title("around the RV's impact", fontsize=10, loc="left")
    return fig


MIN_SPAN_DEG = 6.0  # a map of Guam alone still shows where it is
WARN_COLOURS = {  # region status in a party's public warnings, against the truth
    "warned in time": "#2ca02c",
    "warned late": "#ff7f0e",
    "missed": "#d62728",
    "over-warned (impact/overflight)": "#9467bd",
    "over-warned (launch: take shelter)": "#f6e27f",
}


def _region_status(alerting: dict[str, Any]) -> dict[str, str]:
    status: dict[str, str] = {}
    for region in alerting["over_warned"].get("launch", {}):
        status[region] = "over-warned (launch: take shelter)"
    for region in alerting["over_warned"].get("specific", {}):
        status[region] = "over-warned (impact/overflight)"
    for row in alerting["regions_at_risk"]:
        status[row["region"]] = (
            "missed" if row["warned_s"] is None
            else "warned late" if row["missed"] else "warned in time"
        )  # fmt: skip
    return status


def warnings_figure(truth: Truth, alerting: dict[str, dict[str, Any]]) -> Figure:
    """Each alerting party's regions coloured by what its warnings did against the truth,
    under the flights' ground tracks."""

    regions = {r.id: r for r in load_regions()}
    tracks = geo_tracks(truth)
    parties = list(alerting)
    fig = Figure(figsize=(5.2 * max(1, len(parties)), 5.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, max(1, len(parties))))
    for ax, party in zip(axes, parties, strict=False):
        mine = [r for r in regions.values() if r.country in alerting[party]["countries"]]
        bounds = np.array([r.geometry.bounds for r in mine])
        lon = np.concatenate([bounds[:, 0], bounds[:, 2]])
        lat = np.concatenate([bounds[:, 1], bounds[:, 3]])
        mid_lon, mid_lat = (lon.min() + lon.max()) / 2, (lat.min() + lat.max()) / 2
        lon = np.append(lon, [mid_lon - MIN_SPAN_DEG / 2, mid_lon + MIN_SPAN_DEG / 2])
        lat = np.append(lat, [mid_lat - MIN_SPAN_DEG / 2, mid_lat + MIN_SPAN_DEG / 2])
        draw_basemap(ax, Extent.around(lon, lat).padded(0.15), place_max_rank=None)
        for region, what in _region_status(alerting[party]).items():
            if region in regions:
                path = polygon_path(regions[region].geometry)
                ax.add_patch(PathPatch(path, fc=WARN_COLOURS[what], ec="0.3", lw=0.4, zorder=3))
        for g in tracks:
            ax.plot(g.lon_deg, g.lat_deg, "-", color="k" if g.obj.kind == "rv" else "0.5",
                    lw=1.2 if g.obj.kind == "rv" else 0.7, zorder=4)  # fmt: skip
        a = alerting[party]
        first = "none" if a["first_alert_s"] is None else f"T+{a['first_alert_s']:.0f} s"
        ax.set_title(f"{party}: first alert {first}, missed {len(a['missed'])}", fontsize=10,
                     loc="left")  # fmt: skip
    handles = [Patch(fc=colour, ec="0.3", label=what) for what, colour in WARN_COLOURS.items()]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8)
    return fig
