"""Demo history: deterministic UPS-like points for a few variables of the spec's devices.

The last `days` days up to now, plus the windows of the spec's examples (7.1: 2021-09-20 and
21; 5.8: May to July 2022), so that the spec's requests return data. A value depends only on
its variable and its time step, so two seeds agree wherever they overlap. The energy meters of
demo.meters get their index and power over the last `days` days, written with these points.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from sodata.demo import ids, meters
from sodata.models import Device, Item, Service, Variable
from sodata.timeseries import store
from sodata.timeseries.calendar import DAY_MS, HOUR_MS, MINUTE_MS, Offsets, zone

DAYS = 400
# [start, end) of the spec's examples, in ms
SPEC_WINDOWS = ((1_632_009_600_000, 1_632_268_800_000), (1_651_363_200_000, 1_659_052_800_000))


@dataclass(frozen=True)
class Curve:
    """A variable's points: every `step` minutes, `base` + `swing` x the daily load shape."""

    service_id: str
    step: int
    base: float
    swing: float
    noise: float
    decimals: int


# (device, curves): load rate %, output current L3 (A), ambient temperature, battery capacity
HISTORY = (
    (
        ids.DELPHYS_GP2,
        (
            Curve("140100", 2, 3.0, 5.0, 1.0, 0),
            Curve("140108", 5, 7.0, 12.0, 1.5, 0),
            Curve("140500", 5, 24.0, 5.0, 0.4, 1),
            Curve("140400", 5, 184.0, 0.0, 0.0, 0),
        ),
    ),
    (
        ids.MASTERYS_U2_CDS,
        (
            Curve("140100", 2, 22.0, 30.0, 3.0, 0),
            Curve("140108", 5, 9.0, 14.0, 1.0, 1),
            Curve("140500", 5, 21.0, 3.0, 0.3, 1),
        ),
    ),
)


def _hash(k: np.ndarray, salt: int) -> np.ndarray:
    """Uniform in [0, 1) from (k, salt): splitmix64."""
    x = k.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(salt)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def points(
    curve: Curve, salt: int, start: int, end: int, tz_name: str
) -> tuple[np.ndarray, np.ndarray]:
    """The curve's points in [start, end): step grid, a few seconds late, with noise."""
    step = curve.step * MINUTE_MS
    k = np.arange(-(-start // step), -(-end // step), dtype=np.int64)
    t = k * step + (4 + (_hash(k, salt + 1) * 6).astype(np.int64)) * 1000
    offsets = Offsets(zone(tz_name), int(t[0]), int(t[-1]) + 1) if len(t) else None
    local = t + (offsets.at(t) if offsets is not None else 0)
    hour = (local % DAY_MS) / HOUR_MS
    weekday = (local // DAY_MS + 3) % 7  # 0 = Monday
    working = np.where(weekday < 5, 1.0, 0.35)
    shape = np.clip(np.sin((hour - 6.0) / 14.0 * np.pi), 0.0, None) * working
    noise = (_hash(k, salt) - 0.5) * 2.0 * curve.noise
    v = np.round(curve.base + curve.swing * shape + noise, curve.decimals)
    keep = t < end
    return t[keep], v[keep]


def seed_history(session: Session, days: int = DAYS, now_ms: int | None = None) -> int:
    """Points for the demo devices' history variables; the number of points written."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    windows = [*SPEC_WINDOWS, ((now_ms // DAY_MS - days) * DAY_MS, now_ms)]
    batches = []
    for device_uuid, curves in HISTORY:
        device = session.scalar(select(Device).where(Device.uuid == device_uuid))
        if device is None:
            continue
        for curve in curves:
            variable = session.scalar(
                select(Variable)
                .join(Item, Variable.item_id == Item.id)
                .join(Service, Variable.service_id == Service.id)
                .where(
                    Variable.device_id == device.id,
                    Item.item_type == "Global",
                    Item.index == 0,
                    Service.service_id == curve.service_id,
                )
            )
            if variable is None:
                continue
            salt = int(curve.service_id) * 1_000_003 + device_uuid.int % 1_000_003
            parts = [points(curve, salt, a, b, device.time_zone) for a, b in windows]
            batches.append(
                store.SeriesPoints.of(
                    variable.id,
                    np.concatenate([t for t, _ in parts]),
                    np.concatenate([v for _, v in parts]),
                )
            )
    batches += meters.batches(session, *windows[-1], now_ms)
    store.write(session, batches)
    return sum(len(b.t) for b in batches)
