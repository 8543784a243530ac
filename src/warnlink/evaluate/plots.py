"""PNG plots of an evaluation: impact and launch errors, ellipse coverage and GOSPA over time.

Matplotlib's object API with an Agg canvas per figure, never pyplot, so evaluation can run
in threads and servers without a global backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from warnlink.evaluate.metrics import Evaluation, PointSeries
from warnlink.plot import style

DPI = 120
COVERAGE_BIN_S = 20.0


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=DPI)
    return path


def _errors(ax: Axes, series: dict[str, PointSeries], colours: dict[str, str], what: str) -> None:
    for oid, s in series.items():
        if len(s.error_m):
            ax.plot(s.since_launch, np.maximum(s.error_m, 1.0), color=colours[oid], lw=1, label=oid)
    ax.set_yscale("log")
    ax.set_xlabel("time since launch [s]")
    ax.set_ylabel(f"{what} error [m]")
    ax.grid(True, which="both", alpha=0.3)
    if series:
        ax.legend(fontsize="small")


def error_figure(ev: Evaluation) -> Figure:
    colours = style.assign_colours(sorted(ev.impact) + sorted(ev.launch), style.FLIGHT_COLOURS)
    fig = Figure(figsize=(10.0, 7.0), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    _errors(top, ev.impact, colours, "impact-point")
    top.set_title("Predicted impact point: geodesic error per RV")
    _errors(bottom, ev.launch, colours, "launch-point")
    bottom.set_title("Estimated launch point: geodesic error per RV")
    return fig


def _binned_share(series: dict[str, PointSeries]) -> tuple[np.ndarray, np.ndarray]:
    since = np.concatenate([s.since_launch for s in series.values()] or [np.zeros(0)])
    inside = np.concatenate([s.inside for s in series.values()] or [np.zeros(0, bool)])
    if len(since) == 0:
        return np.zeros(0), np.zeros(0)
    edges = np.arange(
        np.floor(since.min() / COVERAGE_BIN_S), np.ceil(since.max() / COVERAGE_BIN_S) + 1
    )
    b = np.clip(np.digitize(since, edges * COVERAGE_BIN_S) - 1, 0, len(edges) - 2)
    n = np.bincount(b, minlength=len(edges) - 1)
    k = np.bincount(b, weights=inside.astype(float), minlength=len(edges) - 1)
    keep = n > 0
    centres = (edges[:-1] + 0.5) * COVERAGE_BIN_S
    return centres[keep], k[keep] / n[keep]


def coverage_figure(ev: Evaluation) -> Figure:
    fig = Figure(figsize=(10.0, 5.0), layout="constrained")
    ax = fig.subplots()
    for name, series, marker in (("impact", ev.impact, "o"), ("launch", ev.launch, "s")):
        x, share = _binned_share(series)
        ax.plot(x, share, marker=marker, lw=1, label=f"{name} ellipse")
        cov = (ev.summary["overall"].get(name) or {}).get("coverage", {})
        if cov.get("confidence") is not None:
            ax.axhline(cov["confidence"], ls="--", color=style.MUTED, lw=1)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("time since launch [s]")
    ax.set_ylabel(f"share of updates holding the truth ({COVERAGE_BIN_S:g} s bins)")
    ax.set_title("Coverage of the stated ellipses, all RVs (dashed: stated confidence)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


def gospa_figure(ev: Evaluation) -> Figure:
    g, t = ev.gospa, ev.gospa_t
    c = ev.summary["parameters"]["gospa_c_m"]
    fig = Figure(figsize=(10.0, 7.0), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(t, g["gospa"] / 1e3, color=style.INK, lw=1.2, label="GOSPA")
    top.plot(t, g["localisation"] / 1e3, lw=1, label="localisation part")
    top.plot(t, g["ospa"] / 1e3, lw=0.8, ls=":", label="OSPA")
    top.set_ylabel("km")
    top.set_title(f"GOSPA (c = {c / 1e3:g} km, p = 2, alpha = 2), confirmed tracks vs all objects")
    top.legend(fontsize="small")
    top.grid(True, alpha=0.3)
    bottom.step(t, g["missed"], where="post", label="missed objects")
    bottom.step(t, g["false"], where="post", label="false tracks")
    bottom.set_xlabel("scenario time [s]")
    bottom.set_ylabel("count")
    bottom.legend(fontsize="small")
    bottom.grid(True, alpha=0.3)
    return fig


def write_plots(ev: Evaluation, out_dir: Path) -> list[Path]:
    """impact_error.png, coverage.png and gospa.png in out_dir."""
    return [
        _save(error_figure(ev), out_dir / "impact_error.png"),
        _save(coverage_figure(ev), out_dir / "coverage.png"),
        _save(gospa_figure(ev), out_dir / "gospa.png"),
    ]
