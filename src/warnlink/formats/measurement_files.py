"""Measurement, label and sensor-catalogue files from the sensor models' batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from warnlink.formats.records import (
    InfraredEntry,
    InfraredMeasurement,
    Label,
    Measurement,
    RadarEntry,
    RadarMeasurement,
    SensorCatalogue,
    SensorEntry,
    vec3,
)
from warnlink.geo.frames import geodetic_to_ecef
from warnlink.scenario.model import RadarSpec, SensorSpec
from warnlink.sensors.batch import MeasurementBatch, RadarBatch


def measurement_records(
    batches: Sequence[MeasurementBatch],
) -> tuple[list[Measurement], list[Label]]:
    """All sensors' measurements merged in time order, numbered m1, m2, ... in that order."""
    rows: list[tuple[float, int, int]] = [
        (float(t), b, i) for b, batch in enumerate(batches) for i, t in enumerate(batch.t)
    ]
    rows.sort()
    measurements: list[Measurement] = []
    labels: list[Label] = []
    for n, (t, b, i) in enumerate(rows, 1):
        batch = batches[b]
        mid = f"m{n}"
        if isinstance(batch, RadarBatch):
            rr = float(batch.range_rate_mps[i])
            measurements.append(
                RadarMeasurement(
                    id=mid,
                    t=t,
                    sensor=batch.sensor_id,
                    range_m=float(batch.range_m[i]),
                    az_deg=float(np.degrees(batch.az_rad[i])),
                    el_deg=float(np.degrees(batch.el_rad[i])),
                    range_rate_mps=None if np.isnan(rr) else rr,
                )
            )
        else:
            measurements.append(
                InfraredMeasurement(
                    id=mid,
                    t=t,
                    sensor=batch.sensor_id,
                    los=vec3(batch.los[i]),
                    sensor_ecef_m=vec3(batch.sensor_ecef_m[i]),
                )
            )
        k = int(batch.truth[i])
        labels.append(Label(id=mid, object=batch.objects[k] if k >= 0 else None))
    return measurements, labels


def sensor_entry(spec: SensorSpec) -> SensorEntry:
    if isinstance(spec, RadarSpec):
        sector = spec.azimuth_sector_rad
        return RadarEntry(
            id=spec.id,
            party=spec.party,
            platform=spec.platform,
            lat_deg=spec.lat_deg,
            lon_deg=spec.lon_deg,
            alt_m=spec.alt_m,
            ecef_m=vec3(geodetic_to_ecef(spec.lat_deg, spec.lon_deg, spec.alt_m)),
            min_range_m=spec.min_range_m,
            max_range_m=spec.max_range_m,
            elevation_mask_deg=float(np.degrees(spec.elevation_mask_rad)),
            max_elevation_deg=float(np.degrees(spec.max_elevation_rad)),
            azimuth_sector_deg=(
                None
                if sector is None
                else (float(np.degrees(sector[0])), float(np.degrees(sector[1])))
            ),
            range_sigma_m=spec.range_sigma_m,
            angle_sigma_deg=float(np.degrees(spec.angle_sigma_rad)),
            range_rate_sigma_mps=spec.range_rate_sigma_mps,
            update_interval_s=spec.update_interval_s,
            detection_probability=spec.detection_probability,
            false_alarms_per_scan=spec.false_alarms_per_scan,
        )
    return InfraredEntry(
        id=spec.id,
        party=spec.party,
        lat_deg=spec.sat_lat_deg,
        lon_deg=spec.sat_lon_deg,
        alt_m=spec.sat_alt_m,
        ecef_m=vec3(geodetic_to_ecef(spec.sat_lat_deg, spec.sat_lon_deg, spec.sat_alt_m)),
        los_sigma_rad=spec.los_sigma_rad,
        update_interval_s=spec.update_interval_s,
        detection_probability=spec.detection_probability,
        false_alarms_per_scan=spec.false_alarms_per_scan,
        min_altitude_m=spec.min_altitude_m,
    )


def sensor_catalogue(sensors: Sequence[SensorSpec], epoch: datetime) -> SensorCatalogue:
    return SensorCatalogue(epoch=epoch.isoformat(), sensors=[sensor_entry(s) for s in sensors])
