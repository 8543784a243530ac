"""`warnlink consult ...`: set a party up, run its channel (interactive or headless), and
one-shot commands that queue what a principal does for the running channel to carry out.

The one-shot commands never open the devices' state: they write to the party store's
command queue and wait for the service's answer, so a principal can act from a script
or a second terminal while `consult run` holds the devices (docs/consultation.md §5).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import nacl.pwhash
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from warnlink.consult import wire
from warnlink.consult.channel import ChannelService
from warnlink.consult.log import Decision, DecisionLog
from warnlink.consult.party_store import DONE, PENDING, PartyStore
from warnlink.consult.setup import PASSPHRASE_ENV, ChannelConfig, init_party
from warnlink.exchange import logs
from warnlink.exchange.commands import _node_args, _until_signalled, _write_ready
from warnlink.exchange.node import HubAddress

console = Console(stderr=True)
KDF = {
    "interactive": None,
    "min": (nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN),
}


def _passphrase() -> str:
    text = os.environ.get(PASSPHRASE_ENV)
    if text is None:
        if not sys.stdin.isatty():
            raise ValueError(f"set {PASSPHRASE_ENV} (the devices' state passphrase)")
        text = getpass.getpass("device state passphrase: ")
    return text


def _cmd_init(args: argparse.Namespace) -> int:
    principals = []
    for spec in args.principal:
        name, _, devices = spec.partition("=")
        principals.append((name, devices.split(",") if devices else ["desk"]))
    signed = init_party(
        Path(args.pki), args.party, Path(args.data), args.consultation, args.members.split(","),
        args.keeper, principals, _passphrase(), [float(t) for t in args.ack_timeout.split(",")],
        KDF[args.kdf],
    )  # fmt: skip
    console.print(f"{args.party}: consultation {args.consultation}, roster v1 "
                  f"({len(signed.roster)} bytes), devices under {args.data}/devices")  # fmt: skip
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    logs.setup()
    cfg = ChannelConfig(
        Path(args.pki), args.party, HubAddress.parse(args.hub), Path(args.data), _passphrase(),
        test_interval=args.test_interval, test_timeout=args.test_timeout,
    )  # fmt: skip
    headless = args.headless or not sys.stdout.isatty()
    if not headless:  # the screen is the client's: the JSON log lines go to a file
        handler = logging.FileHandler(Path(args.data) / "consult.log")
        handler.setFormatter(logs.JsonFormatter())
        logging.getLogger("warnlink").handlers[:] = [handler]

    async def main() -> None:
        service = ChannelService(cfg)
        task = asyncio.create_task(service.run())
        _write_ready(args.ready_file, {"party": args.party})
        if headless:
            await asyncio.wait(
                [task, asyncio.create_task(_until_signalled())], return_when="FIRST_COMPLETED"
            )
        else:
            device = service.resolve(args.device) if args.device else service.primary().device
            await _interactive(service, service.name_of(device), task)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    return 0


# --- the terminal client -------------------------------------------------------------

HELP = (
    "type text to send; /ack [request]  /read  /convene REASON  /approve PROPOSAL  "
    "/decide CATEGORY PARTIES SUMMARY  /quit"
)


def _line_to_command(store: PartyStore, device: str, line: str) -> bool:
    """Queue what the principal typed; False to quit."""
    word, _, rest = line.strip().partition(" ")
    if not line.strip():
        return True
    if word == "/quit":
        return False
    if word == "/ack":
        store.enqueue(device, "ack", request=rest.strip() or None)
    elif word == "/read":
        store.enqueue(device, "read")
    elif word == "/convene":
        store.enqueue(device, "convene", reason=rest or "convened by hand")
    elif word == "/approve":
        store.enqueue(device, "approve", proposal=rest.strip())
    elif word == "/decide":
        category, parties, summary = [*rest.split(" ", 2), "", ""][:3]
        store.enqueue(device, "decide", category=category, parties=parties.split(","),
                      summary=summary)  # fmt: skip
    else:
        store.enqueue(device, "send", text=line.rstrip("\n"))
    return True


async def _interactive(service: ChannelService, device: str, task: asyncio.Task[None]) -> None:
    """Members, messages, pending acknowledgements with their countdown and alarms,
    redrawn a few times a second; typed lines become commands."""
    lines: asyncio.Queue[str] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, "/quit")

    threading.Thread(target=read, daemon=True).start()
    with Live(render(service.status(), device), console=Console(), auto_refresh=False) as live:
        while not task.done():
            while not lines.empty():
                if not _line_to_command(service.store, device, lines.get_nowait()):
                    return
            live.update(render(service.status(), device), refresh=True)
            await asyncio.sleep(0.25)


def render(st: dict[str, Any], device: str) -> Group:
    """The client's screen from a status snapshot (`status.json`)."""
    head = Text(f"consultation {st['consultation']} - {st['party']} as {device} - "
                f"{'connected' if st['connected'] else 'NOT CONNECTED'} - log "
                f"{st['log_size']} entries (keeper {st['keeper']})", style="bold")  # fmt: skip
    members = Table("party", "roster", "principals (rank order)", "channel", title="Members")
    for party, m in st["members"].items():
        who = "; ".join(f"{p['name']} ({p['role']}): {', '.join(p['devices']) or '-'}"
                        for p in m["principals"])  # fmt: skip
        style = {"ok": "green", "failing": "bold red", "self": "dim"}.get(m["channel"], "yellow")
        members.add_row(party, str(m["roster"] or "-"), who, Text(m["channel"], style=style))
    acks = Table("request", "party", "status", "asked", "left", title="Acknowledgements")
    me = tuple(device.split("/")[:2])
    for r in st["requests"]:
        for party, p in r["parties"].items():
            left = f"{p['left_s']:.1f} s" if p["left_s"] is not None else (p["by"] or "")
            style = {"waiting": "yellow", "acknowledged": "green"}.get(p["status"], "bold red")
            asked = Text(p["asked"] or "-")
            if p["status"] == "waiting" and (party, p["asked"]) == me:
                asked = Text(f"{p['asked']}: YOU, /ack", style="bold reverse")
            acks.add_row(r["request"], party, Text(p["status"], style=style), asked, left)
    msgs = Table("sender", "kind", "text", "", title="Messages")
    for m in st["messages"]:
        msgs.add_row(m["sender"], m["kind"], m["text"], "" if m["read"] else "new")
    alarms = Table("party", "reason", "detail", title="Alarms", style="red")
    for a in st["alarms"]:
        alarms.add_row(a["party"], a["reason"], a["detail"])
    props = Table("proposal", "what", "by", "state", title="Proposals")
    for p in st["proposals"]:
        props.add_row(p["proposal"], p["summary"], p["author"],
                      p["state"] + ("" if p["approved"] else " (needs /approve)"))  # fmt: skip
    return Group(head, members, acks, msgs, props, alarms, Text(HELP, style="dim"))


