"""Every granularity and aggregation of the engine against the brute force (tests/timeseries/
brute.py) over the raw points: DST days, zones with :30 and :45 offsets, a 30-minute DST
shift, odd historical offsets, skipped and repeated days and midnights, month and year ends,
from/to cutting into buckets, numerical stability. SQLite and PostgreSQL. And the ends of
buckets (calendar.bucket_ends) against the brute force's."""

from __future__ import annotations

import random
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from sodata.timeseries import calendar
from tests.timeseries import brute
from tests.timeseries.brute import AGGREGATIONS, GRANULARITIES, iso, utc, wall

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
QUARTER_MS = 15 * 60_000


def series(first: int, last: int, step_ms: int, seed: int = 1, base: float = 50.0):
    """Points from `first` to `last` every `step_ms`, with pseudo-random values."""
    rng = random.Random(seed)
    return {t: round(base + rng.uniform(-40, 40), 3) for t in range(first, last, step_ms)}


def check(engine, vid, points, tz, start=None, end=None, granularities=GRANULARITIES, **kw):
    """Every aggregation of every granularity equals the brute force; returns the brute
    force's buckets by granularity."""
    found = {}
    for granularity in granularities:
        grouped = brute.buckets(points, granularity, tz, start, end)
        assert grouped, f"{granularity}: the test has no bucket"
        for aggregation in AGGREGATIONS:
            got = engine.buckets(
                vid,
                granularity,
                aggregation,
                tz,
                start=0 if start is None else start,
                end=2**53 if end is None else end,
            )
            brute.assert_close(got, grouped, aggregation, f"{tz.key} {granularity}", **kw)
        found[granularity] = grouped
    return found


def lengths(starts) -> list[float]:
    """Hours between consecutive bucket starts."""
    starts = list(starts)
    return [(b - a) / HOUR_MS for a, b in zip(starts, starts[1:], strict=False)]


# --- the brute force itself, on hand-made cases -----------------------------------------------


def test_the_brute_force_follows_the_wall_clock():
    paris, new_york = ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")
    start = brute.bucket_start
    # days of 23 h and 25 h
    assert iso(start(utc("2024-03-31T12:00:00Z"), "day", paris)) == "2024-03-30T23:00:00Z"
    assert iso(start(utc("2024-04-01T12:00:00Z"), "day", paris)) == "2024-03-31T22:00:00Z"
    assert iso(start(utc("2024-10-27T12:00:00Z"), "day", paris)) == "2024-10-26T22:00:00Z"
    assert iso(start(utc("2024-10-28T12:00:00Z"), "day", paris)) == "2024-10-27T23:00:00Z"
    # the two 02:00 hours of the end of summer time, and the 02:00 that never was
    assert iso(start(utc("2024-10-27T00:30:00Z"), "hour", paris)) == "2024-10-27T00:00:00Z"
    assert iso(start(utc("2024-10-27T01:30:00Z"), "hour", paris)) == "2024-10-27T01:00:00Z"
    assert iso(start(utc("2024-03-31T01:30:00Z"), "hour", paris)) == "2024-03-31T01:00:00Z"
    assert iso(start(utc("2024-11-03T06:10:00Z"), "hour", new_york)) == "2024-11-03T06:00:00Z"
    # weeks from Monday, across a year; months and years
    kolkata = ZoneInfo("Asia/Kolkata")
    assert iso(start(utc("2025-01-03T12:00:00Z"), "week", kolkata)) == "2024-12-29T18:30:00Z"
    assert iso(start(utc("2024-02-29T20:00:00Z"), "month", kolkata)) == "2024-02-29T18:30:00Z"
    assert iso(start(utc("2024-12-31T23:30:00Z"), "year", paris)) == "2024-12-31T23:00:00Z"
    # Lord Howe: at the 30-minute change, the 01:00 hour lasts 90 minutes
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    assert iso(start(utc("2023-04-01T15:20:00Z"), "hour", lord_howe)) == "2023-04-01T14:00:00Z"
    assert iso(start(utc("2023-09-30T15:50:00Z"), "hour", lord_howe)) == "2023-09-30T14:30:00Z"
    # Monrovia, UTC-0:44:30 until its midnight of 1972-01-07, which the clocks skipped
    monrovia = ZoneInfo("Africa/Monrovia")
    assert iso(start(utc("1972-01-06T12:00:00Z"), "day", monrovia)) == "1972-01-06T00:44:30Z"
    assert iso(start(utc("1972-01-07T12:00:00Z"), "day", monrovia)) == "1972-01-07T00:44:30Z"
    assert iso(start(utc("1972-01-07T00:50:00Z"), "hour", monrovia)) == "1972-01-06T23:44:30Z"
    assert iso(start(utc("1972-01-07T00:44:20Z"), "minute", monrovia)) == "1972-01-07T00:43:30Z"


