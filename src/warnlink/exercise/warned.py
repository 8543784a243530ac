"""Public alerting scored against the truth: who should have been warned, was, and when.

Per alerting party: every region the truth put at risk (evaluate.at_risk: an object fell
into it or flew over it below the party's corridor ceiling) with the time it was first
under a warning, the lead time that left, and whether it was missed; every region warned
though never at risk (over-warned), split into the launch-stage shelter warning and the
specific impact/overflight warnings, with the scenario seconds it stayed warned; the time
from launch to the first alert; and the wall time from a fused picture to the correction
it caused.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from warnlink.alert.policy import policy_from_dict
from warnlink.evaluate.at_risk import regions_at_risk
from warnlink.exercise.plan import ALERTS, AlertRecord, PartyPlan
from warnlink.formats.jsonl import iter_jsonl
from warnlink.physics.truth import Truth

ACTIVE = ("launch", "impact_expected", "overflight_expected")  # stages that warn a region
SPECIFIC = ("impact_expected", "overflight_expected")
KINDS = ("Alert", "Update", "Cancel")


Span = tuple[float, float, str]  # since, until (scenario s), stage


def _active_spans(records: list[AlertRecord], t_end: float) -> dict[str, list[Span]]:
    """Per region, the scenario-time spans it was under a warning, with the stage.

    Each message of a thread states the regions the thread warns from then on (its parts
    with an active stage), so a region's span ends at the first later message of the same
    thread that no longer names it, or at t_end.
    """
    spans: dict[str, list[Span]] = defaultdict(list)
    open_: dict[tuple[str, str], tuple[float, str]] = {}  # (thread, region) -> since, stage
    for r in sorted(records, key=lambda r: (r.known_t, r.wall)):
        now = {x.region: x.stage for x in r.regions if x.stage in ACTIVE}
        for (thread, region), (since, stage) in list(open_.items()):
            if thread == r.track and now.get(region) != stage:
                spans[region].append((since, r.known_t, stage))
                del open_[(thread, region)]
        for region, stage in now.items():
            open_.setdefault((r.track, region), (r.known_t, stage))
    for (_, region), (since, stage) in open_.items():
        spans[region].append((since, t_end, stage))
    return spans


def _union_length(spans: list[tuple[float, float]]) -> float | None:
    """Seconds covered by the spans, each counted once: two threads of one threat may
    warn a region at the same time, and the public was warned once. None if no spans."""
    if not spans:
        return None
    total, end = 0.0, -np.inf
    for since, until in sorted(spans):
        if until > end:
            total += until - max(since, end)
            end = until
    return total


def _party(
    plan: PartyPlan, records: list[AlertRecord], truth: Truth, t_end: float
) -> dict[str, Any]:
    assert plan.alert_policy is not None
    policy = policy_from_dict(plan.alert_policy)
    launches = {e.flight_id: e.t for e in truth.events_of("launch")}
    t_launch = min(launches.values(), default=0.0)
    spans = _active_spans(records, t_end)
    at_risk = regions_at_risk(truth, policy.countries, policy.corridor_ceiling_m)
    risky = {a.region for a in at_risk}
    rows = []
    for a in at_risk:
        launch = launches.get(a.flight_id, t_launch)
        warned = [s for s in spans.get(a.region, []) if s[1] > launch]
        first = min((s[0] for s in warned), default=None)
        specific = min((s[0] for s in warned if s[2] in SPECIFIC), default=None)
        rows.append({
            "flight": a.flight_id, "region": a.region, "reason": a.reason,
            "at_risk_s": round(a.t_first - launch, 1),
            "warned_s": None if first is None else round(first - launch, 1),
            "specific_s": None if specific is None else round(specific - launch, 1),
            "lead_s": None if first is None else round(a.t_first - first, 1),
            "specific_lead_s": None if specific is None else round(a.t_first - specific, 1),
            "missed": first is None or first > a.t_first,
        })  # fmt: skip
    over: dict[str, dict[str, float]] = {}
    for region, ss in spans.items():
        if region in risky:
            continue
        for kind, stages in (("launch", ("launch",)), ("specific", SPECIFIC)):
            covered = _union_length([(a, b) for a, b, stage in ss if stage in stages])
            if covered is not None:
                over.setdefault(kind, {})[region] = round(covered, 1)
    alerts = [r for r in records if r.msg_type == "Alert"]
    # an estimate's change, not time passing: regions added, lifted or their reason changed
    corrections = [
        (r.wall - r.picture_wall) * 1000.0
        for r in records
        if r.msg_type == "Update" and any(x.stage in (*SPECIFIC, "lifted") for x in r.regions)
    ]
    return {
        "countries": list(policy.countries),
        "messages": {
            k: sum(r.msg_type == k for r in records) for k in ("Alert", "Update", "Cancel")
        },
        "first_alert_s": None
        if not alerts
        else round(min(r.known_t for r in alerts) - t_launch, 1),
        "regions_at_risk": rows,
        "missed": sorted({r["region"] for r in rows if r["missed"]}),
        "over_warned": {k: dict(sorted(v.items())) for k, v in over.items()},
        "correction_ms": {
            "n": len(corrections),
            "p50": round(float(np.median(corrections)), 1) if corrections else None,
            "max": round(max(corrections), 1) if corrections else None,
        },
    }


def score_alerts(
    mode_dir: Path, plans: dict[str, PartyPlan], truth: Truth, t_end: float
) -> dict[str, Any]:
    """Alerting figures of every party that issues public warnings."""
    out: dict[str, Any] = {}
    for code, plan in plans.items():
        if plan.alert_policy is None:
            continue
        path = mode_dir / code / ALERTS
        records = list(iter_jsonl(path, AlertRecord)) if path.exists() else []
        out[code] = _party(plan, records, truth, t_end)
    return out
