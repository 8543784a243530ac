"""JSON Lines reading and writing with line-numbered errors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

_ENCODER = msgspec.json.Encoder()


class FormatError(ValueError):
    """A file that does not follow docs/formats.md; the message names file and line."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")
        self.path, self.line, self.problem = path, line, problem


def write_jsonl(path: Path, records: Iterable[Any]) -> int:
    """Write one JSON document per line; returns the count."""
    n = 0
    buf = bytearray()
    with path.open("wb") as f:
        for rec in records:
            _ENCODER.encode_into(rec, buf, len(buf))
            buf.extend(b"\n")
            n += 1
            if len(buf) > 1 << 20:
                f.write(buf)
                buf.clear()
        f.write(buf)
    return n


def iter_jsonl(path: Path, type_: type[T]) -> Iterator[T]:
    """Decode each non-blank line as type_, raising FormatError at the first bad line."""
    decoder = msgspec.json.Decoder(type_)
    with path.open("rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield decoder.decode(line)
            except msgspec.DecodeError as exc:
                raise FormatError(path, lineno, str(exc)) from None


def read_json(path: Path, type_: type[T]) -> T:
    try:
        return msgspec.json.decode(path.read_bytes(), type=type_)
    except msgspec.DecodeError as exc:
        raise FormatError(path, None, str(exc)) from None


def write_json(path: Path, obj: Any) -> None:
    path.write_bytes(msgspec.json.format(_ENCODER.encode(obj), indent=2) + b"\n")
