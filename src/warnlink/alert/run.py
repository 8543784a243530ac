"""`warnlink alert`: an estimates file through one authority's lifecycle into CAP files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from warnlink.alert.feed import AlertStore, write_feed
from warnlink.alert.lifecycle import AlertMessage, run_alerts
from warnlink.alert.policy import AlertPolicy
from warnlink.formats.jsonl import FormatError, iter_jsonl
from warnlink.formats.records import Estimate


@dataclass
class AlertRun:
    """What `warnlink alert` made: the messages, and the feed and alert files written."""

    messages: list[AlertMessage]
    paths: list[Path]


def find_epoch(estimates: Path) -> datetime:
    """The scenario epoch: from manifest.json or sensors.json beside the estimates file.

    estimates.jsonl holds scenario times only (docs/formats.md); CAP needs instants.
    """
    for name in ("manifest.json", "sensors.json"):
        p = estimates.parent / name
        if p.exists():
            try:
                return parse_epoch(json.loads(p.read_text(encoding="utf-8"))["epoch"])
            except (KeyError, ValueError) as exc:
                raise FormatError(p, None, f"no usable epoch: {exc}") from None
    raise ValueError(
        f"no manifest.json or sensors.json beside {estimates} to take the epoch from; give --epoch"
    )


def parse_epoch(text: str) -> datetime:
    """An ISO 8601 instant with a timezone (Z allowed)."""
    epoch = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if epoch.tzinfo is None:
        raise ValueError(f"epoch {text!r} has no timezone")
    return epoch


def run_alert_file(
    estimates: Path, policy: AlertPolicy, epoch: datetime, out: Path, exercise: bool
) -> AlertRun:
    """Read, run through the lifecycle to the end, validate and write the feed directory."""
    messages = run_alerts(iter_jsonl(estimates, Estimate), policy, epoch, exercise)
    store = AlertStore(title=f"WarnLink alerts: {policy.sender_name}")
    store.add(messages)
    return AlertRun(messages, write_feed(store, out))
