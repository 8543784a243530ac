"""Run one exercise as real processes: a hub, a link per party, one node process per party.

Each party's link to the hub is a `LinkProxy` carrying the scenario's latency, jitter and
outages. Link delays are divided by the speed-up, as scenario time is, so that a 35 ms
link stays 35 ms of scenario time at any `--speed`. The scenario clock is the supervisor's
(`_Clock`): it waits for a party whose computing falls behind, and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from warnlink.consult.setup import PASSPHRASE_ENV
from warnlink.exchange import pki
from warnlink.exercise.consultation import init_consultation
from warnlink.exercise.plan import EVENTS, PLAN, ConsultPlan, PartyPlan, TimelineEvent
from warnlink.formats.jsonl import read_json, write_json
from warnlink.formats.records import SensorCatalogue
from warnlink.net.linkproxy import Faults, LinkProxy
from warnlink.scenario.model import LinkSpec, Party, Scenario

READY_TIMEOUT_S = 120.0  # loading numpy, scipy and a tracker on a loaded 2-core machine
TICK_S = 0.05  # wall seconds between advances of the clock
LEAD_S = 2.0  # scenario seconds the clock may run ahead of the slowest party
STALL_S = 120.0  # wall seconds the clock may wait for one party
HELD_TOLD_S = 5.0  # more wall seconds held than this are told on the timeline


class ExerciseError(RuntimeError):
    """The exercise could not run: a process failed to start or stopped with an error."""


@dataclass
class Setup:
    scenario: Scenario
    run_dir: Path  # the `warnlink simulate` run directory
    out: Path  # this exercise's directory (one per mode)
    speed: float
    sharing: bool
    t_start: float
    t_end: float
    # party -> its checked alerting policy (warnlink.alert.policy fields); absent: no alerts
    alert_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    tak: str | None = None  # every party streams its fused picture and warnings there as CoT
    # the party whose leader never answers a page (its alternate is paged); None: the
    # first party of the scenario, "": every leader answers
    silent_leader: str | None = None


@dataclass
class Outcome:
    exit_codes: dict[str, int]
    wall_s: float
    effective_speed: float  # scenario seconds per wall second, holds included
    held_s: float  # wall seconds the clock waited for a party's computing
    link_cuts: dict[str, int] = field(default_factory=dict)


class _Clock:
    """The exercise's scenario clock: it runs at the speed asked for, but never more than
    LEAD_S ahead of the slowest party's processing, which each party reports (`at T`)
    when it has caught up with the time granted (`grant T`).

    So a loaded or slow machine stretches the exercise in wall time instead of making
    parties decide on data they have not yet processed; how long the clock was held is
    reported. A party silent for STALL_S while the clock waits for it fails the run.
    """

    def __init__(self, setup: Setup, procs: dict[str, asyncio.subprocess.Process]) -> None:
        self.setup = setup
        self.procs = procs
        self.t = setup.t_start
        self.caught_up = {code: setup.t_start for code in procs}
        self.readers = [asyncio.create_task(self._read(c, p)) for c, p in procs.items()]
        self.last = time.monotonic()
        self.started = self.last
        self.progress = self.last
        self.held_s = 0.0
        self.running_s = 0.0

    async def _read(self, code: str, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            word, _, value = line.decode().strip().partition(" ")
            if word == "at":
                self.caught_up[code] = float(value)

    async def advance(self) -> float:
        now = time.monotonic()
        want = min(self.t + (now - self.last) * self.setup.speed, self.setup.t_end)
        running = [c for c, p in self.procs.items() if p.returncode is None]
        allowed = min((self.caught_up[c] for c in running), default=self.setup.t_end) + LEAD_S
        t = max(self.t, min(want, allowed))
        if t < want:
            self.held_s += (want - t) / self.setup.speed
            if now - self.progress > STALL_S:
                slow = min(running, key=lambda c: self.caught_up[c])
                raise ExerciseError(f"party {slow} made no progress for {STALL_S:g} s")
        else:
            self.progress = now
        if t > self.t:
            self.progress = now
        self.last = now
        self.running_s = now - self.started
        if t > self.t or now == self.started:
            for proc in self.procs.values():
                if proc.returncode is None and proc.stdin is not None:
                    with contextlib.suppress(ConnectionError):
                        proc.stdin.write(f"grant {t!r}\n".encode())
        self.t = t
        return t


def release(party: Party, codes: list[str]) -> tuple[list[str], list[str]]:
    """Who receives the party's tracks and who its estimates (scenario defaults applied)."""
    others = [c for c in codes if c != party.code]
    tracks = list(party.release_tracks) if party.release_tracks is not None else others
    estimates = list(party.release_estimates) if party.release_estimates is not None else tracks
    return tracks, estimates


