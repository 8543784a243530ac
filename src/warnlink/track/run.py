"""`warnlink track`: a measurement file through the tracker into estimates.jsonl."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from warnlink.formats.jsonl import read_json, write_jsonl
from warnlink.formats.records import Estimate, SensorCatalogue
from warnlink.track.estimates import EstimateMaker
from warnlink.track.inputs import InputReport, read_measurements, scans
from warnlink.track.tracker import Tracker, TrackerConfig, TrackUpdate


@dataclass
class TrackRun:
    inputs: InputReport
    estimates: int = 0
    tracks: set[str] = field(default_factory=set)
    confirmed: set[str] = field(default_factory=set)
    seconds: float = 0.0


def run_tracker(
    sensors_path: Path,
    measurements_path: Path,
    out_path: Path,
    config: TrackerConfig | None = None,
    batch_window_s: float = 1.0,
    progress: Callable[[int], None] | None = None,
) -> TrackRun:
    """Track a whole file; estimates are written as they are made (streaming)."""
    catalogue = read_json(sensors_path, SensorCatalogue)
    run = TrackRun(InputReport())
    tracker = Tracker(catalogue, config or TrackerConfig())
    maker = EstimateMaker()
    pending: list[TrackUpdate] = []
    start = time.perf_counter()

    def flush() -> list[Estimate]:
        records = maker.records(pending)
        for u in pending:
            run.tracks.add(u.track_id)
            if u.status == "confirmed":
                run.confirmed.add(u.track_id)
        pending.clear()
        run.estimates += len(records)
        return records

    def estimates() -> Iterator[Estimate]:
        feed = read_measurements(measurements_path, catalogue, run.inputs, progress)
        for scan in scans(feed):
            if pending and scan[0].t - pending[0].t >= batch_window_s:
                yield from flush()
            pending.extend(tracker.process(scan))
        pending.extend(tracker.finish())
        yield from flush()

    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(out_path, estimates())
    run.seconds = time.perf_counter() - start
    return run
