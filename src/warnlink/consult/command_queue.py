"""What principals ask for through the party store's command queue, carried out by the
running service, so one-shot commands in other processes drive it too."""

from __future__ import annotations

import secrets

from warnlink.consult import wire
from warnlink.consult.attention import Attention
from warnlink.consult.crypto import ConsultError, Head
from warnlink.consult.decisions import Decisions
from warnlink.consult.log import Decision, LogError, canonical
from warnlink.consult.party_store import Command
from warnlink.consult.roster import (
    Holders,
    Principal,
    Roster,
    RosterError,
    roster_hash,
    sign_holders,
    sign_roster,
)
from warnlink.exchange.pki import PkiError

_PROBLEMS = (ConsultError, wire.WireError, LogError, RosterError, PkiError, ValueError)


class CommandQueue(Decisions, Attention):
    """The queue's commands: they drive both convening and decisions."""

    def run_command(self, cmd: Command) -> str:
        """Carry out a command; its device (and a device to remove) may be given by id or
        by name (party/principal/label), as a principal knows it."""
        a = cmd.args
        if cmd.name == "remove-device":
            return self.remove_device(self.resolve(a["remove"]))
        device = self.resolve(cmd.device)
        if cmd.name == "send":
            self.send(device, wire.Chat(a["text"]))
            return "queued"
        if cmd.name == "convene":
            return "request " + self.convene(device, a["reason"], a.get("timeouts"))
        if cmd.name == "ack":
            request = a.get("request") or self._latest_request()
            if request is None:
                raise ConsultError("no request to acknowledge")
            self.send(device, wire.Ack(request))
            self._mark_read(device)
            return f"acknowledged {request}"
        if cmd.name == "read":
            return f"read {self._mark_read(device)} message(s)"
        if cmd.name == "decide":
            proposal = secrets.token_hex(4)
            decision = Decision(
                a["category"], a["summary"], tuple(sorted(a["parties"])), a.get("detail", ""),
                a.get("action", ""), tuple(a.get("refs", ())),
            )  # fmt: skip
            strangers = set(decision.parties) - set(self.members)
            if not decision.parties or strangers:
                raise ConsultError(f"a decision's parties must be members (not {strangers})")
            if any(not 0 <= r < len(self.log) for r in decision.refs):
                raise ConsultError(f"refs {decision.refs}: the log has {len(self.log)} entries")
            self.send(device, wire.Propose(proposal, decision))
            return f"proposal {proposal}"
        if cmd.name == "approve":
            return self.approve(a["proposal"], device)
        raise ConsultError(f"unknown command {cmd.name}")

    def _latest_request(self) -> str | None:
        row = self.store.db.execute(
            "SELECT request FROM requests ORDER BY started DESC LIMIT 1"
        ).fetchone()
        return None if row is None else str(row[0])

    def _mark_read(self, device: str) -> int:
        rows = self.store.db.execute(
            "SELECT id, sender, counter, hash FROM messages WHERE read = 0 ORDER BY id"
        ).fetchall()
        if rows:
            self.store.db.execute("UPDATE messages SET read = 1 WHERE id <= ?", (rows[-1][0],))
            self._receipt("read", [device], [Head(s, c, h) for _, s, c, h in rows])
        return len(rows)

    def remove_device(self, device: str) -> str:
        """Sign a new roster without `device`, and who holds the rest: nobody encrypts to
        it from then on."""
        old, holders = self.own_roster(), self.own_holders()
        devices = tuple(d for d in old.devices if d.device != device)
        if len(devices) == len(old.devices):
            raise ConsultError(f"{device} is not in {self.party}'s roster")
        name, version = self.name_of(device), old.version + 1
        signed = sign_roster(Roster(old.consultation, old.party, version, devices), self.signer)
        principals = tuple(
            Principal(p.name, p.role, p.rank, tuple(d for d in p.devices if d.device != device))
            for p in holders.principals
        )
        held = sign_holders(Holders(old.consultation, old.party, version, roster_hash(signed),
                                    principals), signed, self.signer)  # fmt: skip
        self.store.db.execute(
            "INSERT INTO own_rosters (version, signed, holders) VALUES (?, ?, ?)",
            (version, canonical(signed), canonical(held)),
        )
        for dev in list(self.devices.values()):
            if dev.device in self.primary().membership.devices():
                dev.apply_roster(signed)
                dev.apply_holders(held)
                self._save(dev)
        self._publish_rosters()
        return f"roster v{version} without {name}"

    def _commands(self) -> None:
        for cmd in self.store.pending_commands():
            try:
                result = self.run_command(cmd)
            except _PROBLEMS as exc:
                self.store.finish(cmd.id, False, str(exc))
                continue
            self.store.finish(cmd.id, True, result)
            self._event("consult_command", party=self.party, device=cmd.device, command=cmd.name,
                  result=result)  # fmt: skip
