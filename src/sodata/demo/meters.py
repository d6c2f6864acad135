"""Demo energy meters: an active-energy index and an active power sent on change.

Four meters of SoLink sites (generic devices of seed.GENERIC_DEVICES, two of them made
Countis E) get, over the demo history's last `days` days:

- `Global|0|200140` (active energy imported, kWh): a cumulative index read every 15 minutes
  (a few seconds late, as the UPS points), with 0.1 kWh resolution;
- `Global|0|200100` (total active power, kW): a step profile that may change every 20 minutes,
  more often in working hours, and at least once every 3 hours; a point is sent only when
  the value changes (the variable has sendOnUpdate), so no two consecutive points are equal.

The index is the exact integral of that step power since METERS_EPOCH (the meters' start),
plus the index the meter showed then: a day's increase of the index is the integral of the
power over it, up to the index's rounding. Chiller plant - Nantes was replaced REPLACED_DAYS_AGO
days before now, at 10:00 local time: from then on its index counts from 0 (one counter reset).

A value depends only on its meter and its time, so two seeds agree wherever they overlap;
except the replaced meter's index after its replacement, which depends on the day of `now`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from sodata.demo import ids
from sodata.demo.ids import demo_uuid
from sodata.models import Device, Item, Service, Variable
from sodata.timeseries import store
from sodata.timeseries.calendar import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Offsets,
    from_ms,
    to_ms,
    wall_clock_ms,
    zone,
)

ENERGY = "200140"  # IMeter_EaImport: active energy imported, kWh (Diris A-40 and Countis E)
POWER = "200100"  # IMeter_PTotal: total active power, kW (Diris A-40 and Countis E)
ENERGY_MAPPING = f"Global|0|{ENERGY}"
POWER_MAPPING = f"Global|0|{POWER}"

INDEX_STEP_MS = 15 * MINUTE_MS  # the index is read every 15 minutes
INDEX_POLLING_S = INDEX_STEP_MS // 1000  # the energy variable's pollingTime
INDEX_DECIMALS = 1  # 0.1 kWh
POWER_SLOT_MS = 20 * MINUTE_MS  # the power may change once per slot...
POWER_FORCED_SLOTS = 9  # ... and changes at least every 9 slots (3 h), unless equal by chance
POWER_DECIMALS = 1  # 0.1 kW

METERS_EPOCH = to_ms(datetime(2021, 3, 1, tzinfo=UTC))  # the demo devices' creation (seed.EPOCH)
REPLACED_DAYS_AGO = 100
REPLACED_AT_HOUR = 10  # local time of the replacement


@dataclass(frozen=True)
class Meter:
    """One demo meter: its power is (base + swing x daily load shape) x season, + noise."""

    name: str  # a generic device of a SoLink site
    site: str
    type_uuid: uuid.UUID
    base: float  # kW, nights and idle hours
    swing: float  # kW more at the height of a working day
    season: float  # relative: x (1 + season) in mid-July, x (1 - season) in mid-January
    noise: float  # +- kW
    initial: float  # kWh on the index at METERS_EPOCH
    replaced: bool = False  # replaced REPLACED_DAYS_AGO days before now: its index restarts

    @property
    def uuid(self) -> uuid.UUID:
        return demo_uuid("device", self.name)


METERS = (
    Meter(
        "Chiller plant - Lyon",
        "(FR) Lyon Gerland",
        ids.METER_TYPE,
        base=38.0,
        swing=46.0,
        season=0.35,
        noise=3.0,
        initial=412_508.0,
    ),
    Meter(
        "Air handling unit - Lyon",
        "(FR) Lyon Gerland",
        ids.COUNTIS_TYPE,
        base=4.0,
        swing=17.0,
        season=0.1,
        noise=0.8,
        initial=96_310.0,
    ),
    Meter(
        "Chiller plant - Nantes",
        "(FR) Nantes",
        ids.METER_TYPE,
        base=22.0,
        swing=58.0,
        season=0.45,
        noise=4.0,
        initial=1_207_915.0,
        replaced=True,
    ),
    Meter(
        "Air handling unit - London",
        "(GB) London",
        ids.COUNTIS_TYPE,
        base=3.0,
        swing=11.0,
        season=0.05,
        noise=0.6,
        initial=58_204.0,
    ),
)
# generic devices of another type than their pattern's (seed.GENERIC_DEVICES), by name
DEVICE_TYPES = {m.name: m.type_uuid for m in METERS if m.type_uuid != ids.METER_TYPE}


def _hash(k: np.ndarray, salt: int) -> np.ndarray:
    """Uniform in [0, 1) from (k, salt): splitmix64 (as history._hash)."""
    x = k.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(salt)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _salt(meter: Meter, service_id: str) -> int:
    return int(service_id) * 1_000_003 + meter.uuid.int % 1_000_003


def _shape(local: np.ndarray) -> np.ndarray:
    """The daily load shape at local times (ms): 0 at night, up to 1 on weekday afternoons,
    0.35 at weekends (the UPS history's shape)."""
    hour = (local % DAY_MS) / HOUR_MS
    weekday = (local // DAY_MS + 3) % 7  # 0 = Monday
    working = np.where(weekday < 5, 1.0, 0.35)
    return np.clip(np.sin((hour - 6.0) / 14.0 * np.pi), 0.0, None) * working


def power_steps(meter: Meter, end: int, tz_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The meter's power changes from METERS_EPOCH to `end`: (times, values), no two
    consecutive values equal; each value holds until the next change."""
    salt = _salt(meter, POWER)
    k = np.arange(0, max(-(-(end - METERS_EPOCH) // POWER_SLOT_MS), 1), dtype=np.int64)
    t = METERS_EPOCH + k * POWER_SLOT_MS + (_hash(k, salt + 1) * 1200).astype(np.int64) * 1000
    t[0] = METERS_EPOCH  # the first value holds from the meters' start
    local = t + Offsets(zone(tz_name), int(t[0]), int(t[-1]) + 1).at(t)
    shape = _shape(local)
    chance = 0.12 + 0.55 * shape
    changes = (k % POWER_FORCED_SLOTS == 0) | (_hash(k, salt + 2) < chance)
    t, local, shape = t[changes], local[changes], shape[changes]
    day = local // DAY_MS
    season = 1.0 + meter.season * np.cos(2.0 * np.pi * (day - 195) / 365.2425)  # 195: July 15
    noise = (_hash(k[changes], salt) - 0.5) * 2.0 * meter.noise
    v = np.round((meter.base + meter.swing * shape) * season + noise, POWER_DECIMALS)
    keep = np.r_[True, v[1:] != v[:-1]] & (t < end)
    return t[keep], v[keep]


def energy(steps: tuple[np.ndarray, np.ndarray], t: np.ndarray) -> np.ndarray:
    """kWh consumed from the first step to each time of `t` (not before it), unrounded."""
    times, values = steps
    consumed = np.r_[0.0, np.cumsum(values[:-1] * np.diff(times) / HOUR_MS)]
    j = np.searchsorted(times, t, side="right") - 1
    return consumed[j] + values[j] * (t - times[j]) / HOUR_MS


def _index_times(meter: Meter, start: int, end: int) -> np.ndarray:
    """The index's reading times in [start, end): every 15 minutes, a few seconds late."""
    k = np.arange(-(-start // INDEX_STEP_MS), -(-end // INDEX_STEP_MS), dtype=np.int64)
    t = k * INDEX_STEP_MS + (4 + (_hash(k, _salt(meter, ENERGY)) * 6).astype(np.int64)) * 1000
    return t[t < end]


def replaced_at(meter: Meter, now_ms: int, tz_name: str) -> int:
    """When the replaced meter was replaced: at its reading of REPLACED_AT_HOUR local time,
    REPLACED_DAYS_AGO days before the UTC day of `now_ms` (the old meter's last reading; the
    new meter counts from 0 from then on, so no energy goes uncounted)."""
    day = from_ms(now_ms - REPLACED_DAYS_AGO * DAY_MS).date()
    moment = datetime(day.year, day.month, day.day, REPLACED_AT_HOUR)
    hour = wall_clock_ms(moment, zone(tz_name))
    return int(_index_times(meter, hour, hour + INDEX_STEP_MS)[0])


def points(
    meter: Meter, start: int, end: int, now_ms: int, tz_name: str
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The meter's (index, power) points in [start, end): each a pair (times, values)."""
    start = max(start, METERS_EPOCH)
    steps = power_steps(meter, end, tz_name)
    t = _index_times(meter, start, end)
    index = meter.initial + energy(steps, t)
    if meter.replaced:  # the old meter's last reading at `replaced`; then the new one's
        replaced = replaced_at(meter, now_ms, tz_name)
        if replaced > METERS_EPOCH:
            after = t > replaced
            index[after] = energy(steps, t[after]) - energy(steps, np.array([replaced]))[0]
    in_range = steps[0] >= start
    return (t, np.round(index, INDEX_DECIMALS)), (steps[0][in_range], steps[1][in_range])


def variables(session: Session, device_id: int) -> dict[str, Variable]:
    """The meter's energy and power variables (Global|0), by serviceId."""
    rows = session.execute(
        select(Service.service_id, Variable)
        .join(Item, Variable.item_id == Item.id)
        .join(Service, Variable.service_id == Service.id)
        .where(
            Variable.device_id == device_id,
            Item.item_type == "Global",
            Item.index == 0,
            Service.service_id.in_([ENERGY, POWER]),
        )
    ).all()
    return dict(rows)


def configure(session: Session, devices: list[Device]) -> None:
    """The meters' energy index is read every 15 minutes; their power is sent on change."""
    names = {m.name for m in METERS}
    for device in devices:
        if device.name in names:
            found = variables(session, device.id)
            found[ENERGY].polling_time = INDEX_POLLING_S
            found[POWER].send_on_update = True


def batches(session: Session, start: int, end: int, now_ms: int) -> list[store.SeriesPoints]:
    """The meters' points in [start, end), ready for store.write."""
    out = []
    for meter in METERS:
        device = session.scalar(select(Device).where(Device.uuid == meter.uuid))
        if device is None:
            continue
        found = variables(session, device.id)
        if ENERGY not in found or POWER not in found:
            continue
        index, power = points(meter, start, end, now_ms, device.time_zone)
        for variable, (t, v) in ((found[ENERGY], index), (found[POWER], power)):
            if len(t):
                out.append(store.SeriesPoints(variable.id, t, v))
    return out