# --- one-shot commands ---------------------------------------------------------------


def _queue(args: argparse.Namespace, name: str, **kw: Any) -> int:
    store = PartyStore(Path(args.data) / "consult.db")
    store.settings()
    cid = store.enqueue(args.device, name, **kw)
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        state, result = store.outcome(cid)
        if state != PENDING:
            print(result)
            return 0 if state == DONE else 1
        time.sleep(0.05)
    print(f"queued as command {cid}; the channel (`warnlink consult run`) is not answering")
    return 3


def _cmd_send(args: argparse.Namespace) -> int:
    return _queue(args, "send", text=args.text)


def _cmd_ack(args: argparse.Namespace) -> int:
    return _queue(args, "ack", request=args.request)


def _cmd_read(args: argparse.Namespace) -> int:
    return _queue(args, "read")


def _cmd_convene(args: argparse.Namespace) -> int:
    timeouts = [float(t) for t in args.timeout.split(",")] if args.timeout else None
    return _queue(args, "convene", reason=args.reason, timeouts=timeouts)


def _cmd_decide(args: argparse.Namespace) -> int:
    return _queue(args, "decide", category=args.category, summary=args.summary,
                  parties=args.parties.split(","), detail=args.detail, action=args.action,
                  refs=[int(r) for r in args.refs.split(",")] if args.refs else [])  # fmt: skip


def _cmd_approve(args: argparse.Namespace) -> int:
    return _queue(args, "approve", proposal=args.proposal)


def _cmd_remove(args: argparse.Namespace) -> int:
    return _queue(args, "remove-device", remove=args.remove)


