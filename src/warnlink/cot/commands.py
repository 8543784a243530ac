"""The `warnlink cot` command: replay an estimates file to a TAK server as CoT."""

from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import datetime
from pathlib import Path

from rich.console import Console

from warnlink.alert.lifecycle import Authority
from warnlink.alert.policy import AlertPolicy, load_policy
from warnlink.cot.alerts import message_events
from warnlink.cot.events import CotEvent, CotOptions, utc
from warnlink.cot.stream import CotStreamer, TakServer, parse_server, replay_estimates, tls_context
from warnlink.formats.records import Estimate

console = Console(stderr=True)


def _cmd_cot(args: argparse.Namespace) -> int:
    host, port = parse_server(args.server)
    if args.speed < 0:
        raise ValueError(f"--speed must be 0 (as fast as possible) or more, got {args.speed}")
    tls = None
    if args.tls or args.tls_ca or args.tls_cert:
        tls = tls_context(
            Path(args.tls_ca) if args.tls_ca else None,
            Path(args.tls_cert) if args.tls_cert else None,
            Path(args.tls_key) if args.tls_key else None,
            args.tls_password,
            verify=not args.tls_insecure,
        )
    epoch = utc(datetime.fromisoformat(args.epoch)) if args.epoch else None
    options = CotOptions(party=args.party, fused=not args.own, stale_s=args.stale)
    policy = load_policy(Path(args.policy)) if args.policy else None
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sent = asyncio.run(
        _replay(
            Path(args.estimates), TakServer(host, port, tls), options, epoch, args.speed,
            args.flush, policy,
        )
    )  # fmt: skip
    console.print(f"sent {sent[0]} CoT events to {host}:{port} ({sent[1]} dropped)")
    return 0 if sent[2] else 1


async def _replay(
    path: Path,
    server: TakServer,
    options: CotOptions,
    epoch: datetime | None,
    speed: float,
    flush_s: float,
    policy: AlertPolicy | None = None,
) -> tuple[int, int, bool]:
    streamer = CotStreamer(server)
    streamer.start()
    authority: list[Authority] = []

    def warnings(estimate: Estimate, t0: datetime) -> list[CotEvent]:
        """The authority's public warnings as CoT, as the estimates come."""
        assert policy is not None
        if not authority:
            authority.append(Authority(policy, t0))
        return [ev for m in authority[0].update(estimate) for ev in message_events(m)]

    try:
        more = warnings if policy is not None else None
        queued = await replay_estimates(path, streamer, options, epoch, speed, more=more)
        flushed = await streamer.flush(flush_s)
        if not flushed:
            console.print(f"[bold red]not all events sent[/] within {flush_s:g} s")
    finally:
        await streamer.close()
    return min(queued, streamer.stats.sent), streamer.queue.dropped, flushed


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `cot` to the `warnlink` command line."""
    p = sub.add_parser(
        "cot", help="replay estimates to a TAK server as Cursor-on-Target (docs/cot.md)"
    )
    p.add_argument("--estimates", required=True, help="estimates.jsonl (docs/formats.md)")
    p.add_argument("--server", required=True, help="TAK server streaming input, HOST:PORT")
    p.add_argument("--party", default="WL", help="party id in uids and callsigns (default WL)")
    p.add_argument("--own", action="store_true", help="a party's own tracks (how m-r), not fused")
    p.add_argument(
        "--policy", help="an alerting authority's policy (TOML, docs/alerting.md): also send "
        "its public warnings for these estimates as CoT alerts",
    )  # fmt: skip
    p.add_argument(
        "--epoch",
        help="UTC instant of t = 0 (the run's epoch); default: the first estimate is now",
    )
    p.add_argument("--speed", type=float, default=1.0, help="scenario s per s (0: no pacing)")
    p.add_argument("--stale", type=float, default=10.0, help="track stale after, s (default 10)")
    p.add_argument("--flush", type=float, default=30.0, help="wait this long to send the rest")
    p.add_argument("--tls", action="store_true", help="TLS (port 8089 on most TAK servers)")
    p.add_argument("--tls-ca", help="CA certificate of the TAK server (PEM)")
    p.add_argument("--tls-cert", help="client certificate (PEM)")
    p.add_argument("--tls-key", help="client key (PEM), if not in --tls-cert")
    p.add_argument("--tls-password", help="password of the client key")
    p.add_argument(
        "--tls-insecure", action="store_true", help="do not check the server certificate (lab)"
    )
    p.set_defaults(func=_cmd_cot)
