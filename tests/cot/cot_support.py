"""Estimates and servers for the CoT tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from warnlink.formats.records import Estimate, GroundPoint, vec3
from warnlink.geo.frames import enu_basis, geodetic_to_ecef
from warnlink.track.ellipse import ground_point

EPOCH = datetime(2026, 12, 3, 5, 0, 0, tzinfo=UTC)


def impact_point(
    t: float, lat: float, lon: float, cov_en: tuple[float, float, float] = (4e6, 1e6, 5e5)
) -> GroundPoint:
    """A ground point with an east-north covariance [var_e, var_n, cov_en]."""
    ve, vn, c = cov_en
    return ground_point(t, 3.0, lat, lon, np.array([[ve, c], [c, vn]]), 0.95)


def estimate(
    *,
    t: float = 100.0,
    track: str = "T1",
    lat: float = 38.5,
    lon: float = 127.0,
    alt: float = 150e3,
    vel_enu: tuple[float, float, float] = (1000.0, 0.0, 500.0),
    pos_sigma_enu: tuple[float, float, float] = (300.0, 200.0, 100.0),
    status: str = "confirmed",
    impact: GroundPoint | None = None,
    launch: GroundPoint | None = None,
) -> Estimate:
    """An estimate at a geodetic place with an ENU velocity and a diagonal ENU covariance."""
    r = geodetic_to_ecef(lat, lon, alt)
    basis = enu_basis(lat, lon)  # rows e, n, u in ECEF
    v = basis.T @ np.asarray(vel_enu, float)
    cov = np.zeros((6, 6))
    cov[:3, :3] = basis.T @ np.diag(np.square(pos_sigma_enu)) @ basis
    cov[3:, 3:] = np.eye(3) * 100.0
    return Estimate(
        t=t,
        track=track,
        status=status,  # type: ignore[arg-type]
        measurement="m1",
        sensor="r1",
        phase="ballistic",
        boost_probability=0.01,
        ecef_m=vec3(r),
        vel_mps=vec3(v),
        cov_ecef=[float(x) for x in cov.ravel()],
        ballistic_coefficient_kg_m2=None,
        heading_deg=90.0,
        heading_sigma_deg=1.0,
        launch=launch,
        impact=impact,
        orbit=None,
        sources=["radar"],
    )


@dataclass
class Sink:
    """A loopback TCP server that collects what clients send (a stand-in TAK server)."""

    data: bytearray = field(default_factory=bytearray)
    server: asyncio.Server | None = None
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    connections: int = 0

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", port)
        return int(self.server.sockets[0].getsockname()[1])

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        while chunk := await reader.read(65536):
            self.data.extend(chunk)

    def events(self) -> list[bytes]:
        """Whole <event> documents received so far, each with its declaration."""
        docs = bytes(self.data).split(b"<?xml")
        return [b"<?xml" + d for d in docs[1:] if d.rstrip().endswith(b"</event>")]

    async def drop_clients(self) -> None:
        for w in self.writers:
            w.close()
        self.writers.clear()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.drop_clients()
            await self.server.wait_closed()
            self.server = None
