"""The schema is the single source: the docs are generated from it and it covers the model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from warnlink.scenario import model
from warnlink.scenario.kinds import Field
from warnlink.scenario.schema import (
    INFRARED,
    LAUNCH,
    LINK,
    OUTAGE,
    PARTY,
    RADAR,
    SCENARIO,
    SENSOR,
    TARGET,
    markdown,
)

DOC = Path(__file__).parents[1] / "docs" / "scenarios.md"


def test_docs_are_generated_from_the_schema() -> None:
    assert DOC.read_text(encoding="utf-8") == markdown(), (
        "docs/scenarios.md is stale: run `python -m warnlink.scenario.schema > docs/scenarios.md`"
    )


def names(fields: tuple[Field, ...]) -> set[str]:
    return {f.name for f in fields}


def attributes(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_schema_covers_every_model_field() -> None:
    common = names(SENSOR.fields) - {"type"}
    assert common | names(RADAR) | {"platform"} == attributes(model.RadarSpec)
    assert common | names(INFRARED) == attributes(model.InfraredSpec)
    assert names(PARTY.fields) == attributes(model.Party)
    assert names(OUTAGE.fields) == attributes(model.Outage)
    assert names(LINK.fields) == attributes(model.LinkSpec)
    resolved = {"target_lat_deg", "target_lon_deg"}
    assert names(LAUNCH.fields) - {"target"} | resolved == attributes(model.LaunchSpec)
    assert names(TARGET.fields) == {"lat", "lon", "range", "azimuth"}
    assert names(SCENARIO.fields) | {"path"} == attributes(model.Scenario)
