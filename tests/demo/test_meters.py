"""The demo's energy meters through the real server: Diris A-40 and Countis E meters of SoLink
sites, an energy index (Global|0|200140, kWh) that only rises but for one meter replacement,
and a power (Global|0|200100, kW) sent on change whose integral is the index's increase.

These tests only read demo objects; they never change them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest

from sodata.demo import ids, meters
from sodata.demo.ids import demo_uuid
from sodata.timeseries.calendar import DAY_MS, HOUR_MS, Offsets, to_ms, zone
from tests.datapoints.wire import iso, ms, ok

CA = f"/api/v1/ca/{ids.SOLINK}"
TYPE_NAMES = {ids.METER_TYPE: "Diris A-40", ids.COUNTIS_TYPE: "Countis E"}
REPLACED = next(m for m in meters.METERS if m.replaced)
NOW = to_ms(datetime(2026, 3, 29, 12, 0, tzinfo=UTC))  # a DST day in Europe/Paris

Series = tuple[np.ndarray, np.ndarray]


def _raw(api: httpx.Client, meter: meters.Meter, mapping: str) -> Series:
    """Every stored point of one of the meter's variables."""
    body = {
        "from": "2021-01-01T00:00:00Z",
        "to": iso(to_ms(datetime.now(UTC)) + DAY_MS),
        "timezone": "UTC",
        "granularity": "raw",
        "series": [{"deviceUuid": str(meter.uuid), "mappingConfig": mapping}],
    }
    (series,) = ok(api.put(f"{CA}/datapoints", json=body))["series"]
    assert series["nextAfter"] is None
    t = np.array([ms(p["at"]) for p in series["data"]], dtype=np.int64)
    return t, np.array([p["value"] for p in series["data"]], dtype=np.float64)


@pytest.fixture(scope="module")
def history(api: httpx.Client) -> Iterator[dict[str, tuple[Series, Series]]]:
    """Each meter's (index, power) as the server answers them, by meter name."""
    yield {
        m.name: (_raw(api, m, meters.ENERGY_MAPPING), _raw(api, m, meters.POWER_MAPPING))
        for m in meters.METERS
    }


def _increments(v: np.ndarray) -> np.ndarray:
    """The increase of a counter between consecutive points: after a decrease (a reset, the
    counter restarted from 0), the new value."""
    d = np.diff(v)
    return np.where(d < 0, v[1:], d)


