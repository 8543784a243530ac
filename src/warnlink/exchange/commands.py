"""`warnlink hub` and `warnlink node`: the exchange's command lines."""

from __future__ import annotations

import argparse
import asyncio
import json
import mimetypes
import signal
from pathlib import Path
from typing import Any

from rich.console import Console

from warnlink.exchange import aio, intel, logs
from warnlink.exchange.envelope import Kind
from warnlink.exchange.node_store import NodeStore
from warnlink.tables import table

console = Console(stderr=True)
KINDS = {k.name.lower().replace("_", "-"): k for k in Kind}


def _write_ready(path: str | None, info: dict[str, Any]) -> None:
    """Tell a supervisor (or a test) where we listen, atomically."""
    if path:
        tmp = Path(path + ".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(path)


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _cmd_hub(args: argparse.Namespace) -> int:
    from warnlink.exchange.hub import Hub, HubConfig

    logs.setup()
    config = HubConfig(
        pki=Path(args.pki), data=Path(args.data), host=args.host, port=args.port,
        metrics_port=args.metrics_port, sync=args.sync, idle_s=args.idle_timeout,
        frame_s=args.frame_timeout, handshake_s=args.frame_timeout,
    )  # fmt: skip

    async def main() -> int:
        hub = Hub(config)
        port = await hub.start()
        metrics_port = getattr(hub, "metrics_port", None)
        _write_ready(args.ready_file, {"port": port, "metrics_port": metrics_port})
        stop = asyncio.create_task(_until_signalled())
        done, _ = await asyncio.wait([stop, *hub.tasks], return_when=asyncio.FIRST_COMPLETED)
        await hub.close()
        # a failed store stops the hub (crash-only): nothing it could not store was
        # acknowledged, and nodes resend to the hub that replaces it
        return 0 if stop in done else 70

    return aio.run(main())


def _node_args(p: argparse.ArgumentParser, *, hub: bool = True, data: bool = True) -> None:
    p.add_argument("--pki", required=True, help="the federation PKI directory")
    p.add_argument("--party", required=True, help="this party's id, e.g. KR")
    if hub:
        p.add_argument("--hub", required=True, help="HOST:PORT of the hub")
    if data:
        p.add_argument("--data", required=True, help="this node's data directory")


def _cmd_node_run(args: argparse.Namespace) -> int:
    from warnlink.exchange.node import HubAddress, Node

    logs.setup()

    async def main() -> None:
        node = Node(Path(args.pki), args.party, HubAddress.parse(args.hub), Path(args.data))
        task = asyncio.create_task(node.run())
        _write_ready(args.ready_file, {"party": args.party})
        await _until_signalled()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    aio.run(main())
    return 0


def _cmd_node_send(args: argparse.Namespace) -> int:
    from warnlink.exchange.signing import Signer

    payload = Path(args.file).read_bytes() if args.file else args.text.encode()
    store = NodeStore(Path(args.data) / "node.db")
    signer = Signer.load(Path(args.pki), args.party)
    if args.kind == "intel-report":
        ctype = mimetypes.guess_type(args.file or "")[0] or "text/plain"
        report = intel.IntelReport(args.title or "untitled", ctype, payload)
        payload = intel.encode(report)
    [env] = store.publish(signer, [(KINDS[args.kind], args.to.split(","), payload)])
    console.print(f"queued {args.kind} seq {env.seq} id {env.id.hex()} for {','.join(env.label)}")
    return 0


def _cmd_node_inbox(args: argparse.Namespace) -> int:
    store = NodeStore(Path(args.data) / "node.db")
    rows = store.inbox(args.after, args.limit)
    t = table("Inbox", ("row", "origin", "seq", "kind", "id"), ("bytes",))
    for r in rows:
        e = r.envelope
        t.add_row(str(r.row), e.origin, str(e.seq), e.kind.name.lower(), e.id.hex(),
                  str(len(e.payload)))  # fmt: skip
    Console().print(t)
    counts = store.outbox_counts()
    console.print(f"outbox: {counts['pending']} pending, {counts['acked']} acknowledged, "
                  f"{counts['rejected']} rejected")  # fmt: skip
    return 0


def _cmd_node_reports(args: argparse.Namespace) -> int:
    from warnlink.exchange.node import HubAddress, query

    async def main() -> int:
        async with query(Path(args.pki), args.party, HubAddress.parse(args.hub)) as q:
            if args.fetch:
                env = await q.fetch(bytes.fromhex(args.fetch))
                if env is None:
                    console.print(f"no report {args.fetch} released to {args.party}")
                    return 1
                report = intel.decode(env.payload)
                out = Path(args.out or f"{args.fetch}.bin")
                out.write_bytes(report.body)
                console.print(f"{report.title!r} from {env.origin} ({report.content_type}, "
                              f"{len(report.body)} bytes, signature checked) -> {out}")  # fmt: skip
                return 0
            t = table("Intelligence reports", ("id", "origin", "title"), ("seq", "bytes"))
            for r in await q.list_reports(args.after, args.limit):
                t.add_row(r.id.hex(), r.origin, r.title, str(r.seq), str(r.size))
            Console().print(t)
            return 0

    return asyncio.run(main())


def add_parsers(sub: Any) -> None:
    hub = sub.add_parser("hub", help="run the exchange hub (mutual TLS 1.3)")
    hub.add_argument("--pki", required=True, help="the federation PKI directory")
    hub.add_argument("--data", required=True, help="where the hub keeps hub.db")
    hub.add_argument("--host", default="127.0.0.1")
    hub.add_argument("--port", type=int, default=7400, help="0 picks a free port")
    hub.add_argument("--metrics-port", type=int, help="serve Prometheus text on /metrics")
    hub.add_argument("--sync", choices=("normal", "full"), default="normal",
                     help="normal: durable across a crash of the hub; full: fsync every "
                          "commit, durable across power loss")  # fmt: skip
    hub.add_argument(
        "--idle-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="drop a connection silent this long (nodes ping every third)",
    )
    hub.add_argument(
        "--frame-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="drop a connection whose handshake or frame takes longer (plus one second per MiB)",
    )
    hub.add_argument("--ready-file", help="write {port, metrics_port} here once listening")
    hub.set_defaults(func=_cmd_hub)

    node = sub.add_parser("node", help="a party's node: run it, publish, read the inbox")
    nsub = node.add_subparsers(dest="node_command", required=True)
    run = nsub.add_parser("run", help="stay connected: publish the outbox, fill the inbox")
    _node_args(run)
    run.add_argument("--ready-file")
    run.set_defaults(func=_cmd_node_run)
    send = nsub.add_parser("send", help="queue a signed message in the outbox")
    _node_args(send, hub=False)
    send.add_argument("--kind", choices=sorted(KINDS), required=True)
    send.add_argument("--to", required=True, help="releasability label: parties, comma-separated")
    what = send.add_mutually_exclusive_group(required=True)
    what.add_argument("--text")
    what.add_argument("--file")
    send.add_argument("--title", help="an intelligence report's title")
    send.set_defaults(func=_cmd_node_send)
    inbox = nsub.add_parser("inbox", help="list received messages")
    inbox.add_argument("--data", required=True)
    inbox.add_argument("--after", type=int, default=0)
    inbox.add_argument("--limit", type=int, default=50)
    inbox.set_defaults(func=_cmd_node_inbox)
    reports = nsub.add_parser("reports", help="list or fetch intelligence reports at the hub")
    _node_args(reports, data=False)
    reports.add_argument("--fetch", metavar="ID", help="fetch this report (hex id)")
    reports.add_argument("--out", help="where to write the fetched report's body")
    reports.add_argument("--after", type=int, default=0)
    reports.add_argument("--limit", type=int, default=100)
    reports.set_defaults(func=_cmd_node_reports)