# --- DST days -------------------------------------------------------------------------------

DST_DAYS = [  # zone, day, its hours, the local hour the clocks skip or show twice
    ("Europe/Paris", "2024-03-31", 23, 2),
    ("Europe/Paris", "2024-10-27", 25, 2),
    ("America/New_York", "2024-03-10", 23, 2),
    ("America/New_York", "2024-11-03", 25, 1),
]


@pytest.mark.parametrize(("zone", "day", "hours", "changed"), DST_DAYS)
def test_dst_days_last_23_or_25_hours(engine, zone, day, hours, changed):
    tz = ZoneInfo(zone)
    vid = engine.variable()
    midnight = wall(f"{day}T00:00:00", tz)
    # every 7 min 13 s, from the day before noon to the day after noon
    points = series(midnight - 12 * HOUR_MS, midnight + DAY_MS + 14 * HOUR_MS, 433_000)
    engine.write(vid, points)
    found = check(engine, vid, points, tz)

    days = list(found["day"])
    assert days[1] == midnight and lengths(days) == [24, hours]  # the day before, the day
    hours_of_day = [t for t in found["hour"] if midnight <= t < wall(f"{day}T23:59:59", tz)]
    assert len(hours_of_day) == hours
    assert set(lengths(found["hour"])) == {1.0}
    local = [brute.instant(t).astimezone(tz) for t in hours_of_day]
    assert [h.hour for h in local].count(changed) == {23: 0, 25: 2}[hours]


# --- zones with :30 and :45 offsets, a 30-minute DST shift ----------------------------------


@pytest.mark.parametrize(
    ("zone", "first"),
    [
        ("Asia/Kolkata", "2024-02-27T00:00:00Z"),  # +05:30, across the end of a leap February
        ("Asia/Kathmandu", "2024-12-30T00:00:00Z"),  # +05:45, across a year end
        ("Pacific/Chatham", "2024-04-06T00:00:00Z"),  # +13:45 to +12:45
        ("America/St_Johns", "2024-11-02T12:00:00Z"),  # -02:30 to -03:30
    ],
)
def test_quarter_hour_zones_are_exact(engine, zone, first):
    tz = ZoneInfo(zone)
    vid = engine.variable()
    points = series(utc(first), utc(first) + 3 * DAY_MS, 300_000, seed=7)  # every 5 minutes
    engine.write(vid, points)
    found = check(engine, vid, points, tz)
    assert all(t % HOUR_MS != 0 and t % QUARTER_MS == 0 for t in found["hour"])
    assert all(t % HOUR_MS != 0 for t in found["day"])
    # whole days of 5-minute points: 288 each (Chatham's and St John's change days aside)
    counts = [len(v) for v in found["day"].values()][1:-1]
    assert counts and all(c in (276, 288, 300) for c in counts)


def test_a_thirty_minute_dst_shift(engine):
    tz = ZoneInfo("Australia/Lord_Howe")
    vid = engine.variable()
    points = {}
    for first in ("2023-04-01T06:00:00Z", "2023-09-30T06:00:00Z"):
        points |= series(utc(first), utc(first) + 2 * DAY_MS, 190_000, seed=3)
    engine.write(vid, points)
    found = check(engine, vid, points, tz)
    hour_lengths = lengths(found["hour"])
    assert hour_lengths.count(1.5) == 2  # the 01:00 hour of each change day
    days = list(found["day"])
    assert lengths(days[:3]) == [24, 24.5] and lengths(days[3:]) == [24, 23.5]


