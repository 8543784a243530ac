"""Entry points that turn a scenario's ground truth into analyst figures (PNG).

Figures are built on matplotlib.figure.Figure with an explicit Agg canvas, never pyplot,
so plotting touches no global backend or figure registry and is safe in threads and
worker processes.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from warnlink.physics.truth import Truth
from warnlink.plot import style
from warnlink.plot.profile import profile_figure
from warnlink.plot.trackmap import map_figure
from warnlink.plot.tracks import flight_origins, geo_tracks
from warnlink.scenario.model import Scenario

DPI = 150


def plot_truth(scenario: Scenario, truth: Truth, out_dir: Path) -> list[Path]:
    """Write map.png and profile.png of the truth into out_dir; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tracks = geo_tracks(truth)
    flights = scenario.flights()
    present = {g.obj.flight_id for g in tracks}
    # Colours follow scenario order, so a flight keeps its colour across runs and figures.
    order = [f.id for f in flights] + [g.obj.flight_id for g in tracks]
    colours = style.assign_colours([f for f in order if f in present], style.FLIGHT_COLOURS)
    labels = {
        f.id: f"{f.id}  {f.vehicle_class.upper()}, {f.profile}, at t = {f.time_s:,.0f} s"
        for f in flights
    }
    map_png, profile_png = out_dir / "map.png", out_dir / "profile.png"
    _save(map_figure(scenario, truth, tracks, colours, labels), map_png)
    origins = flight_origins(scenario, tracks)
    _save(profile_figure(scenario.name, truth, tracks, origins, colours, labels), profile_png)
    return [map_png, profile_png]


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)  # attaches itself to fig: no pyplot, no global backend switch
    fig.savefig(path, dpi=DPI)
