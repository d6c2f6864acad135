"""The aggregations first, last, delta (a cumulative counter's increase, with resets) and twa
(the time-weighted average, with a carry limit) of the engine against the brute force
(tests/timeseries/brute.py, written from the definitions of sodata issue 14): DST days, zones
with :30 and :45 offsets, month and year ends, counter resets and noise, gaps longer than the
carry limit, carry limits from seconds to days, late and overwriting batches, from/to cutting
into buckets, paging, and random series. SQLite and PostgreSQL."""

from __future__ import annotations

import math
import random
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.timeseries import brute
from tests.timeseries.brute import ENERGY, GRANULARITIES, iso, utc, wall
from tests.timeseries.test_properties import write_all

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")


def meter(times, seed: int, start: float = 1000.0, resets: float = 0.0, noise: float = 0.0):
    """A cumulative counter read at `times`: it grows by 0 to 3 a reading; with probability
    `resets` it restarts (to at most 2, from more than 10: a drop of more than 8), with
    probability `noise` it drops by 0.1 to 1 (values of 3 decimals, so no drop is within
    rounding of the thresholds 0.5555 or 2.5 used below)."""
    rng = random.Random(seed)
    value, out = start, {}
    for t in times:
        r = rng.random()
        if r < resets and value > 10:
            value = round(rng.uniform(0, 2), 3)
        elif r < resets + noise:
            value = round(value - rng.uniform(0.1, 1.0), 3)
        else:
            value = round(value + rng.uniform(0, 3), 3)
        out[t] = value
    return out


def check(
    engine,
    vid,
    points,
    tz,
    granularities=GRANULARITIES,
    start=None,
    end=None,
    thresholds=(0.0,),
    carries=(None,),
    aggregations=ENERGY,
    context="",
):
    """Every energy aggregation of every granularity equals the brute force: delta for each
    threshold, twa for each carry limit (ms)."""
    span = {} if start is None else {"start": start, "end": end}
    for granularity in granularities:
        for aggregation in aggregations:
            params = [{}]
            if aggregation == "delta":
                params = [{"threshold": threshold} for threshold in thresholds]
            elif aggregation == "twa":
                params = [{"carry": carry} for carry in carries]
            for param in params:
                got = engine.buckets(vid, granularity, aggregation, tz, **span, **param)
                assert got, f"{granularity} {aggregation}: the test has no bucket"
                brute.assert_energy(
                    got, points, granularity, aggregation, tz, start, end, context=context, **param
                )


def total(buckets) -> float:
    return math.fsum(v for _, v in buckets)


# --- the brute force itself, by hand ----------------------------------------------------------


def test_the_brute_force_by_hand():
    def at(clock: str) -> int:
        return utc(f"2024-05-06T{clock}Z")

    points = {at("10:00:00"): 10.0, at("10:20:00"): 20.0, at("10:50:00"): 5.0}
    points |= {at("11:10:00"): 8.0, at("13:30:00"): 9.0}

    def energy(aggregation, granularity="hour", **kw):
        return [
            (iso(t), v)
            for t, v in brute.expected_energy(points, granularity, aggregation, UTC, **kw)
        ]

    hours = ["2024-05-06T10:00:00Z", "2024-05-06T11:00:00Z", "2024-05-06T13:00:00Z"]
    assert energy("first") == list(zip(hours, [10.0, 8.0, 9.0], strict=True))
    assert energy("last") == list(zip(hours, [5.0, 8.0, 9.0], strict=True))
    # 10:50 drops by 15: a reset (+5) unless the threshold is 15 or more (-15)
    assert energy("delta") == list(zip(hours, [15.0, 3.0, 1.0], strict=True))
    assert energy("delta", threshold=14.5) == energy("delta")
    assert energy("delta", threshold=15) == list(zip(hours, [-5.0, 3.0, 1.0], strict=True))
    # 30 minutes of carry: 10 for 20 min, 20 for 30 min, 5 for 10 min of the 10:00 hour; then
    # 5 for 10 min and 8 for 30 min (of 60) of the 11:00 hour; 9 for the last 30 minutes
    twa = energy("twa", carry=30 * MINUTE_MS)
    assert twa == list(zip(hours, [850 / 60, 290 / 40, 9.0], strict=True))
    # no limit: 8 holds until 13:30, and 9 (the last point) to the end of its hour
    assert energy("twa") == list(
        zip(hours, [850 / 60, 450 / 60, (8 * 30 + 9 * 30) / 60], strict=True)
    )
    assert energy("twa", carry=10 * MINUTE_MS)[2] == (hours[2], 9.0)
    # [10:30, 13:15): 10:50 alone in the 10:00 hour (a reset from 10:20); 20 holds from 10:30
    cut = {"start": at("10:30:00"), "end": at("13:15:00")}
    assert energy("first", **cut) == [(hours[0], 5.0), (hours[1], 8.0)]
    assert energy("delta", **cut) == [(hours[0], 5.0), (hours[1], 3.0)]
    assert energy("twa", carry=30 * MINUTE_MS, **cut) == [
        (hours[0], 450 / 30),
        (hours[1], 290 / 40),
    ]
    # one day: every increment but the first point's; every hold (the last one cut by 'to')
    assert energy("delta", "day") == [("2024-05-06T00:00:00Z", 19.0)]
    assert energy("twa", "day", end=at("13:40:00")) == [
        ("2024-05-06T00:00:00Z", (200 + 600 + 5 * 20 + 8 * 140 + 9 * 10) / 220)
    ]
    # bucket ends of DST days, of Lord Howe's 90-minute hour
    assert brute.bucket_end(wall("2024-03-31T00:00:00", PARIS), "day", PARIS) == utc(
        "2024-03-31T22:00:00Z"
    )
    assert brute.bucket_end(wall("2024-10-27T00:00:00", PARIS), "day", PARIS) == utc(
        "2024-10-27T23:00:00Z"
    )
    assert brute.bucket_end(utc("2024-10-27T00:00:00Z"), "hour", PARIS) == utc(
        "2024-10-27T01:00:00Z"
    )
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    assert brute.bucket_end(utc("2023-04-01T14:00:00Z"), "hour", lord_howe) == utc(
        "2023-04-01T15:30:00Z"
    )
    assert brute.bucket_end(utc("2024-02-01T00:00:00Z"), "month", UTC) == utc(
        "2024-03-01T00:00:00Z"
    )


