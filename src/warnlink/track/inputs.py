"""Validated reading of a measurement feed: every bad line is rejected and counted, with a
reason, and never reaches the tracker; nothing in a feed can crash it.

The feed may come from any source that follows docs/formats.md, so nothing is assumed
beyond that page: lines are checked for form (JSON, fields, types), for sense (a known
sensor of the right type, finite values, a unit line of sight, elevation within ±90°,
positive range) and for time order (a measurement older than one already accepted is
rejected: the tracker cannot go back in time).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from warnlink.formats.records import (
    InfraredEntry,
    Measurement,
    RadarEntry,
    RadarMeasurement,
    SensorCatalogue,
)

MAX_EXAMPLES = 20
LOS_NORM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Rejection:
    line: int
    # malformed, unknown-sensor, wrong-sensor-type, invalid-value, out-of-order, duplicate-id
    reason: str
    detail: str


@dataclass
class InputReport:
    """What was read: counts, and the first rejections as examples for the operator."""

    lines: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    examples: list[Rejection] = field(default_factory=list)

    def reject(self, line: int, reason: str, detail: str) -> None:
        self.rejected[reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(Rejection(line, reason, detail))


def _problem(
    m: Measurement, catalogue: dict[str, RadarEntry | InfraredEntry]
) -> tuple[str, str] | None:
    sensor = catalogue.get(m.sensor)
    if sensor is None:
        return "unknown-sensor", f"sensor {m.sensor!r} is not in the sensor catalogue"
    if isinstance(m, RadarMeasurement):
        if not isinstance(sensor, RadarEntry):
            return "wrong-sensor-type", f"radar measurement from {sensor.id}, which is infrared"
        values = [m.t, m.range_m, m.az_deg, m.el_deg]
        if m.range_rate_mps is not None:
            values.append(m.range_rate_mps)
        if not all(math.isfinite(v) for v in values):
            return "invalid-value", "a value is not finite"
        if m.range_m <= 0.0:
            return "invalid-value", f"range {m.range_m} m is not positive"
        if not -90.0 <= m.el_deg <= 90.0:
            return "invalid-value", f"elevation {m.el_deg} deg is outside [-90, 90]"
        return None
    if not isinstance(sensor, InfraredEntry):
        return "wrong-sensor-type", f"infrared measurement from {sensor.id}, which is a radar"
    values = [m.t, *m.los, *m.sensor_ecef_m]
    if not all(math.isfinite(v) for v in values):
        return "invalid-value", "a value is not finite"
    norm = math.sqrt(sum(c * c for c in m.los))
    if abs(norm - 1.0) > LOS_NORM_TOLERANCE:
        return "invalid-value", f"line of sight has length {norm}, not 1"
    return None


def read_measurements(
    path: Path,
    catalogue: SensorCatalogue,
    report: InputReport,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Measurement]:
    """Yield the valid measurements of a JSON Lines file in order, rejecting the rest.

    `progress` is told the size in bytes of every line read, for a progress bar.
    """
    sensors = {s.id: s for s in catalogue.sensors}
    decoder = msgspec.json.Decoder(Measurement)
    seen: set[str] = set()
    last_t = -math.inf
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            if progress is not None:
                progress(len(raw))
            if not raw.strip():
                continue
            report.lines += 1
            try:
                m: Measurement = decoder.decode(raw)
            except msgspec.DecodeError as exc:
                report.reject(lineno, "malformed", str(exc))
                continue
            problem = _problem(m, sensors)
            if problem is None and m.id in seen:
                problem = ("duplicate-id", f"id {m.id!r} was already used")
            if problem is None and m.t < last_t:
                problem = ("out-of-order", f"t = {m.t} s is before {last_t} s, already accepted")
            if problem is not None:
                report.reject(lineno, *problem)
                continue
            seen.add(m.id)
            last_t = m.t
            report.accepted += 1
            yield m


def scans(measurements: Iterator[Measurement]) -> Iterator[list[Measurement]]:
    """Group consecutive measurements of one sensor at one time: a scan is associated jointly."""
    batch: list[Measurement] = []
    for m in measurements:
        if batch and (m.t != batch[0].t or m.sensor != batch[0].sensor):
            yield batch
            batch = []
        batch.append(m)
    if batch:
        yield batch
