"""The bundled map data: admin-1 warning regions, land and populated places.

Loaded from the installed package (importlib.resources) and cached, so the alerting logic
and the plots share the very same geometries. Sources, licences and caveats (islets in no
region, the southern Kurils, Liancourt Rocks) are in data/ATTRIBUTION.md.

Geometry check on load: each polygon is tested with GEOS `is_valid`. An invalid one is
repaired with `shapely.make_valid` (keeping only its polygonal parts) and a
`RuntimeWarning` names the feature, so a bad data update is loud but not fatal. The
bundled files are all valid, so today nothing is changed.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, TypeAlias

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape

REGIONS_FILE = "regions-east-asia.geojson"
LAND_FILE = "land-east-asia.geojson"
PLACES_FILE = "places-east-asia.geojson"
# The land layer is clipped to this lon/lat box (plus a small box around Guam): land
# edges lying on it are cuts, not coastline, and there is no land data beyond it.
LAND_BOX = (118.0, 20.0, 150.0, 50.0)  # lon_min, lat_min, lon_max, lat_max

# Short form for figures; KOGL Type 1 requires naming the source (the full text ships
# in data/ATTRIBUTION.md). ASCII only, because the default plot font lacks Hangul.
ATTRIBUTION = (
    "Boundaries: KR from Statistics Korea (KOSTAT) SGIS 2018, KOGL Type 1, modified; "
    "others and land: Natural Earth (public domain)"
)

Polygonal: TypeAlias = Polygon | MultiPolygon  # shapely is untyped: Any to mypy


@dataclass(frozen=True)
class Region:
    """An admin-1 region (prefecture, province, metropolitan city): the unit of alerting."""

    id: str  # ISO 3166-2, e.g. "JP-13", "KR-11", "KP-01", "US-GU"
    name: str  # English, ASCII
    name_local: str | None  # Japanese or Korean; None for Guam
    country: str  # ISO 3166-1 alpha-2: JP, KR, KP, GU
    geometry: Polygonal  # WGS84 lon/lat degrees


@dataclass(frozen=True)
class Place:
    """A Natural Earth populated place, for labels and rough population context."""

    name: str
    name_ascii: str
    country: str  # ISO 3166-1 alpha-2
    region_id: str | None  # containing (or nearest offshore) region; None outside JP/KR/KP/GU
    featurecla: str
    pop_max: int  # metro-area estimate, NE 2017
    pop_min: int
    scalerank: int  # 0 = most prominent
    lon_deg: float
    lat_deg: float


def _features(name: str) -> list[dict[str, Any]]:
    text = files("warnlink.geo").joinpath("data", name).read_text(encoding="utf-8")
    features: list[dict[str, Any]] = json.loads(text)["features"]
    return features


def _valid_polygonal(geom: Any, label: str) -> Polygonal:
    """Return geom if it is a valid (Multi)Polygon, else its make_valid repair with a warning."""
    if isinstance(geom, Polygonal) and geom.is_valid:
        return geom
    reason = shapely.is_valid_reason(geom)
    # make_valid may return a GeometryCollection with stray lines/points: keep the areas.
    parts = [
        p
        for p in shapely.get_parts(shapely.get_parts(shapely.make_valid(geom)))
        if isinstance(p, Polygon) and not p.is_empty
    ]
    if not parts:
        raise ValueError(f"{label}: no polygonal geometry left after make_valid ({reason})")
    warnings.warn(
        f"{label}: invalid geometry ({reason}) repaired with shapely.make_valid",
        RuntimeWarning,
        stacklevel=3,
    )
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


@cache
def load_regions() -> tuple[Region, ...]:
    """The 76 admin-1 regions of JP, KR, KP and Guam, in file order (JP, KR, KP, GU)."""
    regions = []
    for f in _features(REGIONS_FILE):
        p = f["properties"]
        regions.append(
            Region(
                id=p["id"],
                name=p["name"],
                name_local=p["name_local"],
                country=p["country"],
                geometry=_valid_polygonal(shape(f["geometry"]), p["id"]),
            )
        )
    ids = [r.id for r in regions]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{REGIONS_FILE}: duplicate region ids")
    return tuple(regions)


@cache
def load_land() -> tuple[Polygonal, ...]:
    """Land polygons (NE land and minor islands), largest first; the regions miss some islets."""
    return tuple(
        _valid_polygonal(shape(f["geometry"]), f"land feature {i}")
        for i, f in enumerate(_features(LAND_FILE))
    )


@cache
def load_places() -> tuple[Place, ...]:
    """Populated places, most populous first."""
    places = []
    for f in _features(PLACES_FILE):
        p = f["properties"]
        lon, lat = f["geometry"]["coordinates"]
        places.append(
            Place(
                name=p["name"],
                name_ascii=p["name_ascii"],
                country=p["country"],
                region_id=p["region_id"],
                featurecla=p["featurecla"],
                pop_max=int(p["pop_max"]),
                pop_min=int(p["pop_min"]),
                scalerank=int(p["scalerank"]),
                lon_deg=float(lon),
                lat_deg=float(lat),
            )
        )
    return tuple(places)