# --- DST days ---------------------------------------------------------------------------------

DST_DAYS = [  # zone, day, its hours
    ("Europe/Paris", "2024-03-31", 23),
    ("Europe/Paris", "2024-10-27", 25),
    ("America/New_York", "2024-03-10", 23),
    ("America/New_York", "2024-11-03", 25),
]


@pytest.mark.parametrize(("zone", "day", "hours"), DST_DAYS)
def test_dst_days(engine, zone, day, hours):
    """A counter read every 7 min 13 s from the evening before to the morning after, with
    resets, noise and a gap of 2.5 hours: hours of the changed day, days of 23 and 25 hours."""
    tz = ZoneInfo(zone)
    vid = engine.variable()
    midnight = wall(f"{day}T00:00:00", tz)
    gap = (midnight + 10 * HOUR_MS, midnight + 12 * HOUR_MS + 30 * MINUTE_MS)
    times = [
        t
        for t in range(midnight - 6 * HOUR_MS, midnight + DAY_MS + 6 * HOUR_MS, 433_000)
        if not gap[0] <= t < gap[1]
    ]
    points = meter(times, seed=hours, resets=0.03, noise=0.1)
    engine.write(vid, points)
    check(
        engine,
        vid,
        points,
        tz,
        granularities=("minute", "hour", "day"),
        thresholds=(0.0, 2.5),
        carries=(None, 10 * MINUTE_MS, 20 * MINUTE_MS),
    )
    days = engine.buckets(vid, "day", "twa", tz, carry=20 * MINUTE_MS)
    assert [t for t, _ in days][1] == midnight
    assert brute.bucket_end(midnight, "day", tz) - midnight == hours * HOUR_MS
    for threshold in (0.0, 2.5):  # the hours of the day add up to the day
        hourly = engine.buckets(
            vid,
            "hour",
            "delta",
            tz,
            start=midnight,
            end=midnight + hours * HOUR_MS,
            threshold=threshold,
        )
        daily = engine.buckets(vid, "day", "delta", tz, threshold=threshold)
        assert len(hourly) == hours - 2  # the gap holds no point from 10:00 to 12:00 UTC
        assert math.isclose(total(hourly), daily[1][1], abs_tol=1e-6)


def test_a_value_held_across_the_repeated_hour(engine):
    """Paris, 2024-10-27: 02:00 is shown twice. The value of 02:40 (CEST) holds into the
    second 02:00 hour (CET), until 02:10 (CET)."""
    vid = engine.variable()
    points = {
        utc("2024-10-26T23:30:00Z"): 1.0,  # 01:30 CEST
        utc("2024-10-27T00:40:00Z"): 2.0,  # 02:40 CEST (first 02:00 hour)
        utc("2024-10-27T01:10:00Z"): 4.0,  # 02:10 CET (second 02:00 hour)
        utc("2024-10-27T02:30:00Z"): 8.0,  # 03:30 CET
    }
    engine.write(vid, points)
    for carry in (None, 15 * MINUTE_MS, 45 * MINUTE_MS, 2 * HOUR_MS):
        got = engine.buckets(vid, "hour", "twa", PARIS, carry=carry)
        brute.assert_energy(got, points, "hour", "twa", PARIS, carry=carry)
    got = engine.buckets(vid, "hour", "twa", PARIS)
    # the second 02:00 hour: 2 for 10 minutes, then 4
    assert got[2] == (utc("2024-10-27T01:00:00Z"), (2 * 10 + 4 * 50) / 60)


