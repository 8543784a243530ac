"""Powered-flight templates: the generic vehicles flown once and tabulated, for launch estimates.

Each ballistic class is flown minimum-energy over its range envelope (east and west, so
that the Earth's rotation is spanned) and lofted at short ranges up to nearly its top
speed (the profile of most real test flights). For every flight the powered samples and
the burnout are tabulated as height, ground speed, flight-path angle, downrange from the
pad and time since launch. Flying takes seconds, so the tables are shipped in
data/templates.json (written by write_templates, checked against a fresh flight by the
tests) and flown only if that file is missing or is for other flights.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from warnlink.geo.frames import R_MEAN, ecef_to_geodetic, enu_basis
from warnlink.physics import kepler
from warnlink.physics.flight import fly
from warnlink.physics.vehicles import VEHICLES, reach_problem
from warnlink.scenario.load import destination
from warnlink.scenario.model import Flight

F64 = NDArray[np.float64]

CLASSES = ("srbm", "mrbm", "irbm", "icbm")
RANGES_PER_CLASS = 4
TEMPLATE_SITE = (40.0, 127.0)
TEMPLATE_AZIMUTHS = (90.0, 270.0)
LOFT_RANGES = (0.08, 0.25, 0.5)  # of the class's maximum range
LOFT_SPEEDS = (0.85, 0.97)  # of the class's top Keplerian speed
DATA_FILE = Path(__file__).parent / "data" / "templates.json"
DECIMALS = (2, 4, 8, 2, 4)  # rounding of the shipped columns: cm, 0.1 mm/s, 10 nrad, cm, 0.1 ms


@dataclass(frozen=True)
class Templates:
    """Per template flight: burnout (h, speed, gamma, downrange, time) and powered samples."""

    bo: F64  # (F, 5) height m, ECEF speed m/s, flight-path angle rad, downrange m, time s
    powered: F64  # (S, 5) the same columns for every powered sample
    flight: NDArray[np.intp]  # (S,) template flight of each powered sample


def kinematics(r_ecef: F64, v_ecef: F64) -> tuple[F64, F64, F64, F64, F64, F64]:
    """Latitude, longitude, height, speed, flight-path angle, ground-track azimuth (rad)."""
    lat, lon, h = ecef_to_geodetic(r_ecef)
    enu = np.einsum("...ij,...j->...i", enu_basis(lat, lon), v_ecef)
    speed = np.linalg.norm(v_ecef, axis=-1)
    gamma = np.arcsin(np.clip(enu[..., 2] / np.maximum(speed, 1e-9), -1.0, 1.0))
    return lat, lon, h, speed, gamma, np.arctan2(enu[..., 0], enu[..., 1])


def _template_flights() -> list[Flight]:
    """Minimum-energy flights over each class's range envelope, east and west, and lofted
    ones (short range, up to nearly the class's top speed) towards the east."""
    plans: list[tuple[str, float, float, str, float | None]] = []
    for cls in CLASSES:
        veh = VEHICLES[cls]
        span = veh.max_range_m - veh.min_range_m  # inset: the envelope is checked on a sphere
        lo, hi = veh.min_range_m + 0.02 * span, veh.max_range_m - 0.02 * span
        for rng in np.linspace(lo, hi, RANGES_PER_CLASS):
            plans += [(cls, float(rng), az, "minimum-energy", None) for az in TEMPLATE_AZIMUTHS]
        for frac, speed in itertools.product(LOFT_RANGES, LOFT_SPEEDS):
            psi = frac * veh.max_range_m / R_MEAN
            apogee = brentq(
                lambda a, p=psi, v=speed * veh.max_speed_mps: (
                    kepler.speed_for_apogee(R_MEAN, p, a) - v
                ),
                float(kepler.min_energy_apogee(R_MEAN, psi)) + 1.0,
                20 * R_MEAN,
            )
            plans.append((cls, frac * veh.max_range_m, 90.0, "lofted", float(apogee)))
    flights = []
    for cls, rng, az, profile, apogee in plans:
        tlat, tlon = destination(*TEMPLATE_SITE, rng, az)
        name = f"{cls}-{rng:.0f}-{az:.0f}-{profile}-{apogee or 0:.0f}"
        fl = Flight(
            name, name, TEMPLATE_SITE[0], TEMPLATE_SITE[1], 0.0, 0.0, cls,  # type: ignore[arg-type]
            profile, apogee_m=apogee, target_lat_deg=tlat, target_lon_deg=tlon,  # type: ignore[arg-type]
        )  # fmt: skip
        if reach_problem(fl) is None:
            flights.append(fl)
    return flights


def fly_templates() -> Templates:
    """Fly the template flights (seconds) and tabulate them."""
    flights = _template_flights()
    truth = fly(flights)
    bo, powered, which = [], [], []
    burnouts = {e.flight_id: e.t for e in truth.events_of("burnout")}
    for j, fl in enumerate(flights):
        track = truth.object(f"{fl.id}/RV")
        keep = track.t <= burnouts[fl.id] + 1e-6
        lat, lon, h, speed, gamma, _ = kinematics(track.r[keep], track.v[keep])
        down = kepler.great_circle(*TEMPLATE_SITE, lat, lon)[0] * R_MEAN
        rows = np.stack([h, speed, gamma, down, track.t[keep]], axis=1)
        powered.append(rows)
        which.append(np.full(len(rows), j))
        bo.append(rows[-1])
    return Templates(np.array(bo), np.concatenate(powered), np.concatenate(which))


def _flight_names() -> list[str]:
    return [fl.id for fl in _template_flights()]


def write_templates(path: Path = DATA_FILE) -> None:
    """Fly the templates and write the shipped table: per flight, its powered samples."""
    tpl = fly_templates()
    cols = [
        [
            [round(float(v), d) for v in tpl.powered[tpl.flight == j, c]]
            for c, d in enumerate(DECIMALS)
        ]
        for j in range(len(tpl.bo))
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "flights": _flight_names(),
        "columns": ["h", "speed", "gamma", "down", "t"],
        "powered": cols,
    }
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")


def read_templates(path: Path = DATA_FILE) -> Templates | None:
    """The shipped table, or None if missing or made for other template flights."""
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    if doc.get("flights") != _flight_names():
        return None
    powered = [np.array(f, float).T for f in doc["powered"]]
    which = np.concatenate([np.full(len(p), j, np.intp) for j, p in enumerate(powered)])
    return Templates(np.array([p[-1] for p in powered]), np.concatenate(powered), which)


@lru_cache(maxsize=1)
def templates() -> Templates:
    """The shipped template table (or, if stale, the template flights flown), cached."""
    return read_templates() or fly_templates()


if __name__ == "__main__":
    write_templates()