# --- odd offsets of the past, skipped and repeated days --------------------------------------


def test_an_offset_of_minutes_and_seconds_cuts_slots(engine):
    """Monrovia was UTC-0:44:30 until 1972-01-07: its hours and days start at :44:30, inside
    15-minute slots, whose points must be read one by one."""
    tz = ZoneInfo("Africa/Monrovia")
    vid = engine.variable()
    points = series(utc("1972-01-05T20:00:00Z"), utc("1972-01-08T04:00:00Z"), 137_000, seed=5)
    engine.write(vid, points)
    found = check(engine, vid, points, tz)
    days = list(found["day"])
    assert [iso(t) for t in days] == [
        "1972-01-05T00:44:30Z",
        "1972-01-06T00:44:30Z",
        "1972-01-07T00:44:30Z",  # the midnight skipped: the instant of the change
        "1972-01-08T00:00:00Z",
    ]
    assert all(t % QUARTER_MS != 0 for t in days[:-1])
    assert any(t % 60_000 != 0 for t in found["minute"])


@pytest.mark.parametrize(
    ("zone", "first", "last"),
    [
        ("Pacific/Apia", "2011-12-28T00:00:00Z", "2012-01-01T12:00:00Z"),  # no 2011-12-30
        ("America/Santiago", "2023-09-01T12:00:00Z", "2023-09-04T12:00:00Z"),  # no midnight
        ("America/Santiago", "2023-03-31T12:00:00Z", "2023-04-03T12:00:00Z"),  # 23:00 twice
        ("America/Havana", "2023-11-04T00:00:00Z", "2023-11-07T00:00:00Z"),  # midnight twice
    ],
)
def test_skipped_and_repeated_days_and_midnights(engine, zone, first, last):
    tz = ZoneInfo(zone)
    vid = engine.variable()
    points = series(utc(first), utc(last), 311_000, seed=11)
    engine.write(vid, points)
    found = check(engine, vid, points, tz)
    dates = [brute.instant(t).astimezone(tz).date().isoformat() for t in found["day"]]
    assert len(set(dates)) == len(dates)
    if zone == "Pacific/Apia":
        assert "2011-12-30" not in dates and {"2011-12-29", "2011-12-31"} <= set(dates)


# --- month and year ends --------------------------------------------------------------------

CALENDAR_ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]


@pytest.fixture(scope="module")
def calendar_series(engine):
    """Points every 47 min 11 s around the ends of February (leap and not), of 30- and
    31-day months, of years, with weeks across months and years."""
    vid = engine.variable()
    points = {}
    for first, last, seed in [
        ("2023-02-24", "2023-03-03", 1),
        ("2023-12-20", "2024-03-06", 2),
        ("2024-04-26", "2024-05-03", 3),
        ("2024-06-27", "2024-07-02", 4),
        ("2024-09-28", "2024-10-02", 5),
        ("2024-12-27", "2025-01-06", 6),
    ]:
        points |= series(utc(f"{first}T00:00:00Z"), utc(f"{last}T00:00:00Z"), 2_831_000, seed)
    engine.write(vid, points)
    return vid, points