@pytest.mark.parametrize(
    ("zone", "change"),
    [
        ("Australia/Lord_Howe", "2023-04-01T15:00:00Z"),  # 30 minutes back: a 90-minute hour
        ("Australia/Lord_Howe", "2023-09-30T15:30:00Z"),  # 30 minutes forward
        ("Pacific/Chatham", "2024-04-06T14:00:00Z"),  # 03:45 back to 02:45
        ("Africa/Monrovia", "1972-01-07T00:44:30Z"),  # hours and days start at :44:30
        ("America/Santiago", "2023-09-03T04:00:00Z"),  # no midnight
        ("America/Havana", "2023-11-05T05:00:00Z"),  # midnight twice
    ],
)
def test_odd_offset_changes(engine, zone, change):
    """Buckets of 90 minutes, buckets cut inside 15-minute slots, skipped and repeated
    midnights: the value held into a bucket and out of it up to its calendar end."""
    tz = ZoneInfo(zone)
    vid = engine.variable()
    at = utc(change)
    times = [t for t in range(at - DAY_MS, at + DAY_MS, 617_000) if not 0 < t - at < HOUR_MS]
    points = meter(times, seed=3, resets=0.03, noise=0.1)
    engine.write(vid, points)
    check(
        engine,
        vid,
        points,
        tz,
        ("minute", "hour", "day"),
        thresholds=(0.0, 2.5),
        carries=(None, 5 * MINUTE_MS, 20 * MINUTE_MS, 2 * HOUR_MS),
    )


# --- zones with :30 and :45 offsets, month and year ends ---------------------------------------


@pytest.mark.parametrize(
    ("zone", "first"),
    [
        ("Asia/Kolkata", "2024-02-27T00:00:00Z"),  # +05:30, across the end of a leap February
        ("Asia/Kathmandu", "2024-12-30T00:00:00Z"),  # +05:45, across a year end
    ],
)
def test_quarter_hour_zones(engine, zone, first):
    tz = ZoneInfo(zone)
    vid = engine.variable()
    times = range(utc(first), utc(first) + 3 * DAY_MS, 283_000)
    points = meter(times, seed=5, resets=0.02, noise=0.1)
    engine.write(vid, points)
    check(
        engine,
        vid,
        points,
        tz,
        granularities=("hour", "day", "week", "month", "year"),
        thresholds=(0.0, 0.5555, 2.5),
        carries=(None, 3 * MINUTE_MS, 10 * MINUTE_MS),
    )
    start = utc(first) + 2 * DAY_MS + 7_000
    check(
        engine,
        vid,
        points,
        tz,
        ("minute",),
        start,
        start + 3 * HOUR_MS,
        (0.0,),
        (None, 3 * MINUTE_MS),
    )


@pytest.fixture(scope="module")
def calendar_series(engine):
    """A counter read every 47 min 11 s around the ends of months and years (leap February
    too), in chunks weeks or months apart, with resets and noise."""
    vid = engine.variable()
    times = []
    for first, last in [
        ("2023-02-24", "2023-03-03"),
        ("2023-12-20", "2024-03-06"),
        ("2024-04-26", "2024-05-03"),
        ("2024-06-27", "2024-07-02"),
        ("2024-12-27", "2025-01-06"),
    ]:
        times += range(utc(f"{first}T00:00:00Z"), utc(f"{last}T00:00:00Z"), 2_831_000)
    points = meter(times, seed=8, resets=0.01, noise=0.05)
    engine.write(vid, points)
    return vid, points


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"])
def test_month_and_year_ends(engine, calendar_series, zone):
    vid, points = calendar_series
    check(
        engine,
        vid,
        points,
        ZoneInfo(zone),
        granularities=("day", "week", "month", "year"),
        thresholds=(0.0, 2.5),
        carries=(None, 2 * HOUR_MS, 30 * DAY_MS),
    )


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York", "Asia/Kathmandu"])
def test_the_days_of_a_month_add_up_to_the_month(engine, zone):
    """March 2024 (a DST change in Paris and New York): the daily deltas add up to the
    monthly delta and the hourly ones to the daily ones; without resets, the month's delta is
    its last value minus the last value before it."""
    tz = ZoneInfo(zone)
    march, april = wall("2024-03-01T00:00:00", tz), wall("2024-04-01T00:00:00", tz)
    for resets, noise in ((0.0, 0.0), (0.01, 0.05)):
        vid = engine.variable()
        times = range(march - 3 * DAY_MS - 17_000, april + 3 * DAY_MS, 779_000)
        points = meter(times, seed=31, resets=resets, noise=noise)
        engine.write(vid, points)
        span = {"start": march, "end": april}
        for threshold in (0.0, 2.5):
            days = engine.buckets(vid, "day", "delta", tz, threshold=threshold, **span)
            month = engine.buckets(vid, "month", "delta", tz, threshold=threshold, **span)
            assert len(days) == 31 and [t for t, _ in month] == [march]
            assert math.isclose(total(days), month[0][1], abs_tol=1e-6)
            hours = engine.buckets(vid, "hour", "delta", tz, threshold=threshold, **span)
            assert math.isclose(total(hours), month[0][1], abs_tol=1e-6)
            brute.assert_energy(month, points, "month", "delta", tz, threshold=threshold, **span)
            whole = engine.buckets(vid, "month", "delta", tz, threshold=threshold)
            # from and to on the month's ends change nothing
            assert whole[1][0] == march and math.isclose(whole[1][1], month[0][1], abs_tol=1e-6)
        if not resets:
            before = max(t for t in points if t < march)
            last = max(t for t in points if t < april)
            assert math.isclose(month[0][1], points[last] - points[before], abs_tol=1e-6)


