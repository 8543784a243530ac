"""Covariance → confidence ellipse: the maths every impact and launch ellipse relies on."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2

from warnlink.formats.records import Ellipse
from warnlink.track.ellipse import cov_of_ellipse, ellipse_of, ground_point, weighted_ground_point

sigmas = st.floats(1.0, 1e5)
angles = st.floats(0.0, np.pi)
confidences = st.floats(0.5, 0.999)


def _cov(s1: float, s2: float, a: float) -> np.ndarray:
    u = np.array([np.sin(a), np.cos(a)])
    w = np.array([np.cos(a), -np.sin(a)])
    return s1**2 * np.outer(u, u) + s2**2 * np.outer(w, w)


@settings(max_examples=300)
@given(sigmas, sigmas, angles, confidences)
def test_axes_are_scaled_root_eigenvalues(s1: float, s2: float, a: float, conf: float) -> None:
    c = _cov(s1, s2, a)
    e = ellipse_of(c, conf)
    vals = np.linalg.eigvalsh(c)
    k = np.sqrt(chi2.ppf(conf, 2))
    assert np.isclose(e.semi_major_m, np.sqrt(vals[1]) * k, rtol=1e-6)
    assert np.isclose(e.semi_minor_m, np.sqrt(max(vals[0], 0.0)) * k, rtol=1e-6, atol=1e-6)
    assert 0.0 <= e.orientation_deg < 180.0
    assert e.confidence == conf


@settings(max_examples=300)
@given(sigmas, sigmas, angles)
def test_orientation_is_major_axis_azimuth(s1: float, s2: float, a: float) -> None:
    e = ellipse_of(_cov(max(s1, s2) * 1.5, min(s1, s2), a))
    diff = abs(e.orientation_deg - np.degrees(a)) % 180.0
    assert min(diff, 180.0 - diff) < 1e-6


@settings(max_examples=300)
@given(sigmas, sigmas, angles, confidences)
def test_round_trip(s1: float, s2: float, a: float, conf: float) -> None:
    c = _cov(s1, s2, a)
    back = cov_of_ellipse(ellipse_of(c, conf))
    assert np.allclose(back, c, rtol=1e-6, atol=1e-9 * max(s1, s2) ** 2)


def test_known_ellipse() -> None:
    # 3 km east, 1 km north: major axis east (azimuth 90), chi2(0.95, 2) = 5.991
    e = ellipse_of(np.diag([9e6, 1e6]), 0.95)
    assert np.isclose(e.semi_major_m, 3000.0 * np.sqrt(5.991465), rtol=1e-6)
    assert np.isclose(e.orientation_deg, 90.0)
    assert cov_of_ellipse(Ellipse(1.0, 1.0, 0.0, 0.95)).shape == (2, 2)


def test_ground_point_and_weighted_samples() -> None:
    gp = ground_point(10.0, 1.0, 40.0, 140.0, np.array([[4.0, 1.0], [1.0, 9.0]]), 0.9)
    assert gp.cov_en_m2 == (4.0, 9.0, 1.0)
    # samples 1 km east and west of a point on the equator at lon 0: variance 1e6 east
    r = np.array([[6378137.0, 1000.0, 0.0], [6378137.0, -1000.0, 0.0]])
    wp = weighted_ground_point(np.array([1.0, 3.0]), r, np.array([1.0, 1.0]), 0.95)
    assert np.isclose(wp.cov_en_m2[0], 1e6, rtol=1e-6) and abs(wp.cov_en_m2[1]) < 1e-3
    assert np.isclose(wp.t, 2.0) and np.isclose(wp.t_sigma_s, 1.0)
    assert abs(wp.lat_deg) < 1e-9 and abs(wp.lon_deg) < 1e-9
    # about a centre sample: the point and time are its, the moments are about it
    r3 = np.array([[6378137.0, 0.0, 0.0], [6378137.0, 1000.0, 0.0], [6378137.0, 3000.0, 0.0]])
    cp = weighted_ground_point(np.array([5.0, 4.0, 8.0]), r3, np.array([2.0, 1.0, 1.0]), 0.95, 0)
    assert abs(cp.lat_deg) < 1e-9 and abs(cp.lon_deg) < 1e-9 and cp.t == 5.0
    assert np.isclose(cp.cov_en_m2[0], (1000.0**2 + 3000.0**2) / 4, rtol=1e-6)
    assert np.isclose(cp.t_sigma_s, np.sqrt((1.0 + 9.0) / 4))
