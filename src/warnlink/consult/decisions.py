"""Decisions and the log: proposals, the keeper's sequencing and signature gathering,
every party's replica, and the witnesses' co-signed checkpoints."""

from __future__ import annotations

import time
from dataclasses import dataclass

from warnlink.consult import wire
from warnlink.consult.core import ChannelCore
from warnlink.consult.crypto import ConsultError
from warnlink.consult.log import (
    LogError,
    PartySignature,
    Record,
    Witness,
    canonical,
    decode_entry,
    decode_record,
    parse_note,
    required_signers,
    sign_record,
)
from warnlink.consult.roster import Member
from warnlink.consult.setup import ChannelConfig, atomic_write
from warnlink.exchange.node import Node


@dataclass
class _Open:
    """The keeper's proposal in flight: its record and the signatures gathered."""

    proposal: str
    record: Record
    data: bytes
    since: float
    signatures: dict[str, PartySignature]


class Decisions(ChannelCore):
    """Joint decisions, signed by every party to them, in the replicated log."""

    def __init__(self, cfg: ChannelConfig, node: Node | None = None) -> None:
        super().__init__(cfg, node)
        self._open: _Open | None = None
        self._early: dict[str, tuple[Member, wire.SignRequest]] = {}
        """Sign requests that came before their proposal (from another origin)."""
        self._witness: Witness | None = None

    def _on_propose(self, frm: Member, body: wire.Propose) -> None:
        self.store.db.execute(
            "INSERT OR IGNORE INTO proposals (proposal, body, author, approved, created)"
            " VALUES (?, ?, ?, ?, ?)",
            (body.proposal, canonical(body), frm.party, int(frm.party == self.party),
             time.time()),
        )  # fmt: skip
        self._event("consult_proposal", party=self.party, proposal=body.proposal,
                    author=frm.party, summary=wire.describe(body.decision))  # fmt: skip
        early = self._early.pop(body.proposal, None)
        if early is not None:
            self._on_sign_request(*early)

    def _proposal(self, proposal: str) -> tuple[wire.Propose, str, bool, bytes | None] | None:
        row = self.store.db.execute(
            "SELECT body, author, approved, record FROM proposals WHERE proposal = ?", (proposal,)
        ).fetchone()
        if row is None:
            return None
        body = wire.decode_body(row[0])
        assert isinstance(body, wire.Propose)
        return body, str(row[1]), bool(row[2]), row[3]

    def _sequence(self, now: float) -> None:
        """The keeper's part: one proposal at a time takes the next log position and goes
        out for signatures; given up (with an alarm) if they do not all come."""
        if self.party != self.keeper:
            return
        if self._open is not None:
            if now - self._open.since > self.cfg.decision_timeout:
                self._settle(self._open.proposal, "expired")
                self._alarm(self.party, "decision_expired", f"proposal {self._open.proposal}")
                self._open = None
            return
        row = self.store.db.execute(
            "SELECT proposal FROM proposals WHERE state = 'open' ORDER BY rowid LIMIT 1"
        ).fetchone()
        if row is None:
            return
        found = self._proposal(str(row[0]))
        assert found is not None
        p, author, _, _ = found
        record = self.log.new_record(author, p.decision, time.time_ns())
        self._open = _Open(p.proposal, record, canonical(record), now, {})
        self.send(self.primary().device, wire.SignRequest(p.proposal, canonical(record)))

    def _settle(self, proposal: str, state: str) -> None:
        self.store.db.execute(
            "UPDATE proposals SET state = ? WHERE proposal = ?", (state, proposal)
        )

    def _on_sign_request(self, frm: Member, body: wire.SignRequest) -> None:
        if frm.party != self.keeper:
            raise ConsultError(f"sign request from {frm.party}, who does not keep the log")
        record = decode_record(body.record)
        found = self._proposal(body.proposal)
        if found is None:  # the proposal comes from another origin: it may be behind
            self._early[body.proposal] = (frm, body)
            return
        p, author, approved, _ = found
        if record.log != self.log.origin or record.body != p.decision or record.author != author:
            self._alarm(frm.party, "bad_sign_request", f"record for {body.proposal} is not it")
            return
        if self.party not in required_signers(record):
            return
        self.store.db.execute(
            "UPDATE proposals SET record = ? WHERE proposal = ?", (body.record, body.proposal)
        )
        if approved:
            self._sign(body.proposal, record, body.record, self.primary().device)

    def _sign(self, proposal: str, record: Record, data: bytes, device: str) -> None:
        sig = sign_record(data, self.signer)
        self.send(device, wire.RecordSignature(proposal, record.index, sig))
        self._event("consult_signed", party=self.party, proposal=proposal, index=record.index)

    def approve(self, proposal: str, device: str) -> str:
        found = self._proposal(proposal)
        if found is None:
            raise ConsultError(f"no proposal {proposal} here (yet)")
        self.store.db.execute("UPDATE proposals SET approved = 1 WHERE proposal = ?", (proposal,))
        record = found[3]
        if record is not None:
            self._sign(proposal, decode_record(record), record, device)
            return f"approved and signed {proposal}"
        return f"approved {proposal}; signing when the keeper asks"

    def _on_record_signature(self, frm: Member, body: wire.RecordSignature) -> None:
        cur = self._open
        if self.party != self.keeper or cur is None or cur.proposal != body.proposal:
            return
        if body.signature.party != frm.party or body.index != cur.record.index:
            raise ConsultError(f"signature from {frm.party} for another party or position")
        cur.signatures[frm.party] = body.signature
        if set(cur.signatures) >= required_signers(cur.record):
            index = self.log.append(cur.record, list(cur.signatures.values()))
            self._settle(cur.proposal, "logged")
            self._open = None
            entry = self.log.entry_bytes(index)
            self.send(self.primary().device, wire.NewEntry(cur.proposal, entry))
            note = self.log.checkpoint(self.signer, time.time_ns())
            self.send(self.primary().device, wire.CheckpointNote(note))
            self._event("consult_logged", party=self.party, index=index, proposal=cur.proposal)

    def _on_new_entry(self, frm: Member, body: wire.NewEntry) -> None:
        if frm.party != self.keeper or self.party == self.keeper:
            return
        entry, record = decode_entry(body.entry)
        if record.index < len(self.log) and self.log.entry_bytes(record.index) == body.entry:
            return  # sent again after a restart
        self.log.append(record, entry.signatures)
        self._settle(body.proposal, "logged")
        self._event("consult_logged", party=self.party, index=record.index)

    def _witness_for(self) -> Witness | None:
        keeper = self.keys.get(self.keeper)
        if keeper is None:
            return None
        if self._witness is None:
            state = self.store.get("witness_state")
            cp = parse_note(state + "\n").checkpoint if state else None
            self._witness = Witness(self.signer, self.log.origin, keeper,
                                    self.log.raw_keys[self.keeper], cp)  # fmt: skip
        return self._witness

    def _on_checkpoint(self, frm: Member, body: wire.CheckpointNote) -> None:
        witness = self._witness_for()
        if frm.party != self.keeper or self.party == self.keeper or witness is None:
            return
        cp = parse_note(body.note).checkpoint
        old = witness.state.size if witness.state else 0
        if cp.size > len(self.log):
            raise ConsultError(f"checkpoint of {cp.size} entries, we hold {len(self.log)}")
        proof = self.log.consistency_proof(old, cp.size) if old else []
        try:
            line = witness.cosign(body.note, proof, int(time.time()))
        except LogError as exc:
            self._alarm(frm.party, "checkpoint_refused", str(exc))
            return
        self.store.put("witness_state", cp.body())
        atomic_write(self.cfg.data / "checkpoint.note", body.note)
        self.send(self.primary().device, wire.Cosigned(cp.size, line.text()))
        self._event("consult_cosigned", party=self.party, size=cp.size)

    def _on_cosigned(self, frm: Member, body: wire.Cosigned) -> None:
        if self.party != self.keeper:
            return
        note = self.log.latest_checkpoint()
        if note is None:
            return
        cp = parse_note(note).checkpoint
        line = parse_note(cp.body() + "\n" + body.line).signatures[0]
        if line.name != frm.party:
            raise ConsultError(f"co-signature of {line.name} sent by {frm.party}")
        self.log.add_cosignature(body.size, line)
        self._event("consult_cosignature", party=frm.party, size=body.size)