# --- counter resets and noise -------------------------------------------------------------------


def reset_and_noise(day: int) -> dict[int, float]:
    """Drops of every kind in one hour and one 15-minute slot: a noise drop on the slot's and
    the hour's first point, a reset and a noise drop in the same slot, a drop of exactly 2 at
    the slot's last millisecond, one of exactly 2.5 on the next slot's first point."""

    def at(clock: str) -> int:  # "10:14:59.999"
        hours, minutes, seconds = clock.split(":")
        return day + (int(hours) * 60 + int(minutes)) * MINUTE_MS + round(float(seconds) * 1000)

    return {
        at("09:50:00"): 100.0,
        at("09:58:00"): 103.0,
        at("10:00:00"): 101.5,  # -1.5
        at("10:03:00"): 104.0,
        at("10:05:00"): 2.0,  # a reset
        at("10:07:30"): 1.0,  # -1
        at("10:09:00"): 5.0,
        at("10:14:59.999"): 3.0,  # -2
        at("10:15:00"): 0.5,  # -2.5
        at("10:20:00"): 7.0,
        at("10:44:00"): 6.0,  # -1
        at("11:00:00"): 20.0,
        at("11:30:00"): 19.25,  # -0.75
        at("11:30:01"): 30.0,
    }


THRESHOLDS = (0.0, 0.5, 0.75, 1.0, 1.5, 2.0, 2.25, 2.5, 10.0, 101.0, 102.0, 1000.0)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "Asia/Kathmandu"])
def test_resets_and_noise_in_one_slot(engine, zone):
    """Every threshold from 0 (every drop a reset) to 1000 (every drop noise), exactly at the
    drops too: a drop of at most the threshold counts negative."""
    tz = ZoneInfo(zone)
    day = utc("2024-05-06T00:00:00Z")
    vid = engine.variable()
    points = reset_and_noise(day)
    engine.write(vid, points)
    ten = day + 10 * HOUR_MS
    ranges = [
        (None, None),
        (ten + 5 * MINUTE_MS, ten + 15 * MINUTE_MS),  # from on the reset, to on a slot
        (ten + 4 * MINUTE_MS, ten + 15 * MINUTE_MS - 1),
        (ten + 7 * MINUTE_MS, ten + 90 * MINUTE_MS + 500),
    ]
    for start, end in ranges:
        span = {} if start is None else {"start": start, "end": end}
        for granularity in ("minute", "hour", "day"):
            for threshold in THRESHOLDS:
                got = engine.buckets(vid, granularity, "delta", tz, threshold=threshold, **span)
                brute.assert_energy(got, points, granularity, "delta", tz, start, end, threshold)
    if zone == "UTC":  # by hand: the 10:00 hour
        hour = [(ten, v) for v in (127.0,)]
        assert engine.buckets(vid, "hour", "delta", tz, start=ten, end=ten + HOUR_MS) == hour
        got = engine.buckets(vid, "hour", "delta", tz, start=ten, end=ten + HOUR_MS, threshold=2)
        assert got == [(ten, 10.0)]
        got = engine.buckets(vid, "hour", "delta", tz, start=ten, end=ten + HOUR_MS, threshold=1e3)
        assert got == [(ten, 6.0 - 103.0)]


def test_resets_across_buckets_and_batches(engine):
    """A reset on the first point of a bucket (its predecessor is in the bucket before, or
    days before, before `from`); and a reset written late, between stored points."""
    vid = engine.variable()
    day = utc("2024-05-06T00:00:00Z")
    points = {day - 3 * DAY_MS: 500.0, day + 9 * HOUR_MS: 10.0, day + 10 * HOUR_MS: 12.0}
    points |= meter(range(day + 10 * HOUR_MS + 60_000, day + 11 * HOUR_MS, 60_000), 3, 13.0)
    engine.write(vid, points)
    check(engine, vid, points, UTC, ("hour", "day"), thresholds=(0.0, 100.0, 1000.0))
    check(engine, vid, points, UTC, ("hour",), day, day + DAY_MS, (0.0, 1000.0), (None,))
    late = {day + 10 * HOUR_MS + 30_000: 1.0, day + 10 * HOUR_MS + 90_000: 2.5}
    engine.write(vid, late)
    points |= late
    check(engine, vid, points, UTC, ("minute", "hour", "day"), thresholds=(0.0, 2.5, 1000.0))


# --- the carry limit: gaps, limits from seconds to days ------------------------------------------


