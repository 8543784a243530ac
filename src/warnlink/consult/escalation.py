"""Acknowledgement deadlines, and handing a consultation over to the next alternate.

In a crisis a party's leader may not answer: asleep, in transit, out of reach. A request
to consult must then go to the party's first alternate, then the next, within seconds
and without anyone deciding to. This is that rule as a pure state machine: it reads the
time only from the clock it is given and returns what should happen as actions, so a
driver (or a test with a fake clock) runs it, and it can be replayed exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class Notify:
    """Ask `principal` (of `rank` in `party`) to acknowledge by `deadline`."""

    party: str
    principal: str
    rank: int
    deadline: float


@dataclass(frozen=True)
class Acknowledged:
    party: str
    principal: str
    after: float
    """Seconds from the start of the request."""


@dataclass(frozen=True)
class Exhausted:
    """Nobody in `party` acknowledged in time: the last deadline passed."""

    party: str
    at: float


Action = Notify | Acknowledged | Exhausted


class Status(Enum):
    WAITING = "waiting"
    ACKNOWLEDGED = "acknowledged"
    EXHAUSTED = "exhausted"


@dataclass
class _Party:
    chain: list[str]
    step: int
    deadline: float
    status: Status
    by: str | None = None


class Escalation:
    """One request to consult, addressed to several parties, each with its chain of
    principals. Each principal has `timeout` seconds (one per step, the last repeated)
    to acknowledge before the request goes to the next one in the chain."""

    def __init__(
        self,
        chains: Mapping[str, Sequence[str]],
        timeout: float | Sequence[float],
        clock: Callable[[], float],
    ) -> None:
        self._timeouts = [float(timeout)] if isinstance(timeout, int | float) else list(timeout)
        if not self._timeouts or any(not t > 0 for t in self._timeouts):
            raise ValueError("acknowledgement timeouts must be positive")
        self._clock = clock
        self.started = clock()
        self._parties: dict[str, _Party] = {}
        self._start_actions: list[Action] = []
        for party, chain in sorted(chains.items()):
            if not chain:
                self._parties[party] = _Party([], 0, self.started, Status.EXHAUSTED)
                self._start_actions.append(Exhausted(party, self.started))
                continue
            st = _Party(list(chain), 0, self.started + self._timeout(0), Status.WAITING)
            self._parties[party] = st
            self._start_actions.append(Notify(party, st.chain[0], 0, st.deadline))

    def _timeout(self, step: int) -> float:
        return self._timeouts[min(step, len(self._timeouts) - 1)]

    def start(self) -> list[Action]:
        """The first notifications (once)."""
        out, self._start_actions = self._start_actions, []
        return out

    def poll(self) -> list[Action]:
        """Escalate every party whose deadline has passed, as often as it has: a late
        poll catches up, deadlines counting from the previous one, not from the poll."""
        now = self._clock()
        out: list[Action] = self.start()
        for party, st in self._parties.items():
            while st.status is Status.WAITING and now >= st.deadline:
                if st.step + 1 < len(st.chain):
                    st.step += 1
                    st.deadline += self._timeout(st.step)
                    out.append(Notify(party, st.chain[st.step], st.step, st.deadline))
                else:
                    st.status = Status.EXHAUSTED
                    out.append(Exhausted(party, st.deadline))
        return out

    def acknowledge(self, party: str, principal: str) -> list[Action]:
        """A principal of `party` acknowledged. Anyone in the chain may, also one not
        yet asked or one whose deadline passed (late is better than never); only the
        first acknowledgement counts. ValueError for a stranger."""
        st = self._parties.get(party)
        if st is None or principal not in st.chain:
            raise ValueError(f"{principal} of {party} is not in this request's chains")
        out = self.poll()
        if st.status is Status.ACKNOWLEDGED:
            return out
        st.status, st.by = Status.ACKNOWLEDGED, principal
        return [*out, Acknowledged(party, principal, self._clock() - self.started)]

    def status(self, party: str) -> Status:
        return self._parties[party].status

    def current(self, party: str) -> str | None:
        """Who is asked now (None if nobody can be)."""
        st = self._parties[party]
        return st.chain[st.step] if st.chain else None

    def acknowledged_by(self, party: str) -> str | None:
        return self._parties[party].by

    def parties(self) -> list[str]:
        return list(self._parties)

    def deadline(self, party: str) -> float:
        """When the principal asked now must have acknowledged (for a countdown)."""
        return self._parties[party].deadline

    def next_deadline(self) -> float | None:
        """When `poll` next has something to do: for the driver's timer."""
        waiting = [st.deadline for st in self._parties.values() if st.status is Status.WAITING]
        return min(waiting, default=None)

    @property
    def done(self) -> bool:
        return all(st.status is not Status.WAITING for st in self._parties.values())
