"""Truth and events files: writing a Truth and reading it back."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from warnlink.formats.jsonl import FormatError, iter_jsonl, write_jsonl
from warnlink.formats.records import EventRecord, TruthSample, vec3
from warnlink.geo.frames import ecef_to_geodetic
from warnlink.physics.truth import Event, ObjectTrack, Truth


def sample_times(obj: ObjectTrack, interval_s: float) -> np.ndarray:
    """Grid times of `interval_s` inside the object's life, plus its exact first and last."""
    k0 = np.ceil(obj.t_start / interval_s)
    k1 = np.floor(obj.t_end / interval_s)
    grid = np.arange(k0, k1 + 1) * interval_s
    return np.unique(np.concatenate([[obj.t_start], grid, [obj.t_end]]))


def truth_samples(truth: Truth, interval_s: float) -> Iterator[TruthSample]:
    """Samples of every object, ordered by time, then object."""
    per_object = []
    for obj in truth.objects:
        t = sample_times(obj, interval_s)
        r, v, burning, _ = obj.state_at(t)
        lat, lon, alt = ecef_to_geodetic(r)
        per_object.append((obj, t, r, v, burning, lat, lon, alt))
    rows = [
        (float(t[i]), obj.object_id, i, k)
        for k, (obj, t, *_rest) in enumerate(per_object)
        for i in range(len(t))
    ]
    rows.sort(key=lambda row: (row[0], row[1]))
    for _, _, i, k in rows:
        obj, t, r, v, burning, lat, lon, alt = per_object[k]
        yield TruthSample(
            t=float(t[i]),
            object=obj.object_id,
            flight=obj.flight_id,
            launch=obj.launch_id,
            kind=obj.kind,
            ecef_m=vec3(r[i]),
            vel_mps=vec3(v[i]),
            lat_deg=float(lat[i]),
            lon_deg=float(lon[i]),
            alt_m=float(alt[i]),
            burning=bool(burning[i]),
        )


def event_records(truth: Truth) -> list[EventRecord]:
    return [
        EventRecord(
            t=e.t,
            kind=e.kind,
            flight=e.flight_id,
            object=e.object_id,
            lat_deg=e.lat_deg,
            lon_deg=e.lon_deg,
            alt_m=e.alt_m,
            details=dict(e.details),
        )
        for e in sorted(truth.events, key=lambda e: (e.t, e.object_id))
    ]


def write_truth(truth: Truth, truth_path: Path, events_path: Path, interval_s: float) -> int:
    write_jsonl(events_path, event_records(truth))
    return write_jsonl(truth_path, truth_samples(truth, interval_s))


def read_truth(truth_path: Path, events_path: Path) -> Truth:
    """Rebuild a Truth from its files (sampled, so interpolation is coarser than in memory)."""
    samples: dict[str, list[TruthSample]] = defaultdict(list)
    for s in iter_jsonl(truth_path, TruthSample):
        samples[s.object].append(s)
    events = [
        Event(e.t, e.kind, e.flight, e.object, e.lat_deg, e.lon_deg, e.alt_m, dict(e.details))
        for e in iter_jsonl(events_path, EventRecord)
    ]
    ends = {e.object_id: e.kind for e in events if e.kind in ("impact", "orbit")}
    objects = []
    for oid, rows in samples.items():
        if len(rows) < 2:
            raise FormatError(truth_path, None, f"object {oid} has fewer than two samples")
        t = np.array([s.t for s in rows])
        if np.any(np.diff(t) <= 0):
            raise FormatError(truth_path, None, f"samples of object {oid} are not in time order")
        end = ends.get(oid)
        objects.append(
            ObjectTrack(
                object_id=oid,
                flight_id=rows[0].flight,
                launch_id=rows[0].launch,
                kind=rows[0].kind,
                t=t,
                r=np.array([s.ecef_m for s in rows]),
                v=np.array([s.vel_mps for s in rows]),
                burning=np.array([s.burning for s in rows]),
                ended_by="impact" if end == "impact" else "orbit" if end == "orbit" else "end",
            )
        )
    return Truth(objects=objects, events=events)
