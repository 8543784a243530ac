"""When a party's principals must be convened without anyone deciding to: as soon as a
fused estimate puts one of the party's regions at risk (impact or overflight).

Pure functions on ISO 3166-2 region ids (`KR-11`, `JP-13`, as `geo.regions` and
`evaluate.at_risk` name them), so the exercise calls them on every fused picture and a
test checks them without a channel.
"""

from __future__ import annotations

from collections.abc import Iterable


def country_of(region: str) -> str:
    """The ISO 3166-1 alpha-2 country of an ISO 3166-2 region id (`JP-13` -> `JP`)."""
    return region.split("-", 1)[0].upper()


def regions_concerning(countries: Iterable[str], regions_at_risk: Iterable[str]) -> list[str]:
    """The regions at risk that lie in one of `countries` (alpha-2 codes), sorted."""
    mine = {c.upper() for c in countries}
    return sorted({r for r in regions_at_risk if country_of(r) in mine})


def should_convene(countries: Iterable[str], regions_at_risk: Iterable[str]) -> bool:
    """Whether a party with territory in `countries` must convene its consultation: some
    region at risk is its own."""
    return bool(regions_concerning(countries, regions_at_risk))


def convene_reason(countries: Iterable[str], regions_at_risk: Iterable[str]) -> str:
    """The reason line a convening request carries: which of our regions are at risk."""
    return "regions at risk: " + ", ".join(regions_concerning(countries, regions_at_risk))
