"""Intelligence reports: the payload of an INTEL_REPORT envelope (MessagePack)."""

from __future__ import annotations

import msgspec


class IntelReport(msgspec.Struct, frozen=True):
    """A document with a title the hub can list without opening the body."""

    title: str
    content_type: str
    body: bytes
    summary: str = ""


_DECODER = msgspec.msgpack.Decoder(IntelReport)
_ENCODER = msgspec.msgpack.Encoder()


def encode(report: IntelReport) -> bytes:
    return _ENCODER.encode(report)


def decode(payload: bytes) -> IntelReport:
    """The report in a payload; msgspec.ValidationError/DecodeError if it is not one."""
    return _DECODER.decode(payload)
