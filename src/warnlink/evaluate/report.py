"""The terminal report and metrics.json of an evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from warnlink.evaluate.metrics import Evaluation
from warnlink.formats.jsonl import write_json
from warnlink.tables import table


def _m(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


VERDICT = {"consistent": "ok", "under-covering": "under", "over-covering": "over"}


def _cov(point: dict[str, Any] | None) -> str:
    if not point or not point["coverage"]["n"]:
        return "-"
    c = point["coverage"]
    return f"{c['share']:.2f} {VERDICT.get(c['verdict'], c['verdict'])}"


def _err(point: dict[str, Any] | None, key: str) -> str:
    return _m(point["error_m"][key]) if point and point.get("n") else "-"


def print_report(console: Console, ev: Evaluation) -> None:
    """Per-RV warning quality, then association and GOSPA, in a few tables."""
    s = ev.summary
    rows = [*s["rvs"].items(), ("all RVs", s["overall"])]
    conf = (s["overall"].get("impact") or {}).get("coverage", {}).get("confidence")
    imp = table(
        "Impact prediction per RV (times: s after launch; errors: m)",
        ("RV",),
        ("1st est", "1st impact", "err final", "median", "dt final s", "coverage"),
    )
    lau = table(
        "Launch estimate and state consistency per RV",
        ("RV",),
        ("err final", "median", "dt final s", "coverage", "NEES mean"),
    )
    for name, r in rows:
        i, la, nees = r.get("impact"), r.get("launch"), r["nees"]
        imp.add_row(
            name,
            _s(r.get("first_estimate_s_since_launch")),
            _s(i.get("first_s_since_launch") if i else None),
            _err(i, "final"),
            _err(i, "median"),
            _s(i["time_error_s"]["final"]) if i and i.get("n") else "-",
            _cov(i),
        )
        lau.add_row(
            name,
            _err(la, "final"),
            _err(la, "median"),
            _s(la["time_error_s"]["final"]) if la and la.get("n") else "-",
            _cov(la),
            f"{nees['mean']:.1f} {nees['verdict']}" if nees["n"] else "-",
        )
    console.print(imp)
    console.print(lau)
    if conf is not None:
        console.print(
            f"coverage: share of updates whose stated ellipse ({conf:.0%}) holds the truth"
        )
    obj = table(
        "Continuity per truth object", ("object", "kind"), ("tracks", "breaks", "life under track")
    )
    for oid, o in s["objects"].items():
        obj.add_row(
            oid,
            o["kind"],
            str(o["n_tracks"]),
            str(o["breaks"]),
            f"{o['lifetime_share_tracked']:.0%}",
        )
    console.print(obj)
    trk = table(
        "Purity per track",
        ("track", "dominant object"),
        ("purity", "measurements", "false alarms"),
    )
    for tid, tr in s["tracks"].items():
        trk.add_row(
            tid,
            tr["dominant_object"] or "-",
            f"{tr['purity']:.2f}",
            str(tr["n_measurements"]),
            str(tr["n_false_alarms"]),
        )
    console.print(trk)
    g = s["gospa"]
    p = s["parameters"]
    console.print(
        f"GOSPA (c = {p['gospa_c_m']:g} m, p = {p['gospa_p']:g}, alpha = 2): mean "
        f"{g['mean']:,.0f} m; localisation {g['mean_localisation_m']:,.0f} m, "
        f"missed {g['mean_missed']:.2f}, false {g['mean_false']:.2f} per step; "
        f"OSPA {g['mean_ospa']:,.0f} m"
    )


def write_metrics(ev: Evaluation, path: Path) -> Path:
    write_json(path, ev.summary)
    return path