def _cmd_log(args: argparse.Namespace) -> int:
    with DecisionLog(Path(args.data) / "decisions.db") as dlog:
        for entry, record in dlog.entries():
            signers = ",".join(s.party for s in entry.signatures)
            body = record.body
            what = wire.describe(body) if isinstance(body, Decision) else body.text
            stamp = time.strftime("%H:%M:%S", time.gmtime(record.time_ns / 1e9))
            print(f"#{record.index} {stamp}Z {record.author}: {what} (signed {signers})")
        note = dlog.latest_checkpoint()
        if note:
            print(note, end="")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    st = json.loads((Path(args.data) / "status.json").read_text())
    if args.json:
        print(json.dumps(st, indent=1))
    else:
        Console().print(render(st, args.device or "-"))
    age = time.time() - st["time"]
    if age > 5:
        console.print(f"[yellow]status is {age:.0f} s old: is `consult run` running?[/]")
    return 1 if any(m["channel"] == "failing" for m in st["members"].values()) else 0


def add_parsers(csub: Any) -> None:
    p = csub.add_parser("init", help="create this party's devices and signed roster")
    _node_args(p, hub=False)
    p.add_argument("--consultation", required=True, help="the consultation's id")
    p.add_argument("--members", required=True, help="member parties, comma-separated")
    p.add_argument("--keeper", required=True, help="the party that keeps the decision log")
    p.add_argument("--principal", action="append", required=True, metavar="NAME=DEV,DEV",
                   help="a principal and their devices, leader first, then alternates")  # fmt: skip
    p.add_argument("--ack-timeout", default="60", metavar="S[,S...]",
                   help="seconds each principal has to acknowledge (a step each)")  # fmt: skip
    p.add_argument("--kdf", choices=sorted(KDF), default="interactive",
                   help="Argon2id cost of the state passphrase (min: tests only)")  # fmt: skip
    p.set_defaults(func=_cmd_init)

    p = csub.add_parser("run", help="run the party's channel beside its node (interactive)")
    _node_args(p)
    p.add_argument("--device", help="the device this terminal speaks as (default: leader's)")
    p.add_argument("--headless", action="store_true", help="no screen (also when not a tty)")
    p.add_argument("--test-interval", type=float, default=30.0, help="seconds between tests")
    p.add_argument("--test-timeout", type=float, default=10.0, help="seconds to answer a test")
    p.add_argument("--ready-file")
    p.set_defaults(func=_cmd_run)

    def one_shot(name: str, help: str, func: Any) -> argparse.ArgumentParser:
        q = csub.add_parser(name, help=help)
        q.add_argument("--data", required=True, help="the party's consultation directory")
        q.add_argument("--device", required=True, help="who acts, e.g. KR/lee/phone")
        q.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the channel")
        q.set_defaults(func=func)
        out: argparse.ArgumentParser = q
        return out

    one_shot("send", "say something to every member", _cmd_send).add_argument("text")
    one_shot("ack", "acknowledge a request to consult", _cmd_ack).add_argument(
        "--request", help="default: the latest"
    )
    one_shot("read", "send read receipts for what has arrived", _cmd_read)
    q = one_shot("convene", "ask every party's principals to acknowledge", _cmd_convene)
    q.add_argument("--reason", required=True)
    q.add_argument("--timeout", help="acknowledgement seconds per step (default: init's)")
    q = one_shot("decide", "propose a statement, decision or requested action", _cmd_decide)
    q.add_argument("--category", choices=("statement", "decision", "requested_action"),
                   required=True)  # fmt: skip
    q.add_argument("--summary", required=True)
    q.add_argument("--parties", required=True, help="who must sign it, comma-separated")
    q.add_argument("--detail", default="")
    q.add_argument("--action", default="")
    q.add_argument("--refs", help="log indices it rests on, comma-separated")
    one_shot("approve", "sign a proposal for this party", _cmd_approve).add_argument("proposal")
    one_shot("roster", "sign a new roster without a device", _cmd_remove).add_argument(
        "--remove", required=True, metavar="DEVICE"
    )

    p = csub.add_parser("log", help="print this party's copy of the decision log")
    p.add_argument("--data", required=True)
    p.set_defaults(func=_cmd_log)
    p = csub.add_parser("status", help="what the running channel shows (exit 1 on a failing test)")
    p.add_argument("--data", required=True)
    p.add_argument("--device")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_status)