def _integral(power: Series, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """kWh of the step power (each value holds until the next point) from a to b."""
    t, v = power
    done = np.r_[0.0, np.cumsum(v[:-1] * np.diff(t) / HOUR_MS)]

    def at(x: np.ndarray) -> np.ndarray:
        j = np.searchsorted(t, x, side="right") - 1
        return done[j] + v[j] * (x - t[j]) / HOUR_MS

    return at(b) - at(a)


def test_the_meters_in_their_sites(api: httpx.Client) -> None:
    catalog = {t["uuid"]: t for t in ok(api.get("/api/v1/device-types"))["results"]}
    for meter in meters.METERS:
        site = demo_uuid("site", meter.site)
        listed = ok(api.get(f"{CA}/devices", params={"siteUuid": str(site), "take": 100}))
        device = next(d for d in listed["results"] if d["name"] == meter.name)
        assert device["uuid"] == str(meter.uuid) and device["status"] == "ACCEPTED"
        assert device["deviceTypeUid"] == str(meter.type_uuid)
        assert catalog[device["deviceTypeUid"]]["name"] == TYPE_NAMES[meter.type_uuid]
        variables = ok(api.get(f"{CA}/devices/{meter.uuid}/variables"))["results"]
        by_mapping = {v["mappingConfig"]: v for v in variables}
        energy = by_mapping[meters.ENERGY_MAPPING]
        power = by_mapping[meters.POWER_MAPPING]
        assert (energy["serviceId"], energy["pollingTime"]) == ("200140", 900)
        assert (power["serviceId"], power["sendOnUpdate"]) == ("200100", True)
        assert (energy["unit"], power["unit"]) == ("KILOWATT_HOUR", "KILOWATT")
    assert {m.type_uuid for m in meters.METERS} == set(TYPE_NAMES)  # both types
    assert len({m.site for m in meters.METERS}) >= 3


def test_the_index_rises_but_for_one_reset_when_a_meter_was_replaced(history) -> None:
    resets = []
    for meter in meters.METERS:
        (t, v), _ = history[meter.name]
        assert 399 * 96 <= len(t) <= 401 * 96  # every 15 minutes for 400 days
        assert np.all(np.diff(t) > 0)
        resets += [(meter.name, t[i], v[i], v[i + 1]) for i in np.flatnonzero(np.diff(v) < 0)]
    ((name, at, before, after),) = resets
    assert name == REPLACED.name
    last = history[name][0][0][-1]
    assert 99 <= (last - at) / DAY_MS <= 102  # about 100 days before the demo's start
    # the new meter counts from 0: its first reading is 15 minutes' energy
    assert before > 100_000 and 0 < after < 50
    local = datetime.fromtimestamp(at / 1000, ZoneInfo("Europe/Paris"))
    assert (local.hour, local.minute) == (10, 0)  # the old meter's last reading


def test_the_load_profile(history) -> None:
    """More on weekdays than at weekends, more by day than by night."""
    for meter in meters.METERS:
        (t, v), _ = history[meter.name]
        gain = _increments(v)
        tz = "Europe/London" if meter.site == "(GB) London" else "Europe/Paris"
        local = t[1:] + Offsets(zone(tz), int(t[0]), int(t[-1]) + 1).at(t[1:])
        hour = local % DAY_MS // HOUR_MS
        weekday = (local // DAY_MS + 3) % 7 < 5
        day, night = (hour >= 10) & (hour < 16), hour < 4
        assert gain[weekday & day].mean() > 1.5 * gain[weekday & night].mean(), meter.name
        assert gain[weekday & day].mean() > 1.3 * gain[~weekday & day].mean(), meter.name


def test_power_points_only_at_changes(history) -> None:
    for meter in meters.METERS:
        _, (t, v) = history[meter.name]
        assert np.all(np.diff(t) > 0) and np.all(v > 0)
        assert np.all(np.diff(v) != 0), f"{meter.name}: two consecutive points are equal"
        per_day = len(t) / ((t[-1] - t[0]) / DAY_MS)
        assert 12 <= per_day <= 60, (meter.name, per_day)  # a few dozen changes a day
        assert np.diff(t).max() < 12 * HOUR_MS  # far below sendOnUpdate's 24 h carry


def test_a_days_energy_is_the_integral_of_its_power(history) -> None:
    """For every UTC day but the first, the index's increase (across the reset too) equals
    the integral of the power between the day's first and last readings, within 1%, or the
    index's rounding (two readings' halves of 0.1 kWh) on a short day: today's, early on."""
    for meter in meters.METERS:
        (t, v), power = history[meter.name]
        gain = _increments(v)
        day = t // DAY_MS
        starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
        ends = np.r_[starts[1:], len(t)] - 1
        # not the first day: the power it starts with was sent before the history
        first, last = starts[1:], ends[1:]
        increase = np.array([gain[a:b].sum() for a, b in zip(first, last, strict=True)])
        integral = _integral(power, t[first], t[last])
        assert len(increase) >= 399
        rounding = 10.0**-meters.INDEX_DECIMALS
        assert np.all(np.abs(increase - integral) <= np.maximum(0.01 * integral, rounding)), (
            meter.name
        )
        assert increase.mean() > 24 * meter.base  # at least its night load all day


def test_daily_and_monthly_delta_of_the_replaced_meter(api: httpx.Client, history) -> None:
    """The aggregation `delta` (the README's query): the day buckets add the increments of
    their points, a reset counting its new value; the months add up to the same."""
    (t, v), _ = history[REPLACED.name]
    zone = ZoneInfo("Europe/Paris")
    expected: dict[str, dict[str, float]] = {"day": defaultdict(float), "month": defaultdict(float)}
    for at, gain in zip(t[1:].tolist(), _increments(v).tolist(), strict=True):
        local = datetime.fromtimestamp(at / 1000, zone)
        expected["day"][local.strftime("%Y-%m-%d")] += gain
        expected["month"][local.strftime("%Y-%m")] += gain
    for granularity, key in (("day", "%Y-%m-%d"), ("month", "%Y-%m")):
        body = {
            "from": "2021-01-01T00:00:00",
            "to": "2100-01-01T00:00:00",
            "timezone": "Europe/Paris",
            "granularity": granularity,
            "series": [
                {
                    "deviceUuid": str(REPLACED.uuid),
                    "mappingConfig": meters.ENERGY_MAPPING,
                    "aggregation": "delta",
                }
            ],
        }
        (series,) = ok(api.put(f"{CA}/datapoints", json=body))["series"]
        got = {
            datetime.fromtimestamp(ms(p["at"]) / 1000, zone).strftime(key): p["value"]
            for p in series["data"]
        }
        first = datetime.fromtimestamp(t[0] / 1000, zone).strftime(key)
        assert got[first] == pytest.approx(expected[granularity].get(first, 0.0), abs=1e-6)
        assert got.keys() == expected[granularity].keys() | {first}
        for bucket, value in got.items():
            assert value == pytest.approx(expected[granularity][bucket], rel=1e-9, abs=1e-6)


def test_same_values_every_run_and_the_replacement_relative_to_now() -> None:
    start = (NOW // DAY_MS - 400) * DAY_MS
    first = meters.points(REPLACED, start, NOW, NOW, "Europe/Paris")
    second = meters.points(REPLACED, start, NOW, NOW, "Europe/Paris")
    for (t1, v1), (t2, v2) in zip(first, second, strict=True):
        assert np.array_equal(t1, t2) and np.array_equal(v1, v2)
    (t, v), _ = first
    (last_old,) = np.flatnonzero(np.diff(v) < 0)
    replaced = to_ms(datetime(2025, 12, 19, 10, 0, tzinfo=ZoneInfo("Europe/Paris")))  # NOW - 100 d
    assert replaced < t[last_old] < replaced + 10_000  # the old meter's last reading
    assert t[last_old] == meters.replaced_at(REPLACED, NOW, "Europe/Paris")
    # a meter that was not replaced: the index since the start is the power's integral
    other = meters.METERS[0]
    (t, v), _ = meters.points(other, start, NOW, NOW, "Europe/Paris")
    steps = meters.power_steps(other, NOW, "Europe/Paris")
    assert v[-1] - v[0] == pytest.approx(_integral(steps, t[:1], t[-1:])[0], abs=0.1)
