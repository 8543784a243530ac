"""Policies are configuration: TOML or dicts, with errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from warnlink.alert.policy import PolicyError, default_policy, load_policy, policy_from_dict

ROOT = Path(__file__).resolve().parents[2]
BASE = {"party": "JP", "countries": ["JP"], "sender": "a@b.example", "sender_name": "X"}


@pytest.mark.parametrize("path", sorted((ROOT / "docs" / "policies").glob("*.toml")))
def test_shipped_policies_load(path: Path) -> None:
    p = load_policy(path)
    assert p.countries and p.languages


def test_defaults_and_values() -> None:
    p = policy_from_dict(BASE)
    assert p.confidence == 0.99 and p.corridor_ceiling_m == 100e3 and not p.include_neighbours
    assert default_policy("US").countries == ("GU",)
    assert default_policy("KR").offset_minutes == 9 * 60


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"countries": ["XX"]}, "unknown country 'XX'"),
        ({"countries": []}, "countries: empty"),
        ({"languages": ["fr-FR"]}, "languages"),
        ({"confidence": 1.0}, "confidence"),
        ({"corridor_ceiling_m": float("nan")}, "corridor_ceiling_m"),
        ({"utc_offset": "9:00"}, "utc_offset"),
        ({"sender": "a b"}, "sender"),
        ({"ceiling": 5}, "ceiling"),  # unknown field: a typo never passes
        ({"countries": "JP"}, "countries"),  # wrong type
    ],
)
def test_bad_policies_name_the_problem(change: dict[str, object], field: str) -> None:
    with pytest.raises(PolicyError, match=field):
        policy_from_dict({**BASE, **change})


def test_toml_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text('party = "JP"\ncountries = ["ZZ"]\nsender = "a"\nsender_name = "b"\n')
    with pytest.raises(PolicyError, match=r"p\.toml: countries: unknown country 'ZZ'"):
        load_policy(bad)
    bad.write_text("party = [")
    with pytest.raises(PolicyError, match=r"p\.toml"):
        load_policy(bad)
    with pytest.raises(PolicyError, match="no default policy"):
        default_policy("XX")