@pytest.mark.parametrize("zone", CALENDAR_ZONES)
def test_month_and_year_ends(engine, calendar_series, zone):
    vid, points = calendar_series
    tz = ZoneInfo(zone)
    found = check(engine, vid, points, tz, granularities=("hour", "day", "week", "month", "year"))
    months = [brute.instant(t).astimezone(tz) for t in found["month"]]
    assert all((m.day, m.hour, m.minute) == (1, 0, 0) for m in months)
    assert [m.strftime("%Y-%m") for m in months] == [
        "2023-02",
        "2023-03",
        "2023-12",
        "2024-01",
        "2024-02",
        "2024-03",
        "2024-04",
        "2024-05",
        "2024-06",
        "2024-07",
        "2024-09",
        "2024-10",
        "2024-12",
        "2025-01",
    ]
    weeks = [brute.instant(t).astimezone(tz) for t in found["week"]]
    assert all(w.weekday() == 0 and (w.hour, w.minute) == (0, 0) for w in weeks)
    assert "2024-12-30" in [w.date().isoformat() for w in weeks]  # Monday to Sunday 2025-01-05
    years = [brute.instant(t).astimezone(tz).strftime("%Y-%m-%dT%H:%M") for t in found["year"]]
    assert years == ["2023-01-01T00:00", "2024-01-01T00:00", "2025-01-01T00:00"]
    feb = found["day"]
    leap_day = wall("2024-02-29T00:00:00", tz)
    assert leap_day in feb and wall("2024-03-01T00:00:00", tz) - leap_day == DAY_MS


# --- from and to cut into the first and last buckets ----------------------------------------