@pytest.fixture(scope="module")
def gappy(engine):
    """Points every minute, then a gap of 3 h 11 min, every 7 minutes, a lone point, every 20 s
    for half an hour, a point late in the evening, two the next morning after 6 hours, then two
    days of nothing and three points, the last two 20 minutes apart."""
    day = utc("2024-05-06T22:00:00Z")  # Paris midnight
    times = list(range(day, day + 2 * HOUR_MS, MINUTE_MS))
    times += range(day + 5 * HOUR_MS + 10 * MINUTE_MS, day + 9 * HOUR_MS, 7 * MINUTE_MS)
    times += [day + 13 * HOUR_MS + 37 * MINUTE_MS + 1234]
    times += range(day + 14 * HOUR_MS, day + 14 * HOUR_MS + 30 * MINUTE_MS, 20_000)
    times += [day + 23 * HOUR_MS + 50 * MINUTE_MS, day + 30 * HOUR_MS, day + 30 * HOUR_MS + 7]
    times += [day + 4 * DAY_MS + 5 * HOUR_MS, day + 4 * DAY_MS + 6 * HOUR_MS]
    times += [day + 4 * DAY_MS + 6 * HOUR_MS + 20 * MINUTE_MS]
    points = meter(times, seed=17, resets=0.02, noise=0.1)
    vid = engine.variable()
    engine.write(vid, points)
    return vid, points, day


CARRIES = (
    1000,
    30 * SECOND_MS,
    5 * MINUTE_MS,
    10 * MINUTE_MS,
    14 * MINUTE_MS + 59_999,
    20 * MINUTE_MS,
    HOUR_MS,
    3 * HOUR_MS + 11 * MINUTE_MS,  # exactly the gap
    DAY_MS + SECOND_MS,
    3 * DAY_MS + 18 * HOUR_MS,
    10 * DAY_MS,
    None,
)


@pytest.mark.parametrize("zone", ["Europe/Paris", "Asia/Kathmandu"])
def test_gaps_longer_than_the_carry(engine, gappy, zone):
    vid, points, _ = gappy
    tz = ZoneInfo(zone)
    check(
        engine,
        vid,
        points,
        tz,
        ("minute", "hour", "day", "week", "month"),
        carries=CARRIES,
        aggregations=("twa",),
    )


def test_the_carry_by_hand(engine, gappy):
    """The value of a bucket's last point holds into the next bucket; a lone point holds up to
    the carry limit; the series' last point holds the carry limit."""
    vid, points, day = gappy
    times = sorted(points)

    def twa(granularity, carry, **kw) -> dict[int, float]:
        return dict(engine.buckets(vid, granularity, "twa", PARIS, carry=carry, **kw))

    # the 05:00 hour (Paris): the 01:59 value holds from 05:00 to 05:10 with no limit
    five = day + 5 * HOUR_MS
    early = points[day + 2 * HOUR_MS - MINUTE_MS]
    in_five = [t for t in times if five <= t < five + HOUR_MS]
    held = [
        (t, min(b, five + HOUR_MS) - t)
        for t, b in zip(in_five, in_five[1:] + [five + HOUR_MS], strict=True)
    ]
    integral = early * 10 * MINUTE_MS + math.fsum(points[t] * h for t, h in held)
    assert math.isclose(twa("hour", None)[five], integral / HOUR_MS, rel_tol=1e-12)
    assert math.isclose(
        twa("hour", 3 * HOUR_MS + 11 * MINUTE_MS)[five], integral / HOUR_MS, rel_tol=1e-12
    )
    rest = math.fsum(points[t] * h for t, h in held)
    shorter = (early * (10 * MINUTE_MS - 1) + rest) / (HOUR_MS - 1)  # 1 ms less
    assert math.isclose(twa("hour", 3 * HOUR_MS + 11 * MINUTE_MS - 1)[five], shorter, rel_tol=1e-12)
    limited = rest / (HOUR_MS - 10 * MINUTE_MS)  # held until 05:00 only
    assert math.isclose(twa("hour", 3 * HOUR_MS + MINUTE_MS)[five], limited, rel_tol=1e-12)
    # the lone point at 13:37:01.234 holds 1 second, or to 14:00 with 30 minutes
    lone = times[times.index(day + 14 * HOUR_MS) - 1]
    assert math.isclose(twa("hour", 1000)[day + 13 * HOUR_MS], points[lone], rel_tol=1e-12)
    assert math.isclose(
        twa("hour", 30 * MINUTE_MS)[day + 13 * HOUR_MS], points[lone], rel_tol=1e-12
    )
    # the last hour: 20 minutes of the one before last and L of the last one
    last_hour = day + 4 * DAY_MS + 6 * HOUR_MS
    a, b = points[times[-2]], points[times[-1]]
    assert math.isclose(twa("hour", 10 * MINUTE_MS)[last_hour], (a + b) / 2, rel_tol=1e-12)
    assert math.isclose(twa("hour", None)[last_hour], (a * 20 + b * 40) / 60, rel_tol=1e-12)
    assert math.isclose(twa("hour", 20 * MINUTE_MS)[last_hour], (a + b) / 2, rel_tol=1e-12)
    # carry longer than a day: the evening's value holds over the next midnight
    next_day = day + DAY_MS
    evening = points[day + 23 * HOUR_MS + 50 * MINUTE_MS]
    morning = [points[day + 30 * HOUR_MS], points[day + 30 * HOUR_MS + 7]]
    got = twa("day", DAY_MS + SECOND_MS, start=next_day, end=next_day + 7 * HOUR_MS)
    want = (evening * 6 * HOUR_MS + morning[0] * 7 + morning[1] * (HOUR_MS - 7)) / (7 * HOUR_MS)
    assert math.isclose(got[next_day], want, rel_tol=1e-12)
    # 10 minutes: the evening's value holds to midnight only, the morning's for 10 minutes
    carry = 10 * MINUTE_MS
    got = twa("day", carry, start=next_day, end=next_day + 7 * HOUR_MS)
    want = (morning[0] * 7 + morning[1] * carry) / (7 + carry)
    assert math.isclose(got[next_day], want, rel_tol=1e-12)
    got = twa("day", carry + 1, start=next_day, end=next_day + 7 * HOUR_MS)  # 1 ms past it
    want = (evening + morning[0] * 7 + morning[1] * (carry + 1)) / (1 + 7 + carry + 1)
    assert math.isclose(got[next_day], want, rel_tol=1e-12)
    # days without points are not answered, even where a value holds
    assert sorted(twa("day", 10 * DAY_MS)) == [day, day + DAY_MS, day + 4 * DAY_MS]


