"""Cursor-on-Target output for TAK clients: events (tracks, impact ellipses, launch
points, alert areas) and a streamer to a TAK server. See docs/cot.md."""

from warnlink.cot.events import (
    CotEvent,
    CotOptions,
    Style,
    alert_cancel_event,
    alert_events,
    estimate_events,
    impact_event,
    launch_event,
    track_event,
)
from warnlink.cot.stream import CotStreamer, EventQueue, TakServer, replay_estimates, tls_context

__all__ = [
    "CotEvent",
    "CotOptions",
    "CotStreamer",
    "EventQueue",
    "Style",
    "TakServer",
    "alert_cancel_event",
    "alert_events",
    "estimate_events",
    "impact_event",
    "launch_event",
    "replay_estimates",
    "tls_context",
    "track_event",
]
