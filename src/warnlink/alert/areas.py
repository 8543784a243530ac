"""Which of an authority's regions one estimate puts at risk, why, and when.

Three shapes, all shapely geometries in WGS84 lon/lat degrees:

- the *impact area*: the estimate's impact ellipse at the policy's confidence (the
  east-north covariance scaled by the chi-square 2-dof quantile), built in the local ENU
  plane of the impact point and converted with warnlink.geo.frames;
- the *overflight corridor*: the ground track of the predicted path while it is below
  the policy's altitude ceiling, widened by a confidence-scaled cross-track sigma. The
  state's 6-dim distribution is flown with unscented sigma points (track.predict's) by
  the compiled coast of warnlink.track.coast_path; the centre point's ground track is the
  corridor's spine;
- before a trajectory exists (the motor still burns, so where it will fall is unknown)
  the *launch sector*: the authority's regions within launch_range_m of the object,
  inside the heading +- (launch_sector_deg + 3 sigma) if a heading is known, else all
  round. Warning too much at launch is the authorities' practice (J-Alert, CBS).

Regions touched by any of them are found with an STRtree; neighbours optionally added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.special import ndtri
from shapely.geometry import Point, Polygon

from warnlink.alert.policy import AlertPolicy
from warnlink.formats.records import Estimate, GroundPoint
from warnlink.geo.frames import (
    A_WGS84,
    E2_WGS84,
    ecef_to_eci,
    ecef_to_geodetic,
    eci_to_ecef,
    enu_basis,
    geodetic_to_ecef,
)
from warnlink.geo.regions import Polygonal, Region, load_land, load_regions
from warnlink.scenario.load import destination
from warnlink.track.coast_path import CoastPath, coast_path
from warnlink.track.ellipse import chi2_2dof
from warnlink.track.predict import sigma_points, sigma_weights

F64 = NDArray[np.float64]
Why = Literal["launch", "impact", "overflight", "neighbour"]
Waters = Literal["territorial", "eez", "outside"]

RING_POINTS = 72  # vertices of an ellipse ring (5 degree steps)
CIRCLE_POINTS = 16  # vertices of a corridor disc
MIN_SEMI_AXIS_M = 1e3  # an impact area is never narrower: a warning is not a point
MIN_HALF_WIDTH_M = 2e3  # nor is a corridor
DT_PATH_S = 4.0  # spacing of the corridor's ground-track samples (about 30 km at 7 km/s)
PATH_HORIZON_S = 3600.0  # the corridor looks this far ahead
TERRITORIAL_M = 12 * 1852.0  # 12 nmi
EEZ_M = 200 * 1852.0  # 200 nmi: "within the EEZ" means within 200 nmi of the land here


class EstimateError(ValueError):
    """An estimate that cannot be turned into areas (NaN, wrong covariance size)."""


@dataclass(frozen=True)
class RegionRisk:
    """One region at risk: why, and when (lead time) the danger arrives and leaves."""

    region: Region
    why: tuple[Why, ...]  # sorted by severity: impact, overflight, launch, neighbour
    t_impact: float | None  # predicted impact time, if the impact area touches it
    t_over_first: float | None  # first time the path below the ceiling is over it
    t_over_last: float | None  # last such time: after it the region is passed


@dataclass(frozen=True)
class ImpactPlace:
    """Where the predicted impact point is, as the public texts need it."""

    lat_deg: float
    lon_deg: float
    on_land: bool  # inside any region or land polygon (any country)
    country: str | None  # country of the region containing it, if any
    distance_m: float  # from the authority's nearest land (inf beyond the data)
    waters: Waters  # within 12 nmi / 200 nmi of that land, or outside
    nearest_region: Region | None  # the authority's region nearest to it


@dataclass(frozen=True)
class Assessment:
    """An estimate turned into areas at risk, for one authority."""

    t: float
    track: str
    basis: Literal["launch", "trajectory"]
    impact: GroundPoint | None
    impact_area: Polygonal | None
    corridor: Polygonal | None
    launch_sector: Polygonal | None
    t_path_end: float | None  # when the predicted path reaches the ground (mean state)
    place: ImpactPlace | None  # of the predicted impact point
    risks: tuple[RegionRisk, ...]  # ordered by region id

    @property
    def region_ids(self) -> frozenset[str]:
        return frozenset(r.region.id for r in self.risks)


SEVERITY: dict[Why, int] = {"impact": 0, "overflight": 1, "launch": 2, "neighbour": 3}


def check_estimate(e: Estimate) -> None:
    """EstimateError unless the numbers areas need are finite and of the right size."""
    if len(e.cov_ecef) != 36:
        raise EstimateError(f"{e.track} t={e.t}: cov_ecef has {len(e.cov_ecef)} numbers, not 36")
    values = [e.t, *e.ecef_m, *e.vel_mps, *e.cov_ecef, e.boost_probability]
    if e.impact is not None:
        values += [e.impact.t, e.impact.lat_deg, e.impact.lon_deg, *e.impact.cov_en_m2]
    if e.heading_deg is not None:
        values += [e.heading_deg, e.heading_sigma_deg or 0.0]
    if not all(math.isfinite(v) for v in values):
        raise EstimateError(f"{e.track} t={e.t}: not finite (NaN or inf) where areas need numbers")
    if e.impact is not None and not -90.0 <= e.impact.lat_deg <= 90.0:
        raise EstimateError(f"{e.track} t={e.t}: impact latitude {e.impact.lat_deg} out of range")


def unwrap_lon(lon: F64 | float, lon0: float) -> F64:
    """Longitudes made continuous around lon0, so shapes may cross the antimeridian."""
    return np.asarray(lon0 + (np.asarray(lon, float) - lon0 + 180.0) % 360.0 - 180.0, float)


def enu_to_lonlat(lat0: F64, lon0: F64, east: F64, north: F64) -> tuple[F64, F64]:
    """Points east/north metres (m, k) in the ground planes of centres (m,) to lon, lat (m, k)."""
    basis = enu_basis(lat0, lon0)  # (m, 3, 3)
    site = geodetic_to_ecef(lat0, lon0, np.zeros_like(lat0))
    r = (
        site[:, None, :]
        + east[..., None] * basis[:, None, 0]
        + north[..., None] * basis[:, None, 1]
    )
    lat, lon, _ = ecef_to_geodetic(r)
    return unwrap_lon(lon, float(lon0[0])), lat


def ellipse_polygon(
    lat_deg: float, lon_deg: float, cov_en_m2: tuple[float, float, float], confidence: float
) -> Polygon:
    """The confidence ellipse of an east-north covariance as a lon/lat polygon.

    Semi-axes sqrt(eigenvalue * chi2_2(confidence)), floored at MIN_SEMI_AXIS_M, so a
    degenerate covariance still gives a valid polygon.
    """
    ee, nn, en = cov_en_m2
    vals, vecs = np.linalg.eigh(np.array([[ee, en], [en, nn]], float))
    axes = np.maximum(np.sqrt(np.maximum(vals, 0.0) * chi2_2dof(confidence)), MIN_SEMI_AXIS_M)
    theta = np.linspace(0.0, 2.0 * np.pi, RING_POINTS, endpoint=False)
    unit = np.stack([np.cos(theta), np.sin(theta)])  # (2, k)
    en_pts = vecs @ (axes[:, None] * unit)  # (2, k): east, north
    lon, lat = enu_to_lonlat(
        np.array([lat_deg]), np.array([lon_deg]), en_pts[0][None], en_pts[1][None]
    )
    return Polygon(np.column_stack([lon[0], lat[0]]))


def _normal_quantile(confidence: float) -> float:
    """Two-sided standard normal quantile: the half-width in sigmas holding `confidence`."""
    return float(ndtri(0.5 + 0.5 * confidence))


@dataclass(frozen=True)
class PredictedPath:
    """The mean predicted path on a uniform time grid, and its cross-track spread."""

    t: F64  # (k,) scenario s
    lat_deg: F64
    lon_deg: F64
    alt_m: F64
    cross_sigma_m: F64  # 1-sigma cross-track spread of the sigma points
    cross_offset_m: F64  # |mean cross-track offset of the points from the centre path|
    landed: bool  # the centre reaches the ground within the horizon


def flown(e: Estimate, states_ecef: F64, grid: F64) -> CoastPath:
    """States (n, 6) ECEF at e.t flown unpowered along grid (from e.t) with e's ballistic
    coefficient (no drag if unknown), by the compiled coast of warnlink.track.coast_path."""
    r_eci, v_eci = ecef_to_eci(e.t, states_ecef[:, :3], states_ecef[:, 3:])
    beta = e.ballistic_coefficient_kg_m2
    return coast_path(e.t, r_eci, v_eci, 1.0 / beta if beta else 0.0, grid)


def predicted_path(e: Estimate, horizon_s: float = PATH_HORIZON_S) -> PredictedPath:
    """Fly the estimate's state distribution (13 sigma points) on a DT_PATH_S grid.

    Thrust is ignored, as in track.predict: the path of the object if it stopped burning
    now. The grid ends where the centre point lands (or at the horizon); a point that has
    landed stays where it landed. A state below the surface (a track predicted on past its
    fall) has come down: its path is that one point, landed.
    """
    check_estimate(e)
    mean = np.array([*e.ecef_m, *e.vel_mps], float)
    grid = e.t + np.append(np.arange(0.0, horizon_s, DT_PATH_S), horizon_s)
    centre = flown(e, mean[None], grid)
    landed = bool(centre.landed[0])
    if landed:
        grid = np.append(grid[grid < centre.t_land[0]], centre.t_land[0])
    if len(grid) < 2:
        lat0, lon0, alt0 = ecef_to_geodetic(mean[:3])
        one = np.zeros(1)
        return PredictedPath(
            t=grid, lat_deg=np.atleast_1d(lat0), lon_deg=np.atleast_1d(lon0),
            alt_m=np.atleast_1d(alt0), cross_sigma_m=one, cross_offset_m=one, landed=True,
        )  # fmt: skip
    cov = np.asarray(e.cov_ecef, float).reshape(6, 6)
    pts = sigma_points(mean[None], cov[None])[0]  # (13, 6) ECEF
    w = sigma_weights(6)
    # the centre (pts[0], the mean) is flown already: its samples up to its landing are those
    # of the grid's start, and the next one holds where it landed
    r_eci = np.concatenate([centre.r_eci[:, : len(grid)], flown(e, pts[1:], grid).r_eci])
    pos = eci_to_ecef(np.broadcast_to(grid, r_eci.shape[:2]), r_eci, np.zeros_like(r_eci))[0]
    lat, lon, alt = ecef_to_geodetic(pos[0])
    basis = enu_basis(lat, lon)  # (k, 3, 3)
    east_north = np.einsum("kij,pkj->pki", basis[:, :2], pos - pos[0])  # (13, k, 2)
    centre_en = np.einsum("kij,kj->ki", basis[:, :2], np.gradient(pos[0], axis=0))
    direction = centre_en / np.maximum(np.linalg.norm(centre_en, axis=1), 1e-9)[:, None]
    normal = np.stack([-direction[:, 1], direction[:, 0]], axis=1)
    d = np.einsum("pki,ki->pk", east_north, normal)  # cross-track offsets (13, k)
    d_mean = w @ d
    var = w @ (d - d_mean) ** 2
    return PredictedPath(
        t=grid, lat_deg=lat, lon_deg=unwrap_lon(lon, float(lon[0])), alt_m=alt,
        cross_sigma_m=np.sqrt(var), cross_offset_m=np.abs(d_mean), landed=landed,
    )  # fmt: skip


def corridor_segments(
    path: PredictedPath, ceiling_m: float, confidence: float
) -> tuple[NDArray[np.object_], F64, F64]:
    """The corridor as pieces: swept discs between consecutive samples below the ceiling.

    The half-width at a sample is z * cross_sigma + |mean offset| (z the two-sided normal
    quantile of the confidence), at least MIN_HALF_WIDTH_M. Returns the pieces and the
    time interval of each, for overflight times per region. A path of one point (down
    already) has none.
    """
    below = path.alt_m < ceiling_m
    if len(path.t) < 2 or not below.any():  # one point: it has come down, nothing flies over
        return np.empty(0, object), np.empty(0), np.empty(0)
    idx = np.flatnonzero(below)
    half = np.maximum(
        _normal_quantile(confidence) * path.cross_sigma_m[idx] + path.cross_offset_m[idx],
        MIN_HALF_WIDTH_M,
    )
    theta = np.linspace(0.0, 2.0 * np.pi, CIRCLE_POINTS, endpoint=False)
    lon, lat = enu_to_lonlat(
        path.lat_deg[idx], path.lon_deg[idx],
        half[:, None] * np.cos(theta), half[:, None] * np.sin(theta),
    )  # fmt: skip
    lon = unwrap_lon(lon, float(path.lon_deg[0]))
    discs = np.stack([lon, lat], axis=-1)  # (m, CIRCLE_POINTS, 2)
    # a piece joins sample i to the next sample when both are below, else it is one disc
    joined = np.append(np.diff(idx) == 1, False)
    nxt = np.minimum(np.arange(len(idx)) + 1, len(idx) - 1)
    pair = np.concatenate([discs, np.where(joined[:, None, None], discs[nxt], discs)], axis=1)
    pieces = shapely.convex_hull(shapely.multipoints(pair))
    t0 = path.t[idx]
    t1 = np.where(joined, path.t[idx[nxt]], t0)
    return np.asarray(pieces, object), t0, t1


@dataclass(frozen=True)
class RegionIndex:
    """The regions of an authority's countries, their STRtree, and its land for waters."""

    regions: tuple[Region, ...]
    tree: shapely.STRtree
    land: Polygonal  # the regions plus the land-layer islets nearest to them
    all_tree: shapely.STRtree  # every region of every country (land or not)
    all_regions: tuple[Region, ...]
    land_tree: shapely.STRtree  # the land layer (islets in no region included)

    def neighbours(self, i: int, distance_m: float) -> NDArray[np.intp]:
        """Regions within distance_m of region i (degrees of latitude: a little generous)."""
        found = self.tree.query(
            self.regions[i].geometry, predicate="dwithin", distance=distance_m / 111e3
        )
        return np.asarray(found[found != i], np.intp)