# --- several batches: appended, late, overwriting ------------------------------------------------


def test_batches_appended_late_and_overwriting(engine):
    """After each batch, every energy aggregation equals the brute force over the points
    stored: a late point changes its successor's increment and the hold of its predecessor."""
    vid = engine.variable()
    day = utc("2024-05-06T00:00:00Z")
    points: dict[int, float] = {}
    rng = random.Random(77)

    def send(batch, granularities=("hour", "day")):
        engine.write(vid, batch)
        points.update(dict(batch) if isinstance(batch, list) else batch)
        check(
            engine,
            vid,
            points,
            PARIS,
            granularities,
            thresholds=(0.0, 2.5),
            carries=(None, 30 * SECOND_MS, 90 * SECOND_MS),
        )

    send(meter(range(day, day + 6 * HOUR_MS, 47_000), seed=1, resets=0.01, noise=0.05))
    last = max(points)
    # appended: continues the counter
    send(meter(range(last + 47_000, last + 3 * HOUR_MS, 47_000), 2, points[last], 0.01, 0.05))
    stored = sorted(points)
    # late, between stored points in the same slots: low values (resets of their successors)
    send({t + 23_000: round(rng.uniform(0, 5), 3) for t in stored[10:400:37]})
    # late, after a slot's last point and before the next slot's first one
    slot_ends = [t for t in range(day + 15 * MINUTE_MS, day + 9 * HOUR_MS, 15 * MINUTE_MS)]
    send({t - 1: points[max(s for s in stored if s < t)] + 0.5 for t in slot_ends[::5]})
    send({t: 0.25 for t in slot_ends[2::7]})  # late on a slot's first millisecond
    # late before the first point: the first point gets a predecessor
    send({day - 5 * MINUTE_MS: 2000.0, day - 20 * MINUTE_MS: 1.0})
    # overwriting: the first and last points of slots, the series' last point, values that
    # turn increments into resets and back
    stored = sorted(points)
    original = dict(points)
    firsts = [min(t for t in stored if t >= s) for s in slot_ends[:20]]
    send({t: 0.0 for t in firsts[::3]} | {stored[-1]: 1.0})
    send({t: points[t] + 1000.0 for t in firsts[1::3]} | {stored[-1]: 1e4})
    send({t: original[t] for t in firsts} | {stored[5]: -3.5, stored[-1]: original[stored[-1]]})
    # a point a day later (the new last point) and one a day earlier; a time twice in a batch
    send([(day + 2 * DAY_MS, 5.0), (day - DAY_MS, 9.0), (day + 2 * DAY_MS, 7.0)])
    check(
        engine,
        vid,
        points,
        ZoneInfo("Asia/Kolkata"),
        ("minute", "hour", "day", "month"),
        thresholds=(0.0, 0.5555, 2.5),
        carries=(None, 30 * SECOND_MS, 2 * DAY_MS),
    )


# --- from and to cut into the first and last buckets -----------------------------------------

CUTS = {  # from, to (wall clock), how far around them and how often points lie
    "minute": ("2024-02-28T23:17:31.250", "2024-02-29T00:03:07", 2 * HOUR_MS, 7_000),
    "hour": ("2024-02-28T10:17:31.250", "2024-03-01T05:03:07", DAY_MS, 97_000),
    "day": ("2024-02-27T10:17:31.250", "2024-03-02T05:03:07", 3 * DAY_MS, 1_511_000),
    "week": ("2024-02-14T10:17:31.250", "2024-03-02T05:03:07", 10 * DAY_MS, 7_211_000),
    "month": ("2023-12-31T10:17:31.250", "2024-03-02T05:03:07", 40 * DAY_MS, 21_601_000),
    "year": ("2023-12-31T10:17:31.250", "2024-12-31T15:03:07", 400 * DAY_MS, 86_401_000),
}


