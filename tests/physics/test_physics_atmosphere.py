"""US Standard Atmosphere 1976 density against independent implementations and the standard."""

from __future__ import annotations

import numpy as np
import pytest
from ambiance import Atmosphere
from hypothesis import given, settings
from hypothesis import strategies as st

from warnlink.physics.atmosphere import density

# Densities printed in the standard (NOAA-S/T 76-1562, Table I), kg/m^3 at geometric km:
# the layered region, one point between our upper table nodes (89 km) and some nodes.
PUBLISHED = {
    0.0: 1.2250,
    10.0: 4.1351e-1,
    15.0: 1.9476e-1,
    20.0: 8.8910e-2,
    25.0: 4.0084e-2,
    35.0: 8.4634e-3,
    49.0: 1.1628e-3,
    60.0: 3.0968e-4,
    75.0: 3.9921e-5,
    89.0: 4.081e-6,
    100.0: 5.604e-7,
    200.0: 2.541e-10,
    500.0: 5.215e-13,
    1000.0: 3.561e-15,
}


def test_layers_match_ambiance() -> None:
    """-5 to 81 km against the ambiance package (its valid range): same defining constants.
    Below sea level (an impact refinement digs a few metres) the first layer continues."""
    z = np.linspace(-5000.0, 81_000.0, 431)
    ref = Atmosphere(z).density
    assert np.max(np.abs(density(z) / ref - 1.0)) < 2e-5


@pytest.mark.parametrize(("z_km", "rho"), sorted(PUBLISHED.items()))
def test_published_values(z_km: float, rho: float) -> None:
    """The standard's own table (rounded to 4-5 digits there)."""
    assert density(z_km * 1e3) == pytest.approx(rho, rel=2e-4)


@settings(max_examples=300, deadline=None)
@given(st.floats(-5000.0, 1000e3), st.floats(1e-3, 50e3))
def test_positive_and_decreasing(z: float, dz: float) -> None:
    lower, upper = density(np.array([z, z + dz]))
    assert upper > 0.0
    assert upper < lower


def test_vectorised_shapes() -> None:
    z = np.linspace(0.0, 2000e3, 12).reshape(3, 4)
    rho = density(z)
    assert rho.shape == (3, 4)
    assert np.all(rho > 0.0)