@cache
def region_index(countries: tuple[str, ...]) -> RegionIndex:
    """The index for a set of countries, built once per process."""
    everything = load_regions()
    regions = tuple(r for r in everything if r.country in countries)
    all_tree = shapely.STRtree([r.geometry for r in everything])
    land_polys = load_land()
    nearest = all_tree.query_nearest(list(land_polys), all_matches=False)[1]
    ours = [
        p for p, j in zip(land_polys, nearest, strict=True) if everything[j].country in countries
    ]
    land = shapely.union_all([r.geometry for r in regions] + ours)
    return RegionIndex(
        regions, shapely.STRtree([r.geometry for r in regions]), land, all_tree, everything,
        shapely.STRtree(list(land_polys)),
    )  # fmt: skip


def _metres_per_degree(lat_deg: float) -> tuple[float, float]:
    """WGS84 metres per degree of longitude and of latitude at a latitude."""
    s = math.sin(math.radians(lat_deg))
    w = math.sqrt(1.0 - E2_WGS84 * s * s)
    n = A_WGS84 / w
    m = A_WGS84 * (1.0 - E2_WGS84) / w**3
    return math.radians(1.0) * n * math.cos(math.radians(lat_deg)), math.radians(1.0) * m


def impact_place(lat_deg: float, lon_deg: float, index: RegionIndex) -> ImpactPlace:
    """On land or at sea, and how far from the authority's land (12 nmi / 200 nmi bands).

    The distance is taken in a local equirectangular plane scaled to WGS84 metres per
    degree at the point: within about 1% out to 200 nmi, enough for the bands.
    """
    pt = Point(lon_deg, lat_deg)
    hit = index.all_tree.query(pt, predicate="intersects")
    country = index.all_regions[int(hit[0])].country if len(hit) else None
    on_land = country is not None or len(index.land_tree.query(pt, predicate="intersects")) > 0
    kx, ky = _metres_per_degree(lat_deg)
    box_lon, box_lat = 1.2 * EEZ_M / kx, 1.2 * EEZ_M / ky
    near = shapely.clip_by_rect(
        index.land, lon_deg - box_lon, lat_deg - box_lat, lon_deg + box_lon, lat_deg + box_lat
    )
    distance = math.inf
    if not near.is_empty:
        scaled = shapely.transform(
            near, lambda xy: (xy - np.array([lon_deg, lat_deg])) * np.array([kx, ky])
        )
        distance = float(scaled.distance(Point(0.0, 0.0)))
    waters: Waters = (
        "territorial" if distance <= TERRITORIAL_M else "eez" if distance <= EEZ_M else "outside"
    )
    nearest_region = None
    if index.regions:
        nearest_region = index.regions[int(index.tree.query_nearest(pt, all_matches=False)[0])]
    return ImpactPlace(lat_deg, lon_deg, on_land, country, distance, waters, nearest_region)