@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize("zone", ["Europe/Paris", "Asia/Kathmandu"])
def test_from_and_to_cut_into_buckets(engine, granularity, zone):
    """The first and last buckets hold only the points of [from, to); their deltas start from
    the predecessor before from; their twa counts the time in [from, to) only, with the value
    held across from."""
    tz = ZoneInfo(zone)
    start_text, end_text, around, step = CUTS[granularity]
    start, end = wall(start_text, tz), wall(end_text, tz)
    vid = engine.variable()
    times = set(range(start - around, end + around, step))
    for edge in (start, end):  # points every 13 s for half an hour on both sides
        times |= set(range(edge - 1_800_000, edge + 1_800_000, 13_000))
    points = meter(sorted(times), seed=start % 1000, resets=0.01, noise=0.05)
    engine.write(vid, points)
    check(
        engine,
        vid,
        points,
        tz,
        (granularity,),
        start,
        end,
        thresholds=(0.0, 2.5),
        carries=(None, 10_000, 2 * step),
    )
    first = engine.buckets(vid, granularity, "first", tz, start=start, end=end)
    assert first[0][0] < start and first[0][1] == points[min(t for t in points if t >= start)]


def test_from_and_to_on_points(engine):
    """from is inclusive and to exclusive, to the millisecond, for every aggregation."""
    vid = engine.variable()
    base = utc("2024-05-01T10:00:00Z")
    points = {base + i * 250: float(i * (-1) ** i) for i in range(20)}
    engine.write(vid, points)
    start, end = base + 1000, base + 3750
    for aggregation, want in (("first", 4.0), ("last", 14.0)):
        got = engine.buckets(vid, "minute", aggregation, UTC, start=start, end=end)
        assert got == [(base, want)]
    check(engine, vid, points, UTC, ("minute", "hour"), start, end, (0.0, 3.0, 100.0), (None, 1000))


def test_nothing_to_answer(engine):
    """A series with no point, and a range between points: no bucket."""
    empty, vid = engine.variable(), engine.variable()
    engine.write(vid, {utc("2024-05-01T10:00:00Z"): 5.0, utc("2024-05-01T12:00:00Z"): 1.0})
    for aggregation in ENERGY:
        for granularity in ("minute", "hour", "day"):
            assert engine.buckets(empty, granularity, aggregation, UTC, carry=HOUR_MS) == []
            got = engine.buckets(
                vid,
                granularity,
                aggregation,
                UTC,
                start=utc("2024-05-01T10:00:00.001Z"),
                end=utc("2024-05-01T12:00:00Z"),
            )
            assert got == []


def test_long_ranges_read_in_windows(engine):
    """Ranges longer than one read of the engine (days of minutes, months of hours, years of
    days): the first bucket of each window takes its predecessor and the value held from the
    window before."""
    tz = ZoneInfo("America/New_York")
    vid = engine.variable()
    first = utc("2021-01-01T00:00:00Z")
    times = set(range(first, first + 1300 * DAY_MS, 3 * DAY_MS + 1_234_567))
    times |= set(range(first + 10 * DAY_MS, first + 210 * DAY_MS, 5 * HOUR_MS + 7 * MINUTE_MS))
    times |= set(range(first + 20 * DAY_MS, first + 25 * DAY_MS, 37 * MINUTE_MS))
    points = meter(sorted(times), seed=99, resets=0.02, noise=0.1)
    engine.write(vid, points)
    for granularity, start, end in [
        ("minute", first + 20 * DAY_MS, first + 25 * DAY_MS),
        ("hour", first + 10 * DAY_MS, first + 210 * DAY_MS),
        ("day", None, None),
    ]:
        check(
            engine,
            vid,
            points,
            tz,
            (granularity,),
            start,
            end,
            thresholds=(0.0, 2.5),
            carries=(None, HOUR_MS, 6 * HOUR_MS, 4 * DAY_MS),
        )


# --- pages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("granularity", "takes"), [("minute", (13, 100)), ("hour", (1, 4)), ("day", (1, 2))]
)
def test_pages_give_the_same_buckets(engine, gappy, granularity, takes):
    """Pages of a few buckets (the cursor `after` is the last bucket start returned) are
    one call's buckets and values: the delta of a page's first bucket starts from the point
    before, its twa counts the value held from the page before."""
    vid, points, day = gappy
    span = {"start": day + 30 * MINUTE_MS + 1, "end": day + 4 * DAY_MS + 6 * HOUR_MS + 1}
    for aggregation, param in [
        ("first", {}),
        ("last", {}),
        ("delta", {"threshold": 0.0}),
        ("delta", {"threshold": 2.5}),
        ("twa", {"carry": None}),
        ("twa", {"carry": 10 * MINUTE_MS}),
        ("twa", {"carry": 2 * DAY_MS}),
    ]:
        whole = engine.buckets(vid, granularity, aggregation, PARIS, **span, **param)
        brute.assert_energy(
            whole, points, granularity, aggregation, PARIS, span["start"], span["end"], **param
        )
        for take in takes:
            pages, after = [], None
            for _ in range(len(whole) + 1):
                page, after = engine.aggregate(
                    vid, granularity, aggregation, PARIS, after=after, take=take, **span, **param
                )
                assert len(page) <= take
                pages += page
                if after is None:
                    break
                assert after == page[-1][0]
            assert after is None
            assert pages == whole, f"{granularity} {aggregation} {param} take={take}"


