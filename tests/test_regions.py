"""The bundled map data: integrity, counts, validity and point-in-region facts."""

from __future__ import annotations

import hashlib
import re
import warnings
from collections import Counter
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from warnlink.geo import regions as rg

# sha256 from the shared data set's README (../shared/data/README.md beside the repo).
EXPECTED_SHA256 = {
    rg.REGIONS_FILE: "196adccdccd26fb745109810ee9c087ae03e9a5abf8eb1fc4b2d12f494ea48f2",
    rg.LAND_FILE: "6e61af64e1d01f1867726b7363fb87c838467d2be24ee1d807461fd609d95fcd",
    rg.PLACES_FILE: "4a70f6ffecbcb889771057084456a858fb6b932b3d4f80623868581e711b4239",
}
SHARED_README = Path(__file__).resolve().parents[2] / "shared" / "data" / "README.md"
DATA = files("warnlink.geo").joinpath("data")


def region_at(lon: float, lat: float) -> list[str]:
    return [r.id for r in rg.load_regions() if r.geometry.contains(shapely.Point(lon, lat))]


@pytest.mark.parametrize("name", sorted(EXPECTED_SHA256))
def test_bundled_files_unchanged(name: str) -> None:
    assert hashlib.sha256(DATA.joinpath(name).read_bytes()).hexdigest() == EXPECTED_SHA256[name]


def test_attribution_ships_with_the_data() -> None:
    text = DATA.joinpath("ATTRIBUTION.md").read_text(encoding="utf-8")
    for digest in EXPECTED_SHA256.values():
        assert digest in text
    assert "KOGL Type 1" in text and "공공누리 제1유형, 출처표시" in text
    assert "KOSTAT" in rg.ATTRIBUTION and "KOGL Type 1" in rg.ATTRIBUTION


def test_matches_shared_readme() -> None:
    """Hashes and the required attribution text agree with the shared data set's README."""
    readme = SHARED_README.read_text(encoding="utf-8")
    for name, digest in EXPECTED_SHA256.items():
        assert re.search(rf"`{re.escape(name)}`.*`{digest}`", readme)
    quote = " ".join(line[2:] for line in readme.splitlines() if line.startswith("> "))
    shipped = DATA.joinpath("ATTRIBUTION.md").read_text(encoding="utf-8")
    shipped_quote = " ".join(line[2:] for line in shipped.splitlines() if line.startswith("> "))
    assert quote and quote == shipped_quote


def test_region_counts_and_fields() -> None:
    regions = rg.load_regions()
    assert len(regions) == 76
    assert Counter(r.country for r in regions) == {"JP": 47, "KR": 17, "KP": 11, "GU": 1}
    assert len({r.id for r in regions}) == 76
    assert all(re.fullmatch(r"(JP|KR|KP)-\d\d|US-GU", r.id) for r in regions)
    assert all(r.name.isascii() and r.name for r in regions)
    assert [r.name_local is None for r in regions].count(True) == 1  # Guam
    assert rg.load_regions() is regions  # cached


def test_geometries_valid() -> None:
    assert all(r.geometry.is_valid and not r.geometry.is_empty for r in rg.load_regions())
    assert all(g.is_valid for g in rg.load_land())
    assert len(rg.load_land()) == 620


def test_places() -> None:
    places = rg.load_places()
    assert len(places) == 322
    tokyo = places[0]
    assert (tokyo.name, tokyo.region_id) == ("Tokyo", "JP-13")
    ids = {r.id for r in rg.load_regions()}
    assert all(p.region_id in ids for p in places if p.country in {"JP", "KR", "KP", "GU"})


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (139.7671, 35.6812, ["JP-13"]),  # Tokyo station
        (126.9780, 37.5665, ["KR-11"]),  # Seoul City Hall
        (125.7540, 39.0194, ["KP-01"]),  # Pyongyang, Kim Il Sung Square
        (141.3544, 43.0621, ["JP-01"]),  # Sapporo
        (144.7504, 13.4745, ["US-GU"]),  # Hagåtña
        (129.2222, 35.2445, ["KR-26"]),  # Gijang county office: Busan, not S. Gyeongsang
        (128.6016, 36.2427, ["KR-27"]),  # Gunwi: Daegu since 2023
        (129.3, 34.4, ["JP-42"]),  # Tsushima: Nagasaki
        (124.7, 37.97, ["KR-28"]),  # Baengnyeong: Incheon, not Gyeonggi
        (126.5, 33.4, ["KR-49"]),  # Jeju
        (134.0, 40.0, []),  # Sea of Japan
        (129.0, 34.6, []),  # Korea Strait, between Busan and Tsushima
    ],
)
def test_point_in_region(lon: float, lat: float, expected: list[str]) -> None:
    assert region_at(lon, lat) == expected


def test_regions_do_not_overlap() -> None:
    """Neighbours share identical edges, so the pairwise overlap area is exactly zero."""
    geoms = [r.geometry for r in rg.load_regions()]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(
        shapely.intersection(np.take(geoms, left[pairs]), np.take(geoms, right[pairs]))
    )
    assert pairs.sum() > 100  # neighbours do touch
    assert overlap.sum() == 0.0


def test_grid_membership_exclusive() -> None:
    """About 240k points over the data's extent: none in two regions' interiors."""
    lon, lat = np.meshgrid(np.arange(122.9, 146.0, 0.05), np.arange(24.0, 45.6, 0.05))
    hits = sum(shapely.contains_xy(r.geometry, lon, lat).astype(int) for r in rg.load_regions())
    assert hits.max() == 1
    assert hits.sum() > 10_000  # the grid does hit land


REGION_BOUNDS = [r.geometry.bounds for r in rg.load_regions()]


@settings(max_examples=300, deadline=None)
@given(
    k=st.integers(0, len(REGION_BOUNDS) - 1),
    u=st.floats(0.0, 1.0),
    v=st.floats(0.0, 1.0),
)
def test_membership_exclusive_property(k: int, u: float, v: float) -> None:
    """A point in some region's bounding box lies in at most one region.

    `covers` counts boundary points too, so only a point exactly on a shared edge (a
    measure-zero set, never drawn at random here) could be in two.
    """
    x0, y0, x1, y1 = REGION_BOUNDS[k]
    pt = shapely.Point(x0 + u * (x1 - x0), y0 + v * (y1 - y0))
    inside = [r.id for r in rg.load_regions() if r.geometry.covers(pt)]
    assert len(inside) <= 1


def test_invalid_geometry_is_repaired_with_warning() -> None:
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    with pytest.warns(RuntimeWarning, match="make_valid"):
        fixed = rg._valid_polygonal(bowtie, "bowtie")
    assert fixed.is_valid and fixed.area == pytest.approx(0.5)
    square = Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rg._valid_polygonal(square, "square") is square
