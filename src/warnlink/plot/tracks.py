"""Truth tracks in geodetic form and per-flight launch references, computed once per plot run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from warnlink.geo.frames import R_MEAN, ecef_to_geodetic
from warnlink.physics.truth import ObjectTrack, Truth
from warnlink.scenario.model import Scenario

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class GeoTrack:
    """An object's samples as lat, lon (unwrapped, so no jump at ±180°) and altitude."""

    obj: ObjectTrack
    lat_deg: F64
    lon_deg: F64
    alt_m: F64


@dataclass(frozen=True)
class Origin:
    """Where and when a flight left the ground: the zero of ground range and of time."""

    t_s: float
    lat_deg: float
    lon_deg: float


def geo_tracks(truth: Truth) -> list[GeoTrack]:
    out = []
    for o in truth.objects:
        lat, lon, alt = ecef_to_geodetic(o.r)
        out.append(GeoTrack(o, lat, np.unwrap(lon, period=360.0), alt))
    return out


def ground_range_km(lat0: float, lon0: float, lat_deg: ArrayLike, lon_deg: ArrayLike) -> F64:
    """Great-circle distance on the mean sphere (within 0.5% of the ellipsoid; fine for plots)."""
    p0, l0 = np.radians(lat0), np.radians(lon0)
    p, lam = np.radians(np.asarray(lat_deg, float)), np.radians(np.asarray(lon_deg, float))
    h = np.sin((p - p0) / 2) ** 2 + np.cos(p0) * np.cos(p) * np.sin((lam - l0) / 2) ** 2
    return np.asarray(2.0 * R_MEAN / 1e3 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))), float)


def flight_origins(scenario: Scenario, tracks: list[GeoTrack]) -> dict[str, Origin]:
    """Launch time and site per flight: from the scenario, else the flight's earliest sample."""
    origins = {f.id: Origin(f.time_s, f.site_lat_deg, f.site_lon_deg) for f in scenario.flights()}
    for g in sorted(tracks, key=lambda g: g.obj.t_start):
        origins.setdefault(
            g.obj.flight_id, Origin(g.obj.t_start, float(g.lat_deg[0]), float(g.lon_deg[0]))
        )
    return origins
