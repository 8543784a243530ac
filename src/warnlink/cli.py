"""The `warnlink` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from warnlink import __version__
from warnlink.exchange.pki import PkiError
from warnlink.formats.jsonl import FormatError
from warnlink.physics.targeting import TargetingError
from warnlink.scenario.load import ScenarioError, load_scenario
from warnlink.tables import table

console = Console(stderr=True)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from warnlink.sim.report import print_summary
    from warnlink.sim.run import simulate, write_run

    scenario = load_scenario(Path(args.scenario))
    with console.status("simulating") as status:
        sim = simulate(scenario, step=lambda msg: status.update(msg))
        paths = write_run(sim, Path(args.out), step=lambda msg: status.update(msg))
        pngs: list[Path] = []
        if args.plot:
            from warnlink.plot.scenario_plots import plot_truth

            status.update("drawing plots")
            pngs = plot_truth(scenario, sim.truth, Path(args.out))
    print_summary(console, sim, paths, pngs)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from warnlink.formats.truth_files import read_truth
    from warnlink.plot.scenario_plots import plot_truth
    from warnlink.sim.run import FILES

    run = Path(args.run_dir)
    scenario = load_scenario(run / FILES["scenario"])
    truth = read_truth(run / FILES["truth"], run / FILES["events"])
    out = Path(args.out) if args.out else run
    for p in plot_truth(scenario, truth, out):
        console.print(f"wrote {p}")
    return 0


def _cmd_track(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from warnlink.track.run import run_tracker

    measurements = Path(args.measurements)
    with Progress(
        TextColumn("tracking"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(), console=console, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("track", total=measurements.stat().st_size)
        run = run_tracker(
            Path(args.sensors), measurements, Path(args.out),
            progress=lambda n: bar.advance(task, n),
        )  # fmt: skip
    inputs = run.inputs
    rate = inputs.accepted / run.seconds if run.seconds > 0 else float("nan")
    console.print(
        f"{inputs.lines} measurement lines: {inputs.accepted} accepted, "
        f"{sum(inputs.rejected.values())} rejected; {len(run.tracks)} tracks "
        f"({len(run.confirmed)} confirmed); {run.estimates} estimates in {run.seconds:.1f} s "
        f"({rate:,.0f} measurements/s)"
    )
    if inputs.rejected:
        rejected = table("Rejected measurements", ("reason",), ("count",))
        for reason, count in inputs.rejected.most_common():
            rejected.add_row(reason, str(count))
        console.print(rejected)
        for ex in inputs.examples[:5]:
            console.print(f"  line {ex.line}: {ex.reason}: {ex.detail}", highlight=False)
    console.print(f"estimates: [bold]{args.out}[/]")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from warnlink.evaluate import evaluate, load_estimates, load_run
    from warnlink.evaluate.plots import write_plots
    from warnlink.evaluate.report import print_report, write_metrics

    with console.status("reading the run and the estimates") as status:
        run = load_run(Path(args.run))
        status.update("evaluating")
        ev = evaluate(run, load_estimates(Path(args.estimates), run))
        out = Path(args.out) if args.out else Path(args.estimates).parent
        out.mkdir(parents=True, exist_ok=True)
        status.update("drawing plots")
        paths = [write_metrics(ev, out / "metrics.json"), *write_plots(ev, out)]
    print_report(console, ev)
    for p in paths:
        console.print(f"wrote {p}")
    return 0


def _cmd_exercise(args: argparse.Namespace) -> int:
    from warnlink.cot.stream import parse_server
    from warnlink.exercise.run import run_exercise
    from warnlink.exercise.supervise import ExerciseError

    if not args.speed > 0:
        raise ValueError(f"--speed must be more than 0, got {args.speed}")
    modes = [True, False] if args.compare else [not args.no_sharing]
    out = Path(args.out) if args.out else Path("out") / Path(args.scenario).stem
    policies: dict[str, Path] = {}
    for item in args.alert_policy:
        code, sep, path = item.partition("=")
        if not sep or not code or not path:
            raise ValueError(f"--alert-policy wants PARTY=FILE, got {item!r}")
        policies[code] = Path(path)
    try:
        if args.tak is not None:
            parse_server(args.tak)  # a bad address fails here, not in every party
        report = run_exercise(
            Path(args.scenario), out, args.speed, modes, console, policies, args.tak
        )
    except ExerciseError as exc:
        console.print(f"[bold red]exercise failed:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    console.print(f"report: {report}", highlight=False, soft_wrap=True)
    return 0


def _cmd_consult_verify(args: argparse.Namespace) -> int:
    from warnlink.consult.verify import verify_log

    held = Path(args.checkpoint).read_text(encoding="utf-8") if args.checkpoint else None
    pki = Path(args.pki) if args.pki else None
    report = verify_log(Path(args.log), held, pki)
    for line in report.checked:
        print(f"ok    {line}")
    for line in report.problems:
        print(f"FAIL  {line}")
    print("log verified" if report.ok else f"log FAILED: {len(report.problems)} problem(s)")
    return 0 if report.ok else 1


def _cmd_alert(args: argparse.Namespace) -> int:
    from warnlink.alert.policy import load_policy
    from warnlink.alert.run import find_epoch, parse_epoch, run_alert_file
    from warnlink.alert.texts import local_time

    estimates = Path(args.estimates)
    policy = load_policy(Path(args.policy))
    epoch = parse_epoch(args.epoch) if args.epoch else find_epoch(estimates)
    with console.status("running the estimates through the alert lifecycle"):
        run = run_alert_file(estimates, policy, epoch, Path(args.out), args.exercise)
    summary = table(
        f"CAP messages of {policy.party} ({'Exercise' if args.exercise else 'Actual'})",
        ("sent (local)", "type", "track", "stage", "regions"), ("refs",),
    )  # fmt: skip
    for m in run.messages:
        regions = "; ".join(
            f"{p.stage}: "
            + (", ".join(r.region.id for r in p.risks) if len(p.risks) <= 4 else f"{len(p.risks)}")
            for p in m.parts
        )
        summary.add_row(
            f"{local_time(epoch, m.t, policy):%H:%M:%S}", m.msg_type, m.track, m.stage,
            regions, str(len(m.references)),
        )  # fmt: skip
    console.print(summary)
    console.print(f"{len(run.messages)} messages, all valid CAP 1.2; feed: {run.paths[0]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="warnlink", description=__doc__)
    parser.add_argument("--version", action="version", version=f"warnlink {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", help="fly a scenario and simulate its sensors")
    p.add_argument("scenario", help="scenario TOML file (see docs/scenarios.md)")
    p.add_argument("--out", required=True, help="run directory to write (docs/formats.md)")
    p.add_argument("--plot", action="store_true", help="also draw map.png and profile.png")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("track", help="track measurements into launch and impact estimates")
    p.add_argument("--sensors", required=True, help="sensor catalogue (sensors.json)")
    p.add_argument("--measurements", required=True, help="measurements.jsonl (docs/formats.md)")
    p.add_argument("--out", required=True, help="estimates.jsonl to write")
    p.set_defaults(func=_cmd_track)

    p = sub.add_parser("plot", help="draw the plots of a simulation run directory")
    p.add_argument("run_dir", help="a directory written by `warnlink simulate`")
    p.add_argument("--out", help="where to write the PNGs (default: the run directory)")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("evaluate", help="score tracker estimates against a run's truth")
    p.add_argument("--run", required=True, help="a directory written by `warnlink simulate`")
    p.add_argument("--estimates", required=True, help="estimates.jsonl (docs/formats.md)")
    p.add_argument("--out", help="where to write metrics.json and PNGs (default: beside it)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser(
        "exercise",
        help="run a scenario through a hub and one node process per party, and report",
    )
    p.add_argument("scenario", help="scenario TOML file (see docs/scenarios.md)")
    p.add_argument("--out", help="exercise directory (default: out/SCENARIO-NAME)")
    p.add_argument("--speed", type=float, default=1.0, help="scenario seconds per second")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--no-sharing", action="store_true", help="each party on its own")
    mode.add_argument("--compare", action="store_true", help="with sharing, then without")
    p.add_argument(
        "--alert-policy", action="append", default=[], metavar="PARTY=FILE",
        help="a party's public-alerting policy (TOML, docs/alerting.md); parties without one "
        "use the shipped policy for their code (JP, KR, US), if any",
    )  # fmt: skip
    p.add_argument(
        "--tak", metavar="HOST:PORT",
        help="a TAK server (CoT over plain TCP): every party streams its fused tracks, impact "
        "ellipses and public warnings to it (docs/cot.md)",
    )  # fmt: skip
    p.set_defaults(func=_cmd_exercise)

    p = sub.add_parser("alert", help="turn estimates into public warnings (CAP 1.2, Atom feed)")
    p.add_argument("--estimates", required=True, help="estimates.jsonl (docs/formats.md)")
    p.add_argument(
        "--policy", required=True, help="the authority's policy, TOML (docs/alerting.md)"
    )
    p.add_argument("--out", required=True, help="directory for alerts.atom and alerts/*.xml")
    p.add_argument("--exercise", action="store_true", help="CAP status Exercise (else Actual)")
    p.add_argument(
        "--epoch", help="UTC instant of t = 0 (default: manifest.json beside --estimates)"
    )
    p.set_defaults(func=_cmd_alert)

    p = sub.add_parser("consult", help="crisis consultation tools")
    csub = p.add_subparsers(dest="consult_command", required=True)
    v = csub.add_parser(
        "verify", help="recompute and check a decision log's hashes, proofs and signatures"
    )
    v.add_argument("--log", required=True, help="the decision log (SQLite)")
    v.add_argument("--checkpoint", help="a checkpoint note kept elsewhere, to check against")
    v.add_argument("--pki", help="PKI directory: also check the parties' signing certificates")
    v.set_defaults(func=_cmd_consult_verify)
    from warnlink.consult import commands as consult_commands

    consult_commands.add_parsers(csub)

    from warnlink.cot import commands as cot_commands
    from warnlink.exchange import commands, pki_cli

    pki_cli.add_parser(sub)
    commands.add_parsers(sub)
    cot_commands.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (ScenarioError, FormatError, TargetingError, ValueError, PkiError) as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except FileNotFoundError as exc:
        console.print(
            f"[bold red]error:[/] no such file: {exc.filename}", highlight=False, soft_wrap=True
        )
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
