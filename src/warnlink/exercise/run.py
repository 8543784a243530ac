"""`warnlink exercise`: simulate a scenario, run it through real processes, score and report.

An exercise directory holds the simulation (`run/`), one directory per mode (`sharing/`,
`alone/`: the same scenario with each party on its own), and the report that sets the
modes present side by side (`report.html`, `metrics.json`).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console

from warnlink.alert.policy import DEFAULT_POLICIES, default_policy, load_policy
from warnlink.exercise.metrics import score
from warnlink.exercise.supervise import Setup, supervise
from warnlink.exercise.timeline import Timeline
from warnlink.formats.jsonl import read_json
from warnlink.formats.records import Manifest
from warnlink.formats.truth_files import read_truth
from warnlink.scenario.load import load_scenario
from warnlink.scenario.model import Scenario
from warnlink.sim.run import FILES, simulate, write_run

MODES = {True: "sharing", False: "alone"}
LEAD_IN_S = 5.0  # scenario seconds before the first launch at which the parties start
TAIL_S = 5.0  # after the last object ends


def prepare(scenario: Scenario, out: Path, console: Console) -> tuple[Path, float]:
    """Simulate into out/run (measurements, truth); returns it and its end time."""
    run_dir = out / "run"
    with console.status("simulating the scenario"):
        write_run(simulate(scenario), run_dir)
    manifest = read_json(run_dir / FILES["manifest"], Manifest)
    return run_dir, manifest.t_end


def alert_policies(scenario: Scenario, files: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Each party's checked alerting policy: its file if given, else the shipped one."""
    codes = {p.code for p in scenario.parties}
    unknown = sorted(set(files) - codes)
    if unknown:
        raise ValueError(f"--alert-policy for {', '.join(unknown)}: not a party of the scenario")
    out: dict[str, dict[str, Any]] = {}
    for code in sorted(codes):
        if code in files:
            policy = load_policy(files[code])
            if policy.party != code:
                raise ValueError(f"{files[code]}: the policy of {policy.party}, given for {code}")
        elif code in DEFAULT_POLICIES:
            policy = default_policy(code)
        else:
            continue
        out[code] = msgspec.to_builtins(policy)
    return out


def run_mode(
    scenario: Scenario, out: Path, run_dir: Path, t_end: float, speed: float, sharing: bool,
    console: Console, policies: dict[str, dict[str, Any]] | None = None, tak: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    mode_dir = out / MODES[sharing]
    shutil.rmtree(mode_dir, ignore_errors=True)
    mode_dir.mkdir(parents=True)
    t_launch = min((launch.time_s for launch in scenario.launches), default=0.0)
    setup = Setup(
        scenario, run_dir, mode_dir, speed, sharing,
        t_start=max(0.0, t_launch - LEAD_IN_S), t_end=t_end + TAIL_S,
        alert_policies=policies or {}, tak=tak,
    )  # fmt: skip
    title = f"{scenario.name}: {MODES[sharing]}, {speed:g}x"
    with Timeline(console, title, t_launch, setup.t_end) as timeline:
        outcome = asyncio.run(supervise(setup, timeline.event, timeline.tick))
    with console.status("scoring against the truth"):
        truth = read_truth(run_dir / FILES["truth"], run_dir / FILES["events"])
        codes = [p.code for p in scenario.parties]
        metrics = score(mode_dir, run_dir, truth, codes, setup.t_end)
    metrics.update(
        scenario=scenario.name, mode=MODES[sharing], speed=speed,
        effective_speed=round(outcome.effective_speed, 2), clock_held_s=round(outcome.held_s, 1),
        wall_s=round(outcome.wall_s, 2), link_cuts=outcome.link_cuts,
    )  # fmt: skip
    (mode_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    return metrics


def run_exercise(
    scenario_path: Path, out: Path, speed: float, modes: list[bool], console: Console,
    policy_files: dict[str, Path] | None = None, tak: str | None = None,
) -> Path:  # fmt: skip
    """Run the modes asked for and write the report over every mode present in `out`."""
    from warnlink.exercise.report import write_report

    scenario = load_scenario(scenario_path)
    policies = alert_policies(scenario, policy_files or {})
    out.mkdir(parents=True, exist_ok=True)
    run_dir, t_end = prepare(scenario, out, console)
    for sharing in modes:
        run_mode(scenario, out, run_dir, t_end, speed, sharing, console, policies, tak)
    present = {
        name: json.loads((out / name / "metrics.json").read_text())
        for name in MODES.values()
        if (out / name / "metrics.json").exists()
    }
    with console.status("writing the report"):
        return write_report(scenario, out, run_dir, present)