def split_measurements(run_dir: Path, out: Path, parties: list[str]) -> dict[str, Path]:
    """Each party's own sensors and their measurements: nothing else reaches its node."""
    catalogue = read_json(run_dir / "sensors.json", SensorCatalogue)
    owner = {s.id: s.party for s in catalogue.sensors}
    dirs = {p: out / p for p in parties}
    for p, d in dirs.items():
        d.mkdir(parents=True, exist_ok=True)
        own = [s for s in catalogue.sensors if s.party == p]
        write_json(d / "sensors.json", SensorCatalogue(catalogue.epoch, own))
    files = {p: (dirs[p] / "measurements.jsonl").open("wb") for p in parties}
    sensor_of = msgspec.json.Decoder(_SensorOnly)
    try:
        with (run_dir / "measurements.jsonl").open("rb") as f:
            for line in f:
                party = owner.get(sensor_of.decode(line).sensor)
                if party in files:
                    files[party].write(line)
    finally:
        for fh in files.values():
            fh.close()
    return dirs


class _SensorOnly(msgspec.Struct):
    sensor: str


def make_pki(root: Path, parties: list[str]) -> None:
    """A throwaway federation for this exercise: CA, hub and one identity per party."""
    pki.init_ca(root, name="WarnLink exercise federation", days=2)
    pki.issue_hub(root, days=2)
    for p in parties:
        pki.issue_party(root, p, days=2)