def launch_sector(e: Estimate, policy: AlertPolicy) -> Polygon:
    """Before a trajectory exists: a sector (or disc) of launch_range_m about the object.

    Centred on the estimated launch point if there is one, else the object's subpoint;
    the heading +- (launch_sector_deg + 3 sigma), a full disc if no heading is known.
    """
    if e.launch is not None:
        lat0, lon0 = e.launch.lat_deg, e.launch.lon_deg
    else:
        la, lo, _ = ecef_to_geodetic(np.asarray(e.ecef_m, float))
        lat0, lon0 = float(la), float(lo)
    half = 180.0
    if e.heading_deg is not None:
        half = min(180.0, policy.launch_sector_deg + 3.0 * (e.heading_sigma_deg or 0.0))
    heading = e.heading_deg or 0.0
    rng = policy.launch_range_m
    # the arc, and for a sector its two edges along the geodesics (a straight lon/lat
    # line would bow away from them by hundreds of km over thousands)
    pts = [(rng, float(a)) for a in np.linspace(heading - half, heading + half, 49)]
    if half < 180.0:
        steps = np.linspace(0.0, rng, 25)[1:-1]
        pts = (
            [(0.0, 0.0)] + [(float(d), heading - half) for d in steps] + pts
            + [(float(d), heading + half) for d in steps[::-1]]
        )  # fmt: skip
    ends = [destination(lat0, lon0, d, a) if d > 0 else (lat0, lon0) for d, a in pts]
    lon = unwrap_lon(np.array([p[1] for p in ends]), lon0)
    return Polygon(list(zip(lon, [p[0] for p in ends], strict=True))).buffer(0)


