"""A plain lon/lat base map from the bundled data, with no projection library.

An equirectangular plot with aspect 1/cos(mid-latitude) keeps distances true in both
directions at the map's centre latitude, which is good to a few per cent over the
Korea–Japan theatre and keeps every overlay a plain (lon, lat) line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import shapely
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.path import Path
from matplotlib.ticker import FuncFormatter, MaxNLocator
from numpy.typing import ArrayLike
from shapely.geometry.polygon import orient

from warnlink.geo.regions import ATTRIBUTION, LAND_BOX, load_land, load_places, load_regions
from warnlink.plot import style

HALO = [patheffects.withStroke(linewidth=2.2, foreground="white", alpha=0.85)]


@dataclass(frozen=True)
class Extent:
    """A lon/lat box in degrees (lon may exceed 180 for tracks unwrapped eastwards)."""

    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float

    @property
    def mid_lat(self) -> float:
        return 0.5 * (self.lat_min + self.lat_max)

    @property
    def aspect(self) -> float:
        """Data aspect that makes a km east as long as a km north at mid-latitude."""
        return 1.0 / math.cos(math.radians(self.mid_lat))

    @property
    def width_over_height(self) -> float:
        return (self.lon_max - self.lon_min) / ((self.lat_max - self.lat_min) * self.aspect)

    @classmethod
    def around(cls, lon: ArrayLike, lat: ArrayLike) -> Extent:
        lo, la = np.asarray(lon, float), np.asarray(lat, float)
        return cls(float(lo.min()), float(lo.max()), float(la.min()), float(la.max()))

    def union(self, other: Extent) -> Extent:
        return Extent(
            min(self.lon_min, other.lon_min),
            max(self.lon_max, other.lon_max),
            min(self.lat_min, other.lat_min),
            max(self.lat_max, other.lat_max),
        )

    def padded(self, frac: float = 0.05, min_deg: float = 0.8) -> Extent:
        dx = max(frac * (self.lon_max - self.lon_min), min_deg)
        dy = max(frac * (self.lat_max - self.lat_min), min_deg)
        return Extent(self.lon_min - dx, self.lon_max + dx, self.lat_min - dy, self.lat_max + dy)

    def with_shape(self, min_ratio: float, max_ratio: float) -> Extent:
        """Grown about its centre so that width / height (in true km) is within the limits."""
        r = self.width_over_height
        if r < min_ratio:
            d = 0.5 * (self.lon_max - self.lon_min) * (min_ratio / r - 1.0)
            return Extent(self.lon_min - d, self.lon_max + d, self.lat_min, self.lat_max)
        if r > max_ratio:
            d = 0.5 * (self.lat_max - self.lat_min) * (r / max_ratio - 1.0)
            return Extent(self.lon_min, self.lon_max, self.lat_min - d, self.lat_max + d)
        return self

    def box(self) -> Any:
        return shapely.box(self.lon_min, self.lat_min, self.lon_max, self.lat_max)


COAST_CLEARANCE_DEG = 0.03
MIN_BORDER_DEG = 0.3

# Smallest map worth drawing: the Korean peninsula and Japan's four main islands.
KOREA_JAPAN = Extent(123.5, 146.5, 30.5, 46.0)


def _rings(geom: Any) -> list[Any]:
    polys = shapely.get_parts(geom)
    return [r for p in polys for r in (p.exterior, *p.interiors)]


def polygon_path(geom: Any) -> Path:
    """One compound path per (multi)polygon; holes wind the other way so Agg leaves them open."""
    verts: list[Any] = []
    codes: list[Any] = []
    for p in shapely.get_parts(geom):
        for ring in _rings(orient(p, 1.0)):
            xy = np.asarray(ring.coords)
            c = np.full(len(xy), Path.LINETO, dtype=Path.code_type)
            c[0], c[-1] = Path.MOVETO, Path.CLOSEPOLY
            verts.append(xy)
            codes.append(c)
    return Path(np.concatenate(verts), np.concatenate(codes))


@cache
def _coastlines() -> tuple[Any, ...]:
    """Land outlines without the straight cuts where the land layer was clipped to its box."""
    cuts = shapely.box(*LAND_BOX).boundary.buffer(1e-6)
    coast = shapely.union_all(load_land()).boundary.difference(cuts)
    return tuple(shapely.get_parts(shapely.line_merge(coast)))


@cache
def _land_borders() -> tuple[Any, ...]:
    """National land borders (KR–KP, KP–CN/RU): country outlines away from the coast.

    The coast itself is the land layer's. Outline pieces under MIN_BORDER_DEG long are
    dropped: they are where the KOSTAT coast departs from NE's (reclaimed land), not borders.
    """
    inland = shapely.union_all(load_land()).buffer(-COAST_CLEARANCE_DEG)
    by_country: dict[str, list[Any]] = {}
    for r in load_regions():
        by_country.setdefault(r.country, []).append(r.geometry)
    borders = []
    for geoms in by_country.values():
        outline = shapely.union_all(geoms).boundary.intersection(inland)
        borders += [
            p for p in shapely.get_parts(shapely.line_merge(outline)) if p.length >= MIN_BORDER_DEG
        ]
    return tuple(borders)


def _deg_label(v: float, pos_hemi: str, neg_hemi: str) -> str:
    v = (v + 180.0) % 360.0 - 180.0 if pos_hemi == "E" else v
    hemi = pos_hemi if v > 0 else neg_hemi if v < 0 else ""
    return f"{abs(v):g}°{hemi}"


def _setup_axes(ax: Axes, extent: Extent) -> None:
    """Limits, true-scale aspect, degree ticks and a light graticule."""
    ax.set_xlim(extent.lon_min, extent.lon_max)
    ax.set_ylim(extent.lat_min, extent.lat_max)
    ax.set_aspect(extent.aspect)
    ax.set_facecolor(style.SEA)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _deg_label(v, "E", "W")))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _deg_label(v, "N", "S")))
    ax.tick_params(labelsize=8, colors=style.MUTED, length=3)
    ax.grid(True, color="white", linewidth=0.6, alpha=0.9, zorder=0.5)
    ax.set_axisbelow(True)


def draw_basemap(
    ax: Axes,
    extent: Extent,
    *,
    place_max_rank: int | None = 4,
    region_labels: bool = False,
) -> None:
    """Land, admin-1 and national boundaries, optional labels and the data credit.

    Places in the warning countries are labelled down to Natural Earth scalerank
    place_max_rank (4: national and regional centres), others one rank less, so context
    abroad stays sparse; None labels no places.
    """
    _setup_axes(ax, extent)
    window = extent.padded(0.0, 0.5).box()
    land = [g for g in load_land() if g.intersects(window)]
    ax.add_collection(
        PathCollection(
            [polygon_path(g) for g in land], facecolors=style.LAND, linewidths=0, zorder=1
        )
    )
    ax.add_collection(
        LineCollection(
            [np.asarray(c.coords) for c in _coastlines() if c.intersects(window)],
            colors=style.COAST,
            linewidths=0.45,
            zorder=1.1,
        )
    )
    regions = [r for r in load_regions() if r.geometry.intersects(window)]
    admin1 = [np.asarray(ring.coords) for r in regions for ring in _rings(r.geometry)]
    ax.add_collection(LineCollection(admin1, colors=style.ADMIN1, linewidths=0.35, zorder=3))
    ax.add_collection(
        LineCollection(
            [np.asarray(b.coords) for b in _land_borders() if b.intersects(window)],
            colors=style.BORDER,
            linewidths=0.9,
            zorder=3.1,
        )
    )
    if region_labels:
        for r in regions:
            pt = r.geometry.representative_point()
            ax.text(
                pt.x,
                pt.y,
                r.name,
                fontsize=5.5,
                color=style.MUTED,
                ha="center",
                va="center",
                style="italic",
                zorder=7,
                clip_on=True,
            )
    if place_max_rank is not None:
        _draw_places(ax, extent, place_max_rank)
    _add_attribution(ax)


def _draw_places(ax: Axes, extent: Extent, max_rank: int) -> None:
    for p in load_places():
        inside = (
            extent.lon_min < p.lon_deg < extent.lon_max
            and extent.lat_min < p.lat_deg < extent.lat_max
        )
        if inside and p.scalerank <= (max_rank if p.region_id else max_rank - 1):
            ax.plot(p.lon_deg, p.lat_deg, "o", ms=2.2, color=style.MUTED, zorder=6)
            ax.annotate(
                p.name_ascii,
                (p.lon_deg, p.lat_deg),
                xytext=(3, 2),
                textcoords="offset points",
                fontsize=6.5,
                color=style.MUTED,
                path_effects=HALO,
                zorder=6,
                annotation_clip=True,
            )


def _add_attribution(ax: Axes) -> None:
    """Source credit under the map's lower right corner, as KOGL Type 1 requires.

    Placed relative to the axes, so it follows the map whatever the figure's layout.
    """
    ax.annotate(
        ATTRIBUTION,
        (1.0, 0.0),
        xycoords="axes fraction",
        xytext=(0, -20),
        textcoords="offset points",
        ha="right",
        va="top",
        fontsize=6,
        color=style.MUTED,
    )
