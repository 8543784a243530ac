"""Every party's own pipeline in one process: its sensors' measurements, its tracker and
estimates, its shared reports, batch by batch in scenario time.

The exercise runs parties as separate processes through the hub; this is the same
pipeline without the network, for tests, benchmarks and side-by-side comparisons of
sharing and not sharing on one simulation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from warnlink.evaluate.pictures import PictureRow
from warnlink.formats.records import Measurement, SensorCatalogue
from warnlink.fusion.fuser import FusedTrack, Fuser
from warnlink.fusion.report import SharedTrack, shared_tracks
from warnlink.track.estimates import EstimateMaker
from warnlink.track.tracker import Tracker, TrackerConfig

Key = tuple[str, str]  # (party, track)


@dataclass
class Replay:
    """Reports of all parties per batch, and which measurements fed each party's track."""

    batches: list[tuple[float, list[SharedTrack]]] = field(default_factory=list)  # (end, reports)
    fed_by: dict[Key, list[str]] = field(default_factory=dict)  # track -> measurement ids

    def parties(self) -> list[str]:
        return sorted({k[0] for k in self.fed_by})

    def pictures(self, party: str, sharing: bool) -> list[tuple[float, list[FusedTrack]]]:
        """A party's picture after every batch: fused from every party's reports (as if all
        were released to it), or from its own alone (what it knows without sharing)."""
        fuser = Fuser(party)
        out = []
        for t, reports in self.batches:
            for r in reports:
                if sharing or r.party == party:
                    fuser.add(r)
            fuser.processed(t)
            out.append((t, fuser.picture(t)))
        return out


def picture_rows(pictures: Iterable[tuple[float, list[FusedTrack]]]) -> list[PictureRow]:
    """Pictures as rows for scoring (warnlink.evaluate.pictures)."""
    return [
        PictureRow(f.t, f.contributors, f.estimate.launch, f.estimate.impact)
        for _, picture in pictures
        for f in picture
    ]


def party_catalogue(catalogue: SensorCatalogue, party: str) -> SensorCatalogue:
    """The sensors one party owns."""
    return SensorCatalogue(catalogue.epoch, [s for s in catalogue.sensors if s.party == party])


def replay(
    catalogue: SensorCatalogue,
    measurements: Sequence[Measurement],
    batch_s: float = 1.0,
    t_stop: float = float("inf"),
    config: TrackerConfig | None = None,
) -> Replay:
    """Run each party's tracker on its own sensors' measurements (time-ordered) up to
    t_stop, in batches of batch_s of scenario time, as `warnlink track` batches them."""
    party_of = {s.id: s.party for s in catalogue.sensors}
    parties = sorted(set(party_of.values()))
    cfg = config or TrackerConfig()
    trackers = {p: Tracker(party_catalogue(catalogue, p), cfg) for p in parties}
    makers = {p: EstimateMaker() for p in parties}
    out = Replay()
    i, end = 0, batch_s
    feed = [m for m in measurements if m.t < t_stop]
    while i < len(feed):
        j = i
        while j < len(feed) and feed[j].t < end:
            j += 1
        reports: list[SharedTrack] = []
        for p in parties:
            updates = trackers[p].process([m for m in feed[i:j] if party_of[m.sensor] == p])
            for u in updates:
                fed = out.fed_by.setdefault((p, u.track_id), [])
                if u.measurement_id is not None:
                    fed.append(u.measurement_id)
            reports.extend(shared_tracks(p, updates, makers[p].records(updates)))
        out.batches.append((end, reports))
        i, end = j, end + batch_s
    return out
