"""The after-action report: one self-contained HTML page (figures inline, no downloads)
and metrics.json with every figure of every mode present, side by side."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from warnlink.exercise import plots
from warnlink.exercise.plan import CAP_DIR
from warnlink.formats.truth_files import read_truth
from warnlink.scenario.model import Scenario
from warnlink.sim.run import FILES

HEADLINE_AT = ("120", "300", "600")


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return base64.b64encode(buf.getvalue()).decode()


def _s(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f} s"


def _km(v: float | None) -> str:
    return "—" if v is None else (f"{v / 1000:.1f} km" if v >= 1000 else f"{v:.0f} m")


def comparison(runs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per flight and party: what it knew alone and with sharing, and when."""
    rows: list[dict[str, Any]] = []
    share, alone = runs.get("sharing"), runs.get("alone")
    base = share or alone
    if base is None:
        return rows
    for fid, fl in base["flights"].items():
        for p in fl["parties"]:
            row: dict[str, Any] = {"flight": fid, "party": p}
            for name, run in (("alone", alone), ("sharing", share)):
                if run is None:
                    continue
                pr = run["flights"][fid]["parties"][p]
                row[f"{name}_first_impact_s"] = pr["first_fused_impact_s"]
                row[f"{name}_first_track_s"] = pr["first_fused_track_s"]
                for at in HEADLINE_AT:
                    row[f"{name}_error_at_{at}_m"] = (pr.get("error_at_m", {}).get(at) or {}).get(
                        "fused"
                    )
            a, s = row.get("alone_first_impact_s"), row.get("sharing_first_impact_s")
            row["earlier_by_s"] = None if a is None or s is None else round(a - s, 1)
            rows.append(row)
    return rows


def _table(rows: list[dict[str, Any]], modes: Sequence[str]) -> str:
    head = ["flight", "party"]
    for m in modes:
        head += [f"first impact estimate ({m})"] + [f"error at T+{a} s ({m})" for a in HEADLINE_AT]
    if len(modes) == 2:
        head.append("sharing warns earlier by")
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for r in rows:
        cells = [r["flight"], r["party"]]
        for m in modes:
            cells.append(_s(r.get(f"{m}_first_impact_s")))
            cells += [_km(r.get(f"{m}_error_at_{a}_m")) for a in HEADLINE_AT]
        if len(modes) == 2:
            cells.append(_s(r.get("earlier_by_s")))
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return "\n".join([*out, "</table>"])


def _alerts_table(run: dict[str, Any], mode: str, out: Path) -> str:
    """Per alerting party: what it sent, how early, which regions it missed or over-warned,
    and a link to its CAP feed."""
    head = [
        "party", "CAP messages (Alert / Update / Cancel)", "first alert",
        "regions at risk (first warned, lead time)", "missed",
        "over-warned: launch stage / impact or overflight (region-seconds)",
        "correction after the picture (median, max)", "feed",
    ]  # fmt: skip
    out_rows = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for party, a in run["alerting"].items():
        m = a["messages"]
        risk = "; ".join(
            f"{r['region']} {r['reason']} at T+{r['at_risk_s']:.0f} s "
            + ("never warned" if r["warned_s"] is None
               else f"warned T+{r['warned_s']:.0f} s, lead {r['lead_s']:.0f} s")
            for r in a["regions_at_risk"]
        ) or "none"  # fmt: skip
        over = [a["over_warned"].get(k, {}) for k in ("launch", "specific")]
        over_text = " / ".join(f"{len(o)} ({sum(o.values()):.0f})" for o in over)
        c = a["correction_ms"]
        corr = "—" if c["p50"] is None else f"{c['p50']:.0f} ms, {c['max']:.0f} ms"
        feed = Path(mode) / party / CAP_DIR / "alerts.atom"
        cells = [party, f"{m['Alert']} / {m['Update']} / {m['Cancel']}",
                 _s(a["first_alert_s"]), risk, ", ".join(a["missed"]) or "none", over_text,
                 corr]  # fmt: skip
        link = f"<a href='{feed}'>{feed}</a>" if (out / feed).exists() else "—"
        tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells) + f"<td>{link}</td>"
        out_rows.append(f"<tr>{tds}</tr>")
    return f"<h3>{html.escape(mode)}</h3>" + "\n".join([*out_rows, "</table>"])


