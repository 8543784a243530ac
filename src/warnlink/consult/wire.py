"""What the consultation channel carries: the envelope payloads and, inside the encrypted
group messages, what the principals and their parties' services say to each other.

Two layers, because the hub relays but must not read: the **frame** is the payload of a
consultation envelope (kind 6) and holds only public things in the clear (signed rosters
of opaque device ids, key bundles) or a `crypto.GroupMessage` (one ciphertext per member
device). The **body** is what a group message's plaintext carries; everything a principal
says or decides, and who the principals are, is only ever a body. docs/consultation.md
section 4 gives the formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypeVar

import msgspec

from warnlink.consult.crypto import GroupMessage, Head, KeyBundle
from warnlink.consult.log import (
    Decision,
    PartySignature,
    SignerLike,
    canonical,
    sign_as_party,
    signature_problem,
)
from warnlink.consult.roster import SignedHolders, SignedRoster
from warnlink.exchange.signing import Verifier

RECEIPT_CONTEXT = b"WarnLink consult receipt v1\x00"
"""Prefix of the bytes a party signs for a delivery or read receipt."""


class WireError(ValueError):
    """A payload or body that does not decode."""


# --- frames: the envelope payload ---------------------------------------------------


class RosterFrame(msgspec.Struct, tag="roster", forbid_unknown_fields=True):
    """A party's signed roster: its devices' ids and identity keys, nothing about who
    holds them (that is a `HoldersBody`, for members only)."""

    signed: SignedRoster


class BundlesFrame(msgspec.Struct, tag="bundles", forbid_unknown_fields=True):
    bundles: tuple[KeyBundle, ...]


class GroupFrame(msgspec.Struct, tag="group", forbid_unknown_fields=True):
    message: GroupMessage


Frame = RosterFrame | BundlesFrame | GroupFrame

# --- bodies: inside the ciphertext --------------------------------------------------


class Chat(msgspec.Struct, tag="chat", forbid_unknown_fields=True):
    text: str


class HoldersBody(msgspec.Struct, tag="holders", forbid_unknown_fields=True):
    """Who holds the sending party's devices (principal, role, rank), signed by the
    party for one roster version: sent after that roster, so the hub never learns it."""

    signed: SignedHolders


class Convene(msgspec.Struct, tag="convene", forbid_unknown_fields=True):
    """A request to consult: every party's principals must acknowledge it, leader first,
    each within `timeouts` (seconds per step, the last repeated) before the next is paged."""

    request: str
    reason: str
    timeouts: tuple[float, ...]


class Ack(msgspec.Struct, tag="ack", forbid_unknown_fields=True):
    """The sending device's principal acknowledges `request` (who they are is the
    authenticated sender, not a field)."""

    request: str


ReceiptState = Literal["delivered", "read"]


class ReceiptBody(msgspec.Struct, forbid_unknown_fields=True):
    """`party`'s devices `devices` got (delivered) or showed to their principal (read)
    the messages named by (sender device, counter, hash)."""

    consultation: str
    party: str
    state: ReceiptState
    devices: tuple[str, ...]
    messages: tuple[Head, ...]
    time_ns: int


class Receipt(msgspec.Struct, tag="receipt", forbid_unknown_fields=True):
    """A receipt signed with the party's signing key: Olm authenticates only to the
    members, a party signature is something the sender can show anyone later."""

    body: bytes
    signature: PartySignature


class Test(msgspec.Struct, tag="test", forbid_unknown_fields=True):
    """The hotline test: every other party's service must answer it in time."""

    number: int


class TestAck(msgspec.Struct, tag="test_ack", forbid_unknown_fields=True):
    party: str
    """The party whose test this answers."""
    number: int


class Propose(msgspec.Struct, tag="propose", forbid_unknown_fields=True):
    """A statement, decision or requested action, for the log's keeper to sequence."""

    proposal: str
    decision: Decision


def describe(d: Decision) -> str:
    """One line for people: category, who must sign, summary."""
    return f"{d.category} [{','.join(d.parties)}]: {d.summary}"


class SignRequest(msgspec.Struct, tag="sign_request", forbid_unknown_fields=True):
    """The keeper's record for a proposal, at the log position it will take."""

    proposal: str
    record: bytes


class RecordSignature(msgspec.Struct, tag="record_signature", forbid_unknown_fields=True):
    proposal: str
    index: int
    signature: PartySignature


class NewEntry(msgspec.Struct, tag="entry", forbid_unknown_fields=True):
    """A fully signed entry the keeper appended: every replica appends it too."""

    proposal: str
    entry: bytes


class CheckpointNote(msgspec.Struct, tag="checkpoint", forbid_unknown_fields=True):
    note: str


class Cosigned(msgspec.Struct, tag="cosigned", forbid_unknown_fields=True):
    size: int
    line: str


Body = (
    Chat | HoldersBody | Convene | Ack | Receipt | Test | TestAck | Propose | SignRequest
    | RecordSignature | NewEntry | CheckpointNote | Cosigned
)  # fmt: skip

RECEIPTED = (Chat, Convene, Propose)
"""Bodies a principal reads, so the sender wants delivery and read receipts for them."""

T = TypeVar("T")
_frame_dec: msgspec.msgpack.Decoder[Frame] = msgspec.msgpack.Decoder(Frame)
_body_dec: msgspec.msgpack.Decoder[Body] = msgspec.msgpack.Decoder(Body)
_receipt_dec = msgspec.msgpack.Decoder(ReceiptBody)


def _decode(decoder: msgspec.msgpack.Decoder[T], data: bytes, what: str) -> T:
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise WireError(f"malformed {what}: {exc}") from exc


def decode_frame(data: bytes) -> Frame:
    return _decode(_frame_dec, data, "consultation payload")


def decode_body(data: bytes) -> Body:
    return _decode(_body_dec, data, "consultation body")


def sign_receipt(body: ReceiptBody, signer: SignerLike) -> Receipt:
    data = canonical(body)
    return Receipt(data, sign_as_party(RECEIPT_CONTEXT, data, signer))


def open_receipt(receipt: Receipt, keys: Mapping[str, Verifier]) -> ReceiptBody:
    """The receipt's body once its party's signature holds; WireError otherwise."""
    body = _decode(_receipt_dec, receipt.body, "receipt")
    if receipt.signature.party != body.party:
        raise WireError(f"receipt of {body.party} signed by {receipt.signature.party}")
    why = signature_problem(receipt.signature, RECEIPT_CONTEXT, receipt.body, keys)
    if why is not None:
        raise WireError(f"receipt of {body.party}: {why}")
    return body
