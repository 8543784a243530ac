"""Analyst figures of scenarios and ground truth, drawn on the bundled map data."""

from warnlink.plot.basemap import KOREA_JAPAN, Extent, draw_basemap
from warnlink.plot.scenario_plots import plot_truth

__all__ = ["KOREA_JAPAN", "Extent", "draw_basemap", "plot_truth"]