CUTS = {  # from, to (wall clock), and how far around them and how often points lie
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
    tz = ZoneInfo(zone)
    start_text, end_text, around, step = CUTS[granularity]
    start, end = wall(start_text, tz), wall(end_text, tz)
    vid = engine.variable()
    points = series(start - around, end + around, step, seed=13)
    for edge in (start, end):  # points every 13 s for half an hour on both sides
        points |= series(edge - 1_800_000, edge + 1_800_000, 13_000, seed=edge % 1000)
    engine.write(vid, points)
    found = check(engine, vid, points, tz, start, end, granularities=(granularity,))
    grouped = found[granularity]
    first, last = min(grouped), max(grouped)
    assert first < start, "the first bucket is reported by its calendar start"
    assert brute.bucket_start(start, granularity, tz) == first
    whole = brute.buckets(points, granularity, tz)
    assert len(grouped[first]) < len(whole[first]), "the first bucket holds points >= from only"
    assert len(grouped[last]) < len(whole[last]), "the last bucket holds points < to only"


def test_from_and_to_on_points(engine):
    """from is inclusive, to exclusive, to the millisecond."""
    tz = ZoneInfo("UTC")
    vid = engine.variable()
    points = {utc("2024-05-01T10:00:00Z") + i * 250: float(i) for i in range(20)}
    engine.write(vid, points)
    start, end = utc("2024-05-01T10:00:01Z"), utc("2024-05-01T10:00:03.750Z")
    got = engine.buckets(vid, "minute", "count", tz, start=start, end=end)
    assert got == [(utc("2024-05-01T10:00:00Z"), 11)]
    got = engine.buckets(vid, "minute", "min", tz, start=start, end=end)
    assert got == [(utc("2024-05-01T10:00:00Z"), 4.0)]
    raw, _ = engine.raw(vid, start, end)
    assert raw == [(t, v) for t, v in sorted(points.items()) if start <= t < end]


# --- numerical stability, large counts ------------------------------------------------------


def test_variance_of_large_values_with_small_noise(engine):
    """1e9 + noise: var and stdev to 1e-6 of the exact (statistics.variance) values, in
    buckets made of one slot, of many slots, of slots and raw points."""
    rng = random.Random(42)
    vid = engine.variable()
    first = utc("2024-03-29T00:00:00Z")
    points = {t: 1e9 + rng.uniform(-1, 1) for t in range(first, first + 4 * DAY_MS, 20_000)}
    engine.write(vid, points)
    tz = ZoneInfo("Europe/Paris")
    check(engine, vid, points, tz, granularities=("hour", "day", "week", "month"), strict=True)
    start, end = first + 12_345_678, first + 3 * DAY_MS + 7_654_321
    check(engine, vid, points, tz, start, end, granularities=("day", "year"), strict=True)
    check(engine, vid, points, ZoneInfo("Asia/Kolkata"), granularities=("day",), strict=True)


def test_large_counts(engine):
    """150,000 points in one batch (one a second, with 1e6 + noise): counts, sums, means and
    variances of days, months and a year."""
    rng = random.Random(9)
    vid = engine.variable()
    first = utc("2024-01-30T18:00:00Z")
    points = {first + i * 1000: 1e6 + rng.gauss(0, 5) for i in range(150_000)}
    engine.write(vid, points)
    tz = ZoneInfo("Asia/Kolkata")
    found = check(engine, vid, points, tz, granularities=("day", "month", "year"), strict=True)
    assert sum(len(v) for v in found["year"].values()) == 150_000
    assert max(len(v) for v in found["day"].values()) == 86_400


# --- long ranges, read window by window -----------------------------------------------------


def test_long_ranges_read_in_windows(engine):
    """Ranges far longer than one read of the engine (two days of minutes, months of hours,
    years of days and weeks): no bucket lost or doubled at the joins."""
    tz = ZoneInfo("Europe/Paris")
    vid = engine.variable()
    points = series(utc("2016-02-01T00:00:00Z"), utc("2024-03-01T00:00:00Z"), 111_600_000, 21)
    points |= series(utc("2023-01-01T00:00:00Z"), utc("2023-07-20T00:00:00Z"), 5_820_000, 22)
    points |= series(utc("2023-03-24T00:00:00Z"), utc("2023-03-28T12:00:00Z"), 47_000, 23)
    engine.write(vid, points)
    check(engine, vid, points, tz, granularities=("day", "week", "month", "year"))
    start, end = utc("2022-12-30T05:00:00Z"), utc("2023-07-20T00:00:00Z")
    check(engine, vid, points, tz, start, end, granularities=("hour",))
    start, end = utc("2023-03-23T23:59:00Z"), utc("2023-03-28T12:00:00Z")
    check(engine, vid, points, tz, start, end, granularities=("minute",))


# --- bucket ends (calendar.bucket_ends) -----------------------------------------------------

BUCKET_END_DAYS = [  # zone, a local day around which buckets are cut, the day's hours
    ("Europe/Paris", "2024-03-31", 23),
    ("Europe/Paris", "2024-10-27", 25),
    ("America/New_York", "2024-03-10", 23),
    ("America/New_York", "2024-11-03", 25),
    ("Asia/Kolkata", "2024-02-29", 24),  # +05:30, a leap day ends a month
    ("Asia/Kathmandu", "2024-12-31", 24),  # +05:45, a year ends
    ("Australia/Lord_Howe", "2023-04-02", 24.5),  # 30 minutes back
    ("Australia/Lord_Howe", "2023-10-01", 23.5),  # 30 minutes forward
]


@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize(("zone", "day", "hours"), BUCKET_END_DAYS)
def test_bucket_ends_are_the_next_bucket_starts(zone, day, hours, granularity):
    """calendar.bucket_ends gives, for each bucket start, the smallest later instant whose
    bucket start differs (the brute force's bisection), for the buckets of the day, its
    neighbours, and its offset changes minute by minute."""
    tz = ZoneInfo(zone)
    midnight = wall(f"{day}T00:00:00", tz)
    instants = set(range(midnight - 3 * HOUR_MS, midnight + 27 * HOUR_MS, 433_000))
    instants |= set(range(midnight, midnight + 5 * HOUR_MS, 60_000))  # the changes
    starts = sorted({brute.bucket_start(t, granularity, tz) for t in instants})
    offsets = calendar.Offsets(tz, starts[0], starts[-1] + 370 * DAY_MS)
    got = calendar.bucket_ends(np.array(starts, dtype=np.int64), granularity, offsets)
    want = [brute.bucket_end(s, granularity, tz) for s in starts]
    assert [iso(t) for t in got.tolist()] == [iso(t) for t in want], f"{zone} {granularity}"
    if granularity == "day":
        assert (brute.bucket_end(midnight, "day", tz) - midnight) / HOUR_MS == hours
    if granularity == "hour" and zone == "Australia/Lord_Howe":
        assert max(b - a for a, b in zip(starts, want, strict=True)) == 1.5 * HOUR_MS