class _Tail:
    """Complete new lines of a file another process appends to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def lines(self) -> list[bytes]:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        *done, self.partial = (self.partial + data).split(b"\n")
        return [line for line in done if line.strip()]


async def _start_hub(setup: Setup, log: Path) -> tuple[asyncio.subprocess.Process, int]:
    ready = setup.out / "hub" / "ready.json"
    ready.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "warnlink.cli", "hub", "--pki", str(setup.out / "pki"),
            "--data", str(setup.out / "hub"), "--port", "0", "--ready-file", str(ready),
            stdout=err, stderr=err, stdin=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready.exists():
        if proc.returncode is not None or time.monotonic() > deadline:
            raise ExerciseError(f"the hub did not start; see {log}")
        await asyncio.sleep(0.05)
    return proc, int(json.loads(ready.read_text())["port"])


async def _start_party(
    plan: PartyPlan, log: Path, env: dict[str, str]
) -> asyncio.subprocess.Process:
    path = Path(plan.data) / PLAN
    write_json(path, plan)
    with log.open("ab") as err:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "warnlink.exercise.party", str(path),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err, env=env,
        )  # fmt: skip


async def _ready(proc: asyncio.subprocess.Process, party: str, log: Path) -> None:
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), READY_TIMEOUT_S)
    except TimeoutError:
        line = b""
    if not line.startswith(b"{"):
        raise ExerciseError(f"party {party} did not start; see {log}")


def _apply_outages(proxies: dict[str, LinkProxy], links: dict[str, LinkSpec], t: float) -> None:
    for code, proxy in proxies.items():
        link = links.get(code)
        down = link is not None and any(o.start_s <= t < o.end_s for o in link.outages)
        if down != proxy.faults.down:
            proxy.set_down(down)


async def supervise(
    setup: Setup,
    on_event: Callable[[TimelineEvent], None],
    on_tick: Callable[[float], None],
) -> Outcome:
    """Run the exercise to t_end; timeline events and scenario time go to the callbacks."""
    sc = setup.scenario
    codes = [p.code for p in sc.parties]
    dirs = split_measurements(setup.run_dir, setup.out, codes)
    links = {link.party: link for link in sc.links}
    log = setup.out / "processes.log"
    hub: asyncio.subprocess.Process | None = None
    proxies: dict[str, LinkProxy] = {}
    procs: dict[str, asyncio.subprocess.Process] = {}
    clock: _Clock | None = None
    started = time.monotonic()
    consults: dict[str, ConsultPlan] = {}
    # the devices' state passphrase, for this run only, given to the parties (not in plans)
    env = {**os.environ, PASSPHRASE_ENV: secrets.token_urlsafe(16)}
    try:
        if setup.sharing:
            make_pki(setup.out / "pki", codes)
            silent = codes[0] if setup.silent_leader is None else setup.silent_leader or None
            consults = init_consultation(setup.out / "pki", dirs, env[PASSPHRASE_ENV],
                                         setup.speed, codes[0], silent)  # fmt: skip
            hub, hub_port = await _start_hub(setup, log)
            for i, code in enumerate(codes):
                link = links.get(code)
                faults = Faults(
                    latency_s=(link.latency_s if link else 0.0) / setup.speed,
                    jitter_s=(link.jitter_s if link else 0.0) / setup.speed,
                )
                proxies[code] = LinkProxy(("127.0.0.1", hub_port), faults=faults, seed=sc.seed + i)
                await proxies[code].start()
        for party in sc.parties:
            tracks, estimates = release(party, codes) if setup.sharing else ([], [])
            plan = PartyPlan(
                party=party.code,
                partners=[c for c in codes if c != party.code],
                data=str(dirs[party.code]),
                sensors=str(dirs[party.code] / "sensors.json"),
                measurements=str(dirs[party.code] / "measurements.jsonl"),
                pki=str(setup.out / "pki") if setup.sharing else None,
                hub=f"127.0.0.1:{proxies[party.code].port}" if setup.sharing else None,
                release_tracks=tracks,
                release_estimates=estimates,
                t_start=setup.t_start,
                t_end=setup.t_end,
                speed=setup.speed,
                epoch=setup.scenario.epoch.isoformat(),
                alert_policy=setup.alert_policies.get(party.code),
                tak=setup.tak,
                consult=consults.get(party.code),
            )
            procs[party.code] = await _start_party(plan, log, env)
        for code, proc in procs.items():
            await _ready(proc, code, log)
        clock = _Clock(setup, procs)
        tails = [_Tail(dirs[c] / EVENTS) for c in codes]
        decoder = msgspec.json.Decoder(TimelineEvent)
        told = 0.0
        while any(p.returncode is None for p in procs.values()):
            t = await clock.advance()
            if clock.held_s - told >= HELD_TOLD_S:
                told = clock.held_s
                slow = min(clock.caught_up, key=lambda c: clock.caught_up[c])
                on_event(
                    TimelineEvent(
                        time.time(),
                        t,
                        slow,
                        "held",
                        f"clock held {told:.0f} s so far for its computing",
                    )
                )
            _apply_outages(proxies, links, t)
            for tail in tails:
                for line in tail.lines():
                    on_event(decoder.decode(line))
            on_tick(t)
            await asyncio.sleep(TICK_S)
        for tail in tails:
            for line in tail.lines():
                on_event(decoder.decode(line))
        codes_out = {c: p.returncode if p.returncode is not None else -1 for c, p in procs.items()}
        failed = {c: rc for c, rc in codes_out.items() if rc != 0}
        if failed:
            raise ExerciseError(f"parties failed {failed}; see {log}")
        wall = time.monotonic() - started
        return Outcome(
            codes_out, wall, (setup.t_end - setup.t_start) / max(clock.running_s, 1e-9),
            clock.held_s, {c: p.stats.cuts for c, p in proxies.items()},
        )  # fmt: skip
    finally:
        if clock is not None:
            for reader in clock.readers:
                reader.cancel()
        await _stop([*procs.values(), *([hub] if hub else [])])
        for proxy in proxies.values():
            await proxy.close()


async def _stop(procs: list[asyncio.subprocess.Process]) -> None:
    """SIGTERM, then SIGKILL what is still there after a grace period."""
    for p in procs:
        if p.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            await asyncio.wait_for(p.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
            await p.wait()
