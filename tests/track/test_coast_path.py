"""The alerting's compiled coast (warnlink.track.coast_path) against the truth's integrator.

physics.propagate.coast (numpy RK4) is the reference, with 0.1 s steps in the air so that
it is the more accurate of the two even low in dense air: the paths must land at the same
place and time within metres, including where fixed 2 s steps would diverge, and hold
where they landed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warnlink.geo.frames import ecef_to_eci, enu_basis, geodetic_to_ecef
from warnlink.physics.integrate import hermite
from warnlink.physics.propagate import coast
from warnlink.track.coast_path import coast_path

T0 = 100.0
REFERENCE_DT_S = 0.1
HORIZON_S = 3600.0


def _state(lat: float, lon: float, alt: float, speed: float, gamma_deg: float, az_deg: float):
    r = geodetic_to_ecef(lat, lon, alt)
    basis = enu_basis(np.array([lat]), np.array([lon]))[0]
    g, a = np.radians(gamma_deg), np.radians(az_deg)
    v = basis.T @ (speed * np.array([np.cos(g) * np.sin(a), np.cos(g) * np.cos(a), np.sin(g)]))
    return ecef_to_eci(T0, r[None], v[None])


def _grid(step: float = 4.0) -> np.ndarray:
    return np.append(np.arange(T0, T0 + HORIZON_S, step), T0 + HORIZON_S)


@settings(max_examples=60, deadline=None)
@given(
    lat=st.floats(20, 50), lon=st.floats(110, 150), alt=st.floats(500.0, 1.2e6),
    speed=st.floats(300.0, 7000.0), gamma=st.floats(-60, 60), az=st.floats(0, 360),
    beta=st.sampled_from([np.inf, 500.0, 5000.0, 50000.0]),
)  # fmt: skip
def test_lands_where_the_truth_integrator_lands(lat, lon, alt, speed, gamma, az, beta) -> None:
    r, v = _state(lat, lon, alt, speed, gamma, az)
    (arc,) = coast(T0, r, v, t_stop=T0 + HORIZON_S, beta=beta, dt_fine=REFERENCE_DT_S)
    path = coast_path(T0, r, v, 1.0 / beta, _grid())
    assert path.landed[0] == arc.at_surface
    if arc.at_surface:
        assert abs(path.t_land[0] - arc.t[-1]) < 0.05
    # the last grid position is the landing point (or the state at the horizon)
    assert np.linalg.norm(path.r_eci[0, -1] - arc.r[-1]) < 30.0


def test_every_grid_position_follows_the_truth_and_stays_where_it_landed() -> None:
    r, v = _state(39.0, 127.5, 60e3, 3000.0, 35.0, 80.0)  # an SRBM after burnout
    (arc,) = coast(T0, r, v, t_stop=T0 + HORIZON_S, beta=3000.0, dt_fine=REFERENCE_DT_S)
    path = coast_path(T0, r, v, 1.0 / 3000.0, _grid())
    assert path.landed[0] and 300.0 < path.t_land[0] - T0 < 700.0
    before = path.t < path.t_land[0]
    y = np.concatenate([arc.r, arc.v], axis=1)
    j = np.clip(np.searchsorted(arc.t, path.t[before], side="right") - 1, 0, len(arc.t) - 2)
    dt = arc.t[j + 1] - arc.t[j]
    truth = hermite(y[j], y[j + 1], dt, (path.t[before] - arc.t[j]) / dt)
    assert np.max(np.linalg.norm(path.r_eci[0, before] - truth, axis=1)) < 10.0
    after = path.r_eci[0, ~before]
    assert len(after) > 100 and np.all(after == after[0])
    assert np.linalg.norm(after[0] - arc.r[-1]) < 10.0


def test_rows_fly_independently_and_one_below_the_surface_is_down_at_once() -> None:
    up = _state(39.0, 127.5, 60e3, 3000.0, 35.0, 80.0)
    under = _state(40.0, 135.0, -1500.0, 6000.0, -40.0, 90.0)  # predicted on past its fall
    r = np.concatenate([up[0], under[0]])
    v = np.concatenate([up[1], under[1]])
    both = coast_path(T0, r, v, [1.0 / 3000.0, 0.0], _grid())
    alone = coast_path(T0, *up, 1.0 / 3000.0, _grid())
    np.testing.assert_array_equal(both.r_eci[0], alone.r_eci[0])
    assert both.t_land[1] == T0
    assert np.all(both.r_eci[1] == under[0][0])


def test_a_grid_of_one_time_is_the_start_and_a_bad_grid_is_refused() -> None:
    r, v = _state(39.0, 127.5, 60e3, 3000.0, 35.0, 80.0)
    one = coast_path(T0, r, v, 0.0, [T0])
    np.testing.assert_array_equal(one.r_eci[0, 0], r[0])
    assert not one.landed[0]
    for bad in ([T0 + 1.0, T0 + 5.0], [T0, T0 + 5.0, T0 + 5.0], [], [[T0]]):
        with pytest.raises(ValueError, match="grid"):
            coast_path(T0, r, v, 0.0, bad)