def _consult_line(mode: str, consult: dict[str, Any]) -> str:
    """One line on the consultation: who convened when, acknowledgements, escalations,
    decisions in each party's log and whether every log verifies."""
    if not consult:
        return ""
    convened = sorted({(c["at_s"], c["by"]) for p in consult.values() for c in p["convened"]})
    parts = []
    for party, c in consult.items():
        acks = ", ".join(f"{a['by']} after {a['after_s']:.0f} s" for a in c["acks"]) or "none"
        esc = f", paged {', '.join(c['escalations'])}" if c["escalations"] else ""
        ok = "verifies" if c["verify_ok"] else "FAILS verification"
        parts.append(f"{party}: acknowledged by {acks}{esc}; {c['decisions_logged']} joint "
                     f"decision(s) in its log, which {ok}")  # fmt: skip
    when = "; ".join(f"by {by} at T+{at:.0f} s" for at, by in convened) or "never convened"
    text = f"{mode}: consultation {when}. " + ". ".join(parts)
    return f"<li>{html.escape(text)}</li>"


def write_report(
    scenario: Scenario, out: Path, run_dir: Path, runs: dict[str, dict[str, Any]]
) -> Path:
    parties = [p.code for p in scenario.parties]
    rows = comparison(runs)
    summary = {"scenario": scenario.name, "comparison": rows, "runs": runs}
    (out / "metrics.json").write_text(json.dumps(summary, indent=1) + "\n")
    truth = read_truth(run_dir / FILES["truth"], run_dir / FILES["events"])
    t_launch = min((launch.time_s for launch in scenario.launches), default=0.0)
    outages = {link.party: [(o.start_s, o.end_s) for o in link.outages] for link in scenario.links}
    figures = [
        ("When each party knew", plots.timeline_figure(runs, parties, outages, t_launch)),
        ("Impact error against time", plots.error_figure(runs, parties)),
    ]
    for mode in ("sharing", "alone"):
        if mode in runs:
            fig = plots.map_figure(scenario, truth, out / mode, parties)
            figures.append((f"Ground tracks and fused impact ellipses ({mode})", fig))
            break
    for mode in ("sharing", "alone"):
        if runs.get(mode, {}).get("alerting"):
            fig = plots.warnings_figure(truth, runs[mode]["alerting"])
            figures.append((f"Public warnings against the truth ({mode})", fig))
    modes = [m for m in ("alone", "sharing") if m in runs]
    checks = []
    for m in modes:
        r = runs[m]
        lost = sum(r["delivery"]["lost"].values())
        checks.append(
            f"<li>{m}: {len(r['releasability_violations'])} releasability violations, "
            f"{lost} messages lost, latency measurement → fused estimate at a partner "
            f"{html.escape(json.dumps(r['latency_ms']))} (wall ms); {r['wall_s']} s wall, "
            f"{r['effective_speed']}x of the {r['speed']}x asked for (clock held "
            f"{r['clock_held_s']} s for the parties' computing)</li>"
        )
        checks.append(_consult_line(m, r.get("consultation", {})))
    body = [
        f"<h1>After-action report: {html.escape(scenario.name)}</h1>",
        f"<p>{html.escape(scenario.description)}</p>",
        "<h2>What sharing buys</h2>",
        _table(rows, modes),
        "<ul>" + "".join(checks) + "</ul>",
        "<h2>Public warnings</h2>",
        *(_alerts_table(runs[m], m, out) for m in modes if runs[m].get("alerting")),
    ]
    for title, fig in figures:
        body.append(f"<h2>{html.escape(title)}</h2><img src='data:image/png;base64,{_png(fig)}'>")
    body.append("<p>Every figure is in metrics.json beside this page.</p>")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>WarnLink exercise</title>"
        "<style>body{font-family:sans-serif;max-width:1300px;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
        "font-size:13px}img{max-width:100%}</style></head><body>"
        + "\n".join(body)
        + "</body></html>"
    )
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
