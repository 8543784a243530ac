"""The consultation channel on the exchange: a party's service beside its node.

The hub delivers each signed envelope to the parties its label names, durably and in
order; it must never read what the principals say. So this service holds the party's
principal devices (`crypto.Device`, one per leader's or alternate's device), publishes
rosters (opaque device ids and their keys) and key bundles in the clear and everything
else, who holds which device included, as group messages, one Olm ciphertext per member
device, in consultation envelopes labelled to every member party.

On top of the channel it runs what a crisis consultation needs without anyone deciding
to: acknowledgement deadlines that page the next alternate (`escalation`), signed
delivery and read receipts, the hotline test (a periodic message every other party must
answer in time, or an alarm), and the decision log (`log`): one log per consultation,
kept (sequenced and checkpointed) by one party, replicated by every party, each joint
decision signed by every party to it, every checkpoint co-signed by the others as
witnesses. Commands come through the party store's queue, so one-shot commands in other
processes and the terminal client drive the same service. docs/consultation.md §4.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from warnlink.consult import wire
from warnlink.consult.attention import Attention
from warnlink.consult.command_queue import CommandQueue
from warnlink.consult.core import describe, log
from warnlink.consult.decisions import Decisions
from warnlink.consult.escalation import Status
from warnlink.consult.roster import Member
from warnlink.consult.setup import ChannelConfig, atomic_write
from warnlink.exchange.node import Node
from warnlink.exchange.node_store import Received as NodeReceived


class ChannelService(CommandQueue, Decisions, Attention):
    """One party's side of one consultation (see the module docstring)."""

    def __init__(self, cfg: ChannelConfig, node: Node | None = None) -> None:
        super().__init__(cfg, node)
        self._status_due = 0.0

    def _handle(self, frm: Member, body: Any) -> None:
        handler = _HANDLERS.get(type(body))
        if handler is not None:
            handler(self, frm, body)

    # -- the loop ---------------------------------------------------------------------

    def start(self) -> None:
        """What needs no hub: our roster out, bundles for members we know."""
        self._publish_rosters()
        self._make_bundles()

    def tick(self) -> None:
        now = time.time()
        self._commands()
        if self.complete():
            if not self.escalations:
                self._restore_escalations()
            self._test_tick(now)
            self._sequence(now)
        self._flush()
        for request, esc in self.escalations.items():
            self._act(request, esc.poll())
        if now >= self._status_due:
            self._status_due = now + 0.5
            self.write_status()

    async def run(self, own_node: bool = True) -> None:
        """Run the node, take in its inbox, and tick; for ever. With `own_node` False the
        node is someone else's (the exercise's party process, whose node carries its
        tracks too): its owner runs it and hands the consultation's rows to `take`."""
        self.start()
        tasks = (
            [asyncio.create_task(c) for c in (self.node.run(), self._inbox())] if own_node else []
        )
        try:
            while True:
                for task in tasks:
                    if task.done():
                        task.result()
                try:
                    self.tick()
                except Exception:
                    log.exception("consult_error", extra={"party": self.party})
                await asyncio.sleep(self.cfg.tick)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _inbox(self) -> None:
        after = int(self.store.get("inbox_row", "0") or 0)
        async for row in self.node.messages(after):
            self.take(row)

    def take(self, row: NodeReceived) -> None:
        """One inbox row of the node: a refused envelope is an alarm, not a stop."""
        try:
            self.on_envelope(row.envelope)
        except Exception as exc:
            self._alarm(row.envelope.origin, "refused", f"{type(exc).__name__}: {exc}")
        self.store.put("inbox_row", str(row.row))
        self._flush()

    # -- what the client shows ------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        now = time.time()
        members = {}
        membership = self.primary().membership if self.local() else None
        names = {d: m.name for d, m in membership.devices().items()} if membership else {}
        for party in self.members:
            r = membership.rosters.get(party) if membership else None
            h = membership.holders.get(party) if membership else None
            members[party] = {
                "roster": r.version if r else None,
                "principals": [
                    {"name": p.name, "role": p.role, "rank": p.rank,
                     "devices": [names[d.device] for d in p.devices if d.device in names]}
                    for p in sorted(h.principals, key=lambda p: p.rank)
                ] if h else [],
                "channel": "self" if party == self.party else self.channel.get(party, "unknown"),
                "last_ok": self.last_ok.get(party),
            }  # fmt: skip
        requests = []
        for request, esc in self.escalations.items():
            parties = {}
            for party in esc.parties():
                status = esc.status(party)
                left = None if status is not Status.WAITING else esc.deadline(party) - now
                parties[party] = {
                    "status": status.value, "asked": esc.current(party),
                    "by": esc.acknowledged_by(party),
                    "left_s": None if left is None else round(left, 1),
                }  # fmt: skip
            requests.append({"request": request, "parties": parties})
        msgs = self.store.db.execute(
            "SELECT sender, kind, text, time_ns, read FROM messages ORDER BY id DESC LIMIT 15"
        ).fetchall()
        receipts = dict(self.store.db.execute(
            "SELECT sender || '#' || counter || '/' || party, state FROM receipts"
        ).fetchall())  # fmt: skip
        props = self.store.db.execute(
            "SELECT proposal, body, author, approved, state FROM proposals ORDER BY rowid DESC"
            " LIMIT 10"
        ).fetchall()
        return {
            "party": self.party, "consultation": self.consultation, "time": now,
            "connected": self.node.connected.is_set(), "keeper": self.keeper,
            "devices": [d.device for d in self.local()], "names": names, "members": members,
            "requests": requests,
            "messages": [{"sender": names.get(s, s), "kind": k, "text": t, "time_ns": tn,
                          "read": bool(r)}
                         for s, k, t, tn, r in reversed(msgs)],
            "receipts": len(receipts),
            "proposals": [{"proposal": p, "summary": describe(wire.decode_body(b)),
                           "author": a, "approved": bool(ap), "state": st}
                          for p, b, a, ap, st in props],
            "alarms": [{"at": at, "party": p, "reason": r, "detail": d}
                       for at, p, r, d in self.store.alarms(10)],
            "log_size": len(self.log),
            "outgoing": self.store.db.execute("SELECT count(*) FROM outgoing").fetchone()[0],
        }  # fmt: skip

    def write_status(self) -> None:
        atomic_write(self.cfg.data / "status.json", json.dumps(self.status()))


_HANDLERS: dict[type, Callable[[ChannelService, Member, Any], None]] = {
    wire.HoldersBody: ChannelService._on_holders,
    wire.Convene: ChannelService._on_convene,
    wire.Ack: ChannelService._on_ack,
    wire.Receipt: ChannelService._on_receipt,
    wire.Test: ChannelService._on_test,
    wire.TestAck: ChannelService._on_test_ack,
    wire.Propose: ChannelService._on_propose,
    wire.SignRequest: ChannelService._on_sign_request,
    wire.RecordSignature: ChannelService._on_record_signature,
    wire.NewEntry: ChannelService._on_new_entry,
    wire.CheckpointNote: ChannelService._on_checkpoint,
    wire.Cosigned: ChannelService._on_cosigned,
}