def _hits(index: RegionIndex, geom: Polygonal | None) -> NDArray[np.intp]:
    if geom is None or geom.is_empty:
        return np.empty(0, np.intp)
    return np.asarray(index.tree.query(geom, predicate="intersects"), np.intp)


def launch_basis(e: Estimate) -> bool:
    """No trajectory to warn from yet: neither an impact nor an orbit is predicted.

    The tracker withholds the impact while the motor burns or may relight (docs/formats.md),
    so until one exists the path "if it stopped burning now" would fall short and lift
    regions that are still at risk.
    """
    return e.impact is None and e.orbit is None


def assess(e: Estimate, policy: AlertPolicy, index: RegionIndex | None = None) -> Assessment:
    """The authority's regions at risk from one estimate, with why and when.

    Until an impact or an orbit is predicted the basis is the launch sector; afterwards
    the impact area (if the estimate has an impact) and the corridor of the predicted path.
    """
    check_estimate(e)
    index = index or region_index(policy.countries)
    why: dict[int, set[Why]] = {}
    t_impact: dict[int, float] = {}
    t_first: dict[int, float] = {}
    t_last: dict[int, float] = {}
    area = corridor = sector = None
    t_end: float | None = None
    place = None
    boosting = launch_basis(e)
    if boosting:
        sector = launch_sector(e, policy)
        for i in _hits(index, sector):
            why.setdefault(int(i), set()).add("launch")
    else:
        if e.impact is not None:
            imp = e.impact
            area = ellipse_polygon(imp.lat_deg, imp.lon_deg, imp.cov_en_m2, policy.confidence)
            place = impact_place(imp.lat_deg, imp.lon_deg, index)
            for i in _hits(index, area):
                why.setdefault(int(i), set()).add("impact")
                t_impact[int(i)] = imp.t
        path = predicted_path(e)
        t_end = float(path.t[-1]) if path.landed else None
        pieces, t0, t1 = corridor_segments(path, policy.corridor_ceiling_m, policy.confidence)
        if len(pieces):
            corridor = shapely.union_all(pieces)
            piece_idx, reg_idx = index.tree.query(pieces, predicate="intersects")
            for p, i in zip(piece_idx.tolist(), reg_idx.tolist(), strict=True):
                why.setdefault(i, set()).add("overflight")
                t_first[i] = min(t_first.get(i, math.inf), float(t0[p]))
                t_last[i] = max(t_last.get(i, -math.inf), float(t1[p]))
    if policy.include_neighbours:
        for i in list(why):
            for j in index.neighbours(i, policy.neighbour_distance_m).tolist():
                why.setdefault(j, {"neighbour"})
    risks = tuple(
        RegionRisk(
            region=index.regions[i],
            why=tuple(sorted(why[i], key=SEVERITY.__getitem__)),
            t_impact=t_impact.get(i),
            t_over_first=t_first.get(i),
            t_over_last=t_last.get(i),
        )
        for i in sorted(why, key=lambda i: index.regions[i].id)
    )
    return Assessment(
        t=e.t, track=e.track, basis="launch" if boosting else "trajectory",
        impact=e.impact, impact_area=area, corridor=corridor, launch_sector=sector,
        t_path_end=t_end, place=place, risks=risks,
    )  # fmt: skip