# --- random series ------------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Santiago",
    "America/Havana",
    "Africa/Monrovia",
]
ANCHORS = [
    utc(text)
    for text in (
        "2024-03-31T01:00:00Z",  # Paris, spring
        "2024-10-27T01:00:00Z",  # Paris, autumn
        "2024-03-10T07:00:00Z",  # New York, spring
        "2024-11-03T06:00:00Z",  # New York, autumn
        "2023-04-01T15:00:00Z",  # Lord Howe, 30 minutes back
        "2024-04-06T14:00:00Z",  # Chatham, 03:45 back to 02:45
        "2023-09-03T04:00:00Z",  # Santiago, no midnight
        "2023-11-05T05:00:00Z",  # Havana, midnight twice
        "1972-01-07T00:44:30Z",  # Monrovia, from -00:44:30 to UTC
        "2024-02-29T18:30:00Z",  # a leap day ends in Kolkata
        "2024-12-31T18:15:00Z",  # a year ends in Kathmandu
        "2024-12-31T23:00:00Z",  # a year ends in Paris
    )
]
SPREADS = [MINUTE_MS, 20 * MINUTE_MS, 3 * HOUR_MS, 2 * DAY_MS, 40 * DAY_MS, 400 * DAY_MS]
# thresholds and values (multiples of 1/8) such that every difference is exact
THRESHOLD = st.sampled_from([0.0, 0.5, 2.5, 100.0, 1e4])
CARRY = st.one_of(
    st.none(),
    st.sampled_from([1000, 60_000, 10 * MINUTE_MS, HOUR_MS, DAY_MS + 1000, 3 * DAY_MS]),
    st.integers(1, 5 * 86_400).map(lambda s: s * 1000),
)


@st.composite
def scenarios(draw):
    """(zone, batches of (time, value), from, to): times gather around an anchor (an offset
    change, a month or year end), in batches that append, come late or overwrite."""
    anchor = draw(st.sampled_from(ANCHORS))
    spread = draw(st.sampled_from(SPREADS))
    offsets = st.integers(-spread, spread)
    on_marks = st.integers(-spread // MINUTE_MS, spread // MINUTE_MS).map(lambda m: m * MINUTE_MS)
    value = draw(
        st.sampled_from(
            [
                st.integers(0, 1000).map(float),
                st.integers(-8000, 8000).map(lambda x: x / 8),
                st.integers(0, 8_000_000).map(lambda x: 1e9 + x / 8),
            ]
        )
    )
    batch = st.lists(
        st.tuples(st.one_of(offsets, on_marks).map(lambda o: anchor + o), value),
        min_size=1,
        max_size=40,
    )
    batches = draw(st.lists(batch, min_size=1, max_size=3))
    zone = draw(st.sampled_from(ZONES))
    start = end = None
    if draw(st.booleans()):
        start = anchor + draw(st.integers(-spread - HOUR_MS, spread))
        end = start + draw(st.integers(1, 2 * spread + 2 * HOUR_MS))
    return ZoneInfo(zone), batches, start, end


@settings(max_examples=50, deadline=None, database=None)
@given(
    scenario=scenarios(),
    granularity=st.sampled_from(GRANULARITIES),
    threshold=THRESHOLD,
    carry=CARRY,
)
def test_random_series_equal_the_brute_force(engine, scenario, granularity, threshold, carry):
    tz, batches, start, end = scenario
    vid, points = write_all(engine, batches)
    span = {} if start is None else {"start": start, "end": end}
    if not brute.buckets(points, granularity, tz, start, end):
        assert engine.buckets(vid, granularity, "twa", tz, **span) == []
        return
    check(engine, vid, points, tz, (granularity,), start, end, (threshold,), (carry,))


@settings(max_examples=25, deadline=None, database=None)
@given(
    scenario=scenarios(),
    granularity=st.sampled_from(GRANULARITIES),
    aggregation=st.sampled_from(ENERGY),
    threshold=THRESHOLD,
    carry=CARRY,
    take=st.integers(1, 4),
)
def test_random_pages_equal_the_brute_force(
    engine, scenario, granularity, aggregation, threshold, carry, take
):
    tz, batches, start, end = scenario
    vid, points = write_all(engine, batches)
    span = {} if start is None else {"start": start, "end": end}
    param = {"threshold": threshold, "carry": carry}
    pages, after = [], None
    for _ in range(len(points) + 1):
        page, after = engine.aggregate(
            vid, granularity, aggregation, tz, after=after, take=take, **span, **param
        )
        pages += page
        if after is None:
            break
    assert after is None
    brute.assert_energy(pages, points, granularity, aggregation, tz, start, end, **param)
