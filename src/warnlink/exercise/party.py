"""One party's node in an exercise, as its own process: `python -m warnlink.exercise.party PLAN`.

It feeds its own sensors' measurements to its tracker in scenario time, shares its
confirmed tracks through its node as its release policy says, fuses them with what
partners release to it, and writes what it knew and when (plan.py) for the supervisor.

The clock is the supervisor's, on the standard streams: the process prints one JSON line
when it has loaded everything; the supervisor then grants scenario time (`grant T` lines
on standard input) and the party processes its measurements up to the granted time,
answering `at T` on standard output whenever it has caught up with a grant. So every party
of an exercise shares one clock, and the supervisor can hold it for a party whose
computing falls behind (docs/exercise.md). It stops by itself once t_end is granted and
processed, or at SIGTERM or the end of its input, flushing what it has.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import msgspec
import numpy as np

from warnlink.exchange.envelope import Kind
from warnlink.exchange.node import HubAddress, Node
from warnlink.exchange.node_store import Received
from warnlink.exercise.alerting import PartyAlerting, TakFeed, summary
from warnlink.exercise.consultation import PartyConsultation
from warnlink.exercise.plan import (
    ALERTS,
    CONSULT,
    DONE,
    EVENTS,
    FUSED,
    OWN,
    PLAN,
    RECEIVED,
    ConsultRecord,
    ConsultWhat,
    EventKind,
    FusedRecord,
    PartyPlan,
    PartySummary,
    ReceivedRecord,
    TimelineEvent,
)
from warnlink.formats.jsonl import read_json
from warnlink.formats.records import Estimate, SensorCatalogue
from warnlink.fusion.fuser import Fuser
from warnlink.fusion.report import SharedTrack, decode, encode, shared_tracks
from warnlink.track.estimates import EstimateMaker
from warnlink.track.inputs import InputReport, read_measurements, scans
from warnlink.track.models import to_ecef
from warnlink.track.tracker import Tracker, TrackerConfig, TrackUpdate

BATCH_S = 1.0  # scenario seconds of updates turned into estimates and reports at once
PICTURE_S = 1.0  # scenario seconds between fused pictures
_ENCODER = msgspec.json.Encoder()


def _fmt_point(est: Estimate) -> str:
    p = est.impact
    if p is None:
        return ""
    return (
        f"{p.lat_deg:.2f}N {p.lon_deg:.2f}E ±{p.ellipse.semi_major_m / 1000:.0f} km "
        f"at T{p.t:+.0f} s"
    )


class Party:
    def __init__(self, plan: PartyPlan) -> None:
        self.plan = plan
        self.data = Path(plan.data)
        catalogue = read_json(Path(plan.sensors), SensorCatalogue)
        self.inputs = InputReport()
        self.scans = list(scans(read_measurements(Path(plan.measurements), catalogue, self.inputs)))
        self.tracker = Tracker(catalogue, TrackerConfig())
        self.maker = EstimateMaker(plan.confidence, plan.predict_interval_s)
        self.fuser = Fuser(plan.party, plan.confidence)
        self.alerting = PartyAlerting(plan, self.data) if plan.alert_policy else None
        self.tak = TakFeed(plan) if plan.tak else None
        self.node: Node | None = None
        if plan.hub is not None and plan.pki is not None:
            self.node = Node(Path(plan.pki), plan.party, HubAddress.parse(plan.hub), self.data)
        self.files: dict[str, IO[bytes]] = {
            name: (self.data / name).open("ab", buffering=0)
            for name in (OWN, FUSED, RECEIVED, EVENTS, ALERTS, CONSULT)
        }
        self.consult: PartyConsultation | None = None
        if self.node is not None and plan.consult is not None:
            self.consult = PartyConsultation(plan, self.node, self.tell)
        self.firsts: set[str] = set()
        self.confirmed: set[str] = set()  # own tracks confirmed and not deleted
        self.counts = {"own": 0, "fused": 0, "received": 0, "published": 0, "alerts": 0}
        self.granted = plan.t_start  # scenario time the supervisor has let pass
        self._grant = asyncio.Event()
        self._answered = -1e18
        self.last_picture = -1e18
        self.last_scan_wall = 0.0
        self.cpu_s = 0.0

    # -- output ------------------------------------------------------------------------

    def _write(self, name: str, records: Sequence[Any]) -> None:
        if records:
            self.files[name].write(b"".join(_ENCODER.encode(r) + b"\n" for r in records))

    def event(self, kind: EventKind, text: str, key: str | None = None) -> None:
        """A timeline event; with `key`, only the first of its kind is written."""
        if key is not None:
            if key in self.firsts:
                return
            self.firsts.add(key)
        self._write(EVENTS, [TimelineEvent(time.time(), self.granted, self.plan.party, kind, text)])

    def tell(self, what: ConsultWhat, text: str, **fields: Any) -> None:
        """What the consultation did: a record for the metrics and a timeline line."""
        self._write(CONSULT, [ConsultRecord(time.time(), self.granted, what, **fields)])
        self.event("consult", text)

    # -- own sensors -------------------------------------------------------------------

    async def until(self, t: float) -> None:
        """Wait until the supervisor grants scenario time t, saying when it has caught up."""
        while self.granted < t:
            if self._answered != self.granted:
                self._answered = self.granted
                sys.stdout.write(f"at {self.granted!r}\n")
                sys.stdout.flush()
            self._grant.clear()
            await self._grant.wait()

    async def grants(self, reader: asyncio.StreamReader) -> None:
        """`grant T` lines from the supervisor; the end of them ends the party."""
        while line := await reader.readline():
            word, _, value = line.decode().strip().partition(" ")
            if word == "grant":
                self.granted = max(self.granted, float(value))
                self._grant.set()

    async def feed(self) -> None:
        """Own scans through the tracker in scenario time. Updates are batched for at most
        BATCH_S (the batch goes out when that time has come, not with the next scan, which
        may be seconds away); a track's first confirmation goes out at once, since a
        public warning may wait on it."""
        pending: list[TrackUpdate] = []
        for scan in self.scans:
            t = scan[0].t
            if t > self.plan.t_end:
                break
            if pending and t - pending[0].t >= BATCH_S:
                await self.until(pending[0].t + BATCH_S)
                self.flush(pending)
                pending = []
            await self.until(t)
            await asyncio.sleep(0)  # between scans, the link to the hub is served
            self.last_scan_wall = time.time()
            c0 = time.process_time()
            updates = self.tracker.process(scan)
            self.cpu_s += time.process_time() - c0
            pending.extend(updates)
            if self._newly_confirmed(updates):
                self.flush(pending)
                pending = []
            self.fuser.processed(pending[0].t if pending else t)
        pending.extend(self.tracker.finish())
        self.flush(pending)

    def _newly_confirmed(self, updates: Sequence[TrackUpdate]) -> bool:
        """Whether a track was confirmed for the first time (confirmed ids are kept until
        their deletion)."""
        new = False
        for u in updates:
            if u.status == "deleted":
                self.confirmed.discard(u.track_id)
            elif u.status == "confirmed" and u.track_id not in self.confirmed:
                self.confirmed.add(u.track_id)
                new = True
        return new

    def flush(self, updates: list[TrackUpdate]) -> None:
        if not updates:
            return
        c0 = time.process_time()
        estimates = self.maker.records(updates)
        self._write(OWN, estimates)
        self.counts["own"] += len(estimates)
        for est in estimates:
            if est.status == "confirmed":
                self.event("confirmed", f"own track {est.track} confirmed", "confirmed")
                if est.impact is not None:
                    self.event("own-impact", f"own impact {_fmt_point(est)}", "own-impact")
        reports = [
            msgspec.structs.replace(s, measured_wall=self.last_scan_wall)
            for s in shared_tracks(self.plan.party, updates, estimates)
        ]
        for report in reports:
            self.fuser.add(report)
        self.publish(reports)
        self.cpu_s += time.process_time() - c0
        self.picture()

    def publish(self, reports: Sequence[SharedTrack]) -> None:
        """Each report to whom the release policy allows: estimates only where released."""
        if self.node is None or not reports:
            return
        full = sorted(self.plan.release_estimates)
        bare = sorted(set(self.plan.release_tracks) - set(full))
        items: list[tuple[Kind, Sequence[str], bytes]] = []
        for r in reports:
            if full:
                items.append((Kind.ESTIMATE, full, encode(r)))
            if bare:
                stripped = msgspec.structs.replace(r, launch=None, impact=None, orbit=None)
                items.append((Kind.TRACK_REPORT, bare, encode(stripped)))
        if items:
            self.node.publish_many(items)
            self.counts["published"] += len(items)

    # -- partners ----------------------------------------------------------------------

    async def receive(self) -> None:
        assert self.node is not None
        async for row in self.node.messages():
            self.take(row)

    def take(self, row: Received) -> None:
        env = row.envelope
        wall = time.time()
        if env.kind == Kind.CONSULTATION:  # the node is shared with the party's channel
            if self.consult is not None:
                self.consult.take(row)
            return
        if env.kind == Kind.ALERT_NOTICE:  # a partner's public warning (CAP), for awareness
            self.event("alert", f"{env.origin} issues public warnings", f"notice-{env.origin}")
            return
        try:
            report = decode(env.payload)
        except ValueError as exc:
            self.event("report", f"unreadable report from {env.origin}: {exc}")
            return
        if report.party != env.origin:  # the signature vouches for the origin, not the body
            self.event("report", f"report from {env.origin} claims to be {report.party}")
            return
        self.counts["received"] += 1
        self._write(
            RECEIVED,
            [
                ReceivedRecord(
                    wall, self.granted, env.origin, Kind(env.kind).name,
                    list(env.recipients()), report.track, report.t,
                    to_ecef(np.array([report.state_eci]), report.t)[0][0].tolist(),
                    report.measured_wall,
                    report.impact is not None or report.launch is not None,
                )
            ],
        )  # fmt: skip
        if not report.deleted:
            self.event("report", f"first report from {env.origin}", f"report-{env.origin}")
        c0 = time.process_time()
        new = (report.party, report.track) not in self.fuser.reports
        self.fuser.add(report)
        self.cpu_s += time.process_time() - c0
        # a partner's track new to the picture may be a launch: no waiting for the cadence
        if self.granted - self.last_picture >= PICTURE_S or (new and not report.deleted):
            self.picture()

    async def links(self) -> None:
        """Timeline events when the connection to the hub comes and goes."""
        assert self.node is not None
        while True:
            await self.node.connected.wait()
            self.event("link", "connected to the hub")
            while self.node.connected.is_set():
                await asyncio.sleep(0.05)
            self.event("link", "lost the hub")

    # -- the fused picture -------------------------------------------------------------

    def picture(self) -> None:
        """The fused picture now, every track predicted to the granted time."""
        wall = time.time()
        t = self.last_picture = self.granted
        c0 = time.process_time()
        tracks = self.fuser.picture(t)
        self.cpu_s += time.process_time() - c0
        records = [
            FusedRecord(
                wall, t, f.system_id, sorted(f.parties),
                [(c[0], c[1]) for c in f.contributors], f.measured_wall, f.estimate,
            )
            for f in tracks
        ]  # fmt: skip
        self._write(FUSED, records)
        self.counts["fused"] += len(records)
        for f in tracks:
            who = "+".join(sorted(f.parties))
            self.event("fused-track", f"launch detected: system track {f.system_id} ({who})",
                       "fused-track")  # fmt: skip
            if f.estimate.impact is not None:
                self.event("fused-impact", f"fused impact {_fmt_point(f.estimate)} ({who})",
                           "fused-impact")  # fmt: skip
        if self.tak is not None:
            self.tak.picture([f.estimate for f in tracks], t)
        if self.alerting is not None:
            self.alert([f.estimate for f in tracks], t, wall)

    def alert(self, estimates: list[Estimate], t: float, wall: float) -> None:
        """The picture through the party's alerting authority; partners are told, too."""
        assert self.alerting is not None
        c0 = time.process_time()
        messages, records = self.alerting.picture(estimates, t, wall)
        if self.tak is not None:
            self.tak.warnings(messages)
        self.cpu_s += time.process_time() - c0
        self._write(ALERTS, records)
        self.counts["alerts"] += len(records)
        for r in records:
            self.event("alert", summary(r))
        if self.consult is not None:
            self.consult.alerts(records)
        if self.node is not None and messages and self.plan.release_tracks:
            label = sorted(self.plan.release_tracks)
            self.node.publish_many(
                [(Kind.ALERT_NOTICE, label, self.alerting.store.xml[m.id]) for m in messages]
            )
            self.counts["published"] += len(messages)

    # -- lifetime ----------------------------------------------------------------------

    async def run(self) -> None:
        helpers: list[asyncio.Task[None]] = []
        if self.alerting is not None:
            self.event("alert", f"public alert feed at {await self.alerting.start()}")
        if self.tak is not None:
            self.tak.streamer.start()
        if self.node is not None:
            helpers = [asyncio.create_task(c) for c in (self.node.run(), self.receive(),
                                                        self.links())]  # fmt: skip
        if self.consult is not None:
            helpers.append(asyncio.create_task(self.consult.run()))
        try:
            await self.feed()
            await self.until(self.plan.t_end)
            self.picture()
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            if self.alerting is not None:
                await self.alerting.stop()
            if self.tak is not None:
                await self.tak.close()

    def close(self) -> None:
        self.event("done", "stopped")
        summary = PartySummary(
            party=self.plan.party,
            measurements=self.inputs.accepted,
            rejected=sum(self.inputs.rejected.values()),
            own_estimates=self.counts["own"],
            fused_records=self.counts["fused"],
            received=self.counts["received"],
            published=self.counts["published"],
            alerts=self.counts["alerts"],
            processing_s=self.cpu_s,
        )
        for f in self.files.values():
            f.close()
        if self.consult is not None:
            self.consult.close()
        if self.node is not None:
            self.node.store.close()
        tmp = self.data / (DONE + ".tmp")
        tmp.write_bytes(msgspec.json.encode(summary))
        tmp.replace(self.data / DONE)


async def _serve(plan: PartyPlan) -> int:
    party = Party(plan)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    sys.stdout.write(json.dumps({"ready": plan.party}) + "\n")
    sys.stdout.flush()
    running = asyncio.create_task(party.run())
    stopping = asyncio.create_task(stop.wait())
    granting = asyncio.create_task(party.grants(reader))
    try:
        await asyncio.wait([running, stopping, granting], return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            running.result()  # a failure of the party is the process's failure
    finally:
        for task in (running, stopping, granting):
            task.cancel()
        await asyncio.gather(running, stopping, granting, return_exceptions=True)
        party.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write("usage: python -m warnlink.exercise.party DIR/plan.json\n")
        return 2
    path = Path(args[0])
    plan = read_json(path if path.suffix == ".json" else path / PLAN, PartyPlan)
    return asyncio.run(_serve(plan))


if __name__ == "__main__":
    raise SystemExit(main())
