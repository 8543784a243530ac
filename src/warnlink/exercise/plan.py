"""What the supervisor tells each party process, and the records the parties write back.

The supervisor and the party processes share nothing but files: a plan (JSON) in, and
JSON Lines out that the supervisor tails for the live timeline and scores at the end.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from warnlink.formats.records import Estimate

PLAN = "plan.json"
OWN = "own.jsonl"  # the party's own tracker estimates (docs/formats.md estimates records)
FUSED = "fused.jsonl"  # FusedRecord
RECEIVED = "received.jsonl"  # ReceivedRecord
EVENTS = "events.jsonl"  # TimelineEvent
ALERTS = "alerts.jsonl"  # AlertRecord; the CAP documents themselves in CAP_DIR
CAP_DIR = "cap"  # alerts.atom and alerts/{id}.xml (warnlink.alert.feed.write_feed)
DONE = "done.json"  # PartySummary, written last
CONSULT = "consult.jsonl"  # ConsultRecord
CONSULT_DIR = "consult"  # the party's channel: consult.db, decisions.db, devices/


class ConsultPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The party's consultation channel in a shared exercise (set up by the supervisor
    under CONSULT_DIR, the devices' passphrase in the environment, PASSPHRASE_ENV).

    Times are scenario seconds; the channel's clock is wall time, so the party divides
    them by the speed (a principal paged at 5x has a fifth of the wall time to answer)."""

    consultation: str
    members: list[str]
    keeper: str  # the party that keeps the decision log
    principals: list[str]  # this party's, in rank order: leader, then alternates
    ack_timeout_s: float = 30.0  # each principal's time to acknowledge before the next is paged
    ack_delay_s: float = 8.0  # the simulated principals acknowledge and approve after this
    silent_leader: str | None = None  # the party whose leader never answers (escalation)
    test_interval_s: float = 30.0  # between hotline tests
    # wall seconds (not scaled): a test measures the channel, which runs at wall speed
    test_timeout_wall_s: float = 10.0


class PartyPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    party: str
    partners: list[str]  # every other party of the exercise
    data: str  # the party's directory: its node's database and every output
    sensors: str  # catalogue of its own sensors
    measurements: str  # its own sensors' measurements only
    pki: str | None  # None, with hub None: the party works alone
    hub: str | None  # HOST:PORT of its link to the hub
    release_tracks: list[str]  # who receives its track reports
    release_estimates: list[str]  # who also receives its launch and impact estimates
    t_start: float  # scenario time at the start instant
    t_end: float  # scenario time at which the party stops
    speed: float  # scenario seconds per wall second the supervisor aims at
    confidence: float = 0.95
    # launch/impact prediction per track: sigma points flown to the ground are most of a
    # party's computing, and a warning decision needs no fresher estimate than this
    predict_interval_s: float = 2.0
    epoch: str = "1970-01-01T00:00:00+00:00"  # UTC instant of scenario time 0 (CAP times)
    # the party's public-alerting policy (warnlink.alert.policy fields); None: it issues none
    alert_policy: dict[str, Any] | None = None
    tak: str | None = None  # HOST:PORT of a TAK server (plain TCP) to stream the picture to
    consult: ConsultPlan | None = None  # its consultation channel (sharing only)


class FusedRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One system track of a party's fused picture, as known at scenario time `known_t`."""

    wall: float
    known_t: float
    system_id: str
    parties: list[str]  # parties whose tracks are fused into it
    contributors: list[tuple[str, str]]  # (party, track)
    measured_wall: float  # newest measurement behind it reached its origin's tracker then
    estimate: Estimate


class ReceivedRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A partner's message as this party's application received it."""

    wall: float
    known_t: float
    origin: str
    kind: str  # exchange kind name
    label: list[str]  # the releasability label it carried
    track: str
    t: float  # scenario time of the reported state
    ecef_m: list[float]  # reported position, so the report can be matched to the truth
    measured_wall: float  # when the newest measurement behind it reached its origin's tracker
    has_estimates: bool


class AlertRegion(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    region: str  # ISO 3166-2
    stage: str  # of the message part naming it (warnlink.alert.texts.Stage)
    why: list[str]  # impact, overflight, launch, neighbour


class AlertRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A public warning message a party issued (its CAP document is CAP_DIR/alerts/{id}.xml)."""

    wall: float  # when it was issued (rendered and validated)
    picture_wall: float  # when the fused picture that caused it was started
    known_t: float  # scenario time of that picture
    id: str
    msg_type: str  # Alert, Update, Cancel
    stage: str
    track: str  # the system track it is about
    references: int
    regions: list[AlertRegion]


EventKind = Literal[
    "confirmed",  # first own confirmed track
    "own-impact",  # first own impact estimate
    "report",  # first report received from a partner
    "fused-track",  # first fused system track: launch detected
    "fused-impact",  # first fused impact estimate
    "link",  # connection to the hub up or down
    "held",  # the supervisor held the clock for the party's computing
    "alert",  # a public warning message issued (CAP Alert, Update or Cancel)
    "consult",  # the consultation: convened, acknowledged, escalated, alarms, decisions
    "done",
]


class TimelineEvent(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    wall: float
    t: float  # scenario time
    party: str
    kind: EventKind
    text: str


ConsultWhat = Literal[
    "convened", "acknowledged", "escalated", "alarm", "restored", "proposed", "signed", "logged"
]


class ConsultRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the party's channel did or saw, for the metrics (the timeline says it in words)."""

    wall: float
    t: float  # scenario time (granted) when it happened
    what: ConsultWhat
    request: str = ""  # of a convening; the proposal of a decision
    who: str = ""  # convened: the device; acknowledged, escalated: the principal; alarm: party
    after_s: float | None = None  # acknowledged: scenario seconds after the convening
    detail: str = ""  # convened: the reason; alarm: reason and detail; logged: the index


class PartySummary(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    party: str
    measurements: int
    rejected: int
    own_estimates: int
    fused_records: int
    received: int
    published: int
    processing_s: float  # CPU the tracker, fusion and alerting took
    alerts: int = 0  # public warning messages issued
