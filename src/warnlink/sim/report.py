"""The terminal summary of a simulation run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.console import Console

from warnlink.sim.run import Simulation
from warnlink.tables import table


def print_summary(
    console: Console, sim: Simulation, paths: dict[str, Path], pngs: list[Path]
) -> None:
    sc = sim.scenario
    console.print(f"[bold]{sc.name}[/]  ({len(sc.flights())} flights, {len(sc.sensors)} sensors)")
    events = table("Flight events", ("event", "object"), ("t [s]", "lat", "lon", "alt [km]"))
    for e in sorted(sim.truth.events, key=lambda e: e.t):
        if e.kind in ("launch", "burnout", "apogee", "impact", "orbit"):
            events.add_row(
                e.kind,
                e.object_id,
                f"{e.t:8.1f}",
                f"{e.lat_deg:7.3f}",
                f"{e.lon_deg:8.3f}",
                f"{e.alt_m / 1e3:8.1f}",
            )
    console.print(events)
    per_sensor = Counter({b.sensor_id: len(b.t) for b in sim.batches})
    sensors = table("Measurements per sensor", ("sensor",), ("count", "false alarms"))
    for b in sim.batches:
        sensors.add_row(b.sensor_id, str(per_sensor[b.sensor_id]), str(int((b.truth < 0).sum())))
    console.print(sensors)
    timing = ", ".join(f"{k} {v:.2f} s" for k, v in sim.timings_s.items())
    console.print(f"computed in {timing}")
    console.print(f"run directory: [bold]{paths['manifest'].parent}[/]")
    for p in pngs:
        console.print(f"plot: {p}")
