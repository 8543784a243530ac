"""Which regions the truth put at risk, and from when: the answer key for public alerting.

A region should have been warned if an object of a flight fell into it, or flew over it
below the alerting ceiling (the same ceiling an authority's policy sets for its overflight
corridor). Lead time is measured against the first such moment, so it is computed here
from the dense truth (sampled every `step_s`), independent of any estimate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import shapely

from warnlink.geo.frames import ecef_to_geodetic
from warnlink.geo.regions import load_regions
from warnlink.physics.truth import Truth

Reason = Literal["impact", "overflight"]


@dataclass(frozen=True)
class AtRisk:
    """A region a flight put at risk: the first time it was over it (or hit it), and how."""

    flight_id: str
    region: str  # ISO 3166-2
    reason: Reason  # impact wins when both apply
    t_first: float  # scenario s: first sample below the ceiling over it, or the impact time
    objects: tuple[str, ...]  # object ids that were over it or fell into it


def regions_at_risk(
    truth: Truth,
    countries: Iterable[str],
    ceiling_m: float,
    step_s: float = 1.0,
) -> list[AtRisk]:
    """Regions of `countries` (ISO alpha-2) each flight fell into or overflew below the ceiling."""
    if not ceiling_m > 0 or not step_s > 0:
        raise ValueError(f"ceiling_m and step_s must be positive, got {ceiling_m}, {step_s}")
    wanted = set(countries)
    regions = [r for r in load_regions() if r.country in wanted]
    found: dict[tuple[str, str], tuple[Reason, float, set[str]]] = {}
    for obj in truth.objects:
        t = np.arange(obj.t_start, obj.t_end, step_s)
        t = np.append(t, obj.t_end)
        r, _, _, alive = obj.state_at(t)
        lat, lon, alt = ecef_to_geodetic(r[alive])
        low = alt < ceiling_m  # only these samples can put a region at risk
        if not low.any():
            continue
        # the impact is the last sample, on the ground: below any ceiling
        falls = obj.ended_by == "impact" and bool(low[-1])
        t, lat, lon = t[alive][low], lat[low], lon[low]
        for region in regions:
            inside = shapely.contains_xy(region.geometry, lon, lat)
            if not inside.any():
                continue
            t_over = float(t[np.argmax(inside)])
            hit = falls and bool(inside[-1])
            reason: Reason = "impact" if hit else "overflight"
            key = (obj.flight_id, region.id)
            old = found.get(key)
            if old is None:
                found[key] = (reason, t_over, {obj.object_id})
                continue
            old_reason, old_t, objects = old
            objects.add(obj.object_id)
            found[key] = ("impact" if "impact" in (reason, old_reason) else "overflight",
                          min(old_t, t_over), objects)  # fmt: skip
    return [
        AtRisk(flight, region, reason, t_first, tuple(sorted(objects)))
        for (flight, region), (reason, t_first, objects) in sorted(found.items())
    ]
