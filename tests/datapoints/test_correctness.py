"""Aggregates through the real server against the brute force (tests/timeseries/brute.py):
points go in with POST /devices/{d}/datapoints, come out of PUT /datapoints, and every
granularity and aggregation equals the brute force over the points sent. DST days, :30 and
:45 zones, month and year ends, from/to read in the device's zone or in `timezone` (spec
7.1), paging of buckets, overwrites and late data (with the server's rollup rows read from its
database), 1e9 + noise. SQLite and PostgreSQL."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sodata.models import Variable
from tests.conftest import PG_ADMIN_URL, Server, open_session
from tests.datapoints.wire import LOAD, Account, iso, ok
from tests.timeseries import brute, recompute
from tests.timeseries.brute import AGGREGATIONS, GRANULARITIES, utc, wall

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
CHUNK = 50_000  # points per ingestion call


@pytest.fixture(scope="module")
def account(api: httpx.Client) -> Iterator[Account]:
    account = Account.create(api)
    yield account
    account.close()


def series(first: int, last: int, step_ms: int, seed: int, base: float = 50.0) -> dict:
    rng = random.Random(seed)
    return {t: round(base + rng.uniform(-40, 40), 3) for t in range(first, last, step_ms)}


def send(account: Account, device: str, points: dict[int, float] | list) -> None:
    """Sends the points (in calls of at most CHUNK), all of them accepted."""
    items = list(points.items()) if isinstance(points, dict) else list(points)
    for i in range(0, len(items), CHUNK):
        data = [{"at": iso(t), "value": v} for t, v in items[i : i + CHUNK]]
        answer = account.sent(device, [{"mappingConfig": LOAD, "data": data}])
        assert (answer["accepted"], answer["rejected"]) == (len(data), 0), answer


def ask(
    account: Account,
    device: str,
    granularity: str,
    start: str,
    end: str,
    aggregations=AGGREGATIONS,
    **fields: Any,
) -> list[dict[str, Any]]:
    """One query with a series per aggregation; their answers, complete (no nextAfter)."""
    series = [{"deviceUuid": device, "mappingConfig": LOAD, "aggregation": a} for a in aggregations]
    if granularity == "raw":
        series = [{"deviceUuid": device, "mappingConfig": LOAD}]
    answer = ok(
        account.query(series, granularity=granularity, **{"from": start, "to": end}, **fields)
    )
    assert all(s["nextAfter"] is None for s in answer["series"])
    return answer["series"]


def pairs(answer: dict[str, Any]) -> list[tuple[int, Any]]:
    return [(utc(p["at"]), p["value"]) for p in answer["data"]]


def check(
    account, device, points, tz, start, end, granularities=GRANULARITIES, strict=False, **fields
):
    """Every aggregation of every granularity over [start, end) (wall-clock texts, read in
    `tz`) equals the brute force (var and stdev to 1e-6 relative with strict); returns the
    brute force's buckets by granularity."""
    found = {}
    lo, hi = wall(start, tz), wall(end, tz)
    for granularity in granularities:
        grouped = brute.buckets(points, granularity, tz, lo, hi)
        assert grouped, f"{granularity}: the test has no bucket"
        answers = ask(account, device, granularity, start, end, **fields)
        for aggregation, answer in zip(AGGREGATIONS, answers, strict=True):
            assert answer["aggregation"] == aggregation
            context = f"{tz.key} {granularity}"
            brute.assert_close(pairs(answer), grouped, aggregation, context, strict=strict)
        found[granularity] = grouped
    return found


def hours(starts) -> list[float]:
    starts = list(starts)
    return [(b - a) / HOUR_MS for a, b in zip(starts, starts[1:], strict=False)]


# --- DST days ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dst_device(account: Account) -> tuple[str, dict[int, float]]:
    """A device (in UTC) with points every 7 min 13 s over the DST changes of 2024 in Paris and
    New York, from the day before to the day after."""
    device = account.device(timeZone="UTC")
    points = {}
    for i, change in enumerate(
        ["2024-03-10T07:00", "2024-03-31T01:00", "2024-10-27T01:00", "2024-11-03T06:00"]
    ):
        first = utc(f"{change}:00Z") - 36 * HOUR_MS
        points |= series(first, first + 3 * DAY_MS, 433_000, seed=i)
    send(account, device, points)
    return device, points


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        ("Europe/Paris", "2024-03-31", "2024-10-27"),
        ("America/New_York", "2024-03-10", "2024-11-03"),
    ],
)
def test_dst_days(account, dst_device, zone, spring, autumn):
    device, points = dst_device
    tz = ZoneInfo(zone)
    found = check(
        account, device, points, tz, "2024-03-01T00:00:00", "2024-12-01T00:00:00", timezone=zone
    )
    days = found["day"]
    for day, length in ((spring, 23), (autumn, 25)):
        start = wall(f"{day}T00:00:00", tz)
        following = min(t for t in days if t > start)
        assert start in days and (following - start) / HOUR_MS == length
        of_day = [t for t in found["hour"] if start <= t < following]
        assert len(of_day) == length and set(hours(of_day + [following])) == {1.0}
        assert len(days[start]) in (length * 3600 // 433, length * 3600 // 433 + 1)


def test_the_device_zone_gives_the_same_days(account, dst_device):
    """useDeviceLocalTimezone true with a Europe/Paris device answers what timezone
    Europe/Paris does, whatever `timezone` says; a device in UTC gets UTC days."""
    device, points = dst_device
    paris = account.device(timeZone="Europe/Paris")
    send(account, paris, points)
    for granularity in ("hour", "day", "month"):
        by_zone = ask(
            account,
            paris,
            granularity,
            "2024-03-30T00:00:00",
            "2024-04-02T00:00:00",
            timezone="Europe/Paris",
        )
        by_device = ask(
            account,
            paris,
            granularity,
            "2024-03-30T00:00:00",
            "2024-04-02T00:00:00",
            timezone="America/New_York",
            useDeviceLocalTimezone=True,
        )
        assert [s["data"] for s in by_zone] == [s["data"] for s in by_device]
        assert by_device[0]["deviceTimeZone"] == "Europe/Paris"
    in_utc = ask(
        account,
        device,
        "day",
        "2024-03-30T00:00:00",
        "2024-04-02T00:00:00",
        useDeviceLocalTimezone=True,
    )
    assert [p["at"] for p in in_utc[0]["data"]] == [
        "2024-03-30T00:00:00Z",
        "2024-03-31T00:00:00Z",
        "2024-04-01T00:00:00Z",
    ]


# --- :30 and :45 zones ----------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Asia/Kathmandu"])
def test_half_and_quarter_hour_zones(account, zone):
    device = account.device(timeZone=zone)
    tz = ZoneInfo(zone)
    first = utc("2024-02-27T00:00:00Z")
    points = series(first, first + 4 * DAY_MS, 300_000, seed=3)  # every 5 minutes
    send(account, device, points)
    found = check(
        account,
        device,
        points,
        tz,
        "2024-02-27T00:00:00",
        "2024-03-05T00:00:00",
        granularities=("hour", "day", "week", "month"),
        useDeviceLocalTimezone=True,
    )
    assert all(t % HOUR_MS != 0 for t in list(found["hour"]) + list(found["day"]))
    whole_days = list(found["day"].values())[1:-1]
    assert whole_days and all(len(v) == 288 for v in whole_days)


# --- month and year ends --------------------------------------------------------------------


@pytest.fixture(scope="module")
def calendar_device(account: Account) -> tuple[str, dict[int, float]]:
    """Points every 97 min 13 s from mid-December 2023 to mid-January 2025."""
    device = account.device(timeZone="Asia/Kolkata")
    points = series(utc("2023-12-15T00:00:00Z"), utc("2025-01-15T00:00:00Z"), 5_833_000, seed=8)
    send(account, device, points)
    return device, points


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "Asia/Kolkata", "America/New_York"])
def test_month_and_year_ends(account, calendar_device, zone):
    device, points = calendar_device
    tz = ZoneInfo(zone)
    found = check(
        account,
        device,
        points,
        tz,
        "2023-12-01T00:00:00",
        "2025-02-01T00:00:00",
        granularities=("day", "week", "month", "year"),
        timezone=zone,
    )
    months = [brute.instant(t).astimezone(tz) for t in found["month"]]
    assert len(months) == 14 and all((m.day, m.hour, m.minute) == (1, 0, 0) for m in months)
    lengths = [round(h / 24) for h in hours(found["month"])]
    assert lengths == [31, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    weeks = [brute.instant(t).astimezone(tz) for t in found["week"]]
    assert all(w.weekday() == 0 and (w.hour, w.minute) == (0, 0) for w in weeks)
    assert {"2024-01-01", "2024-04-29", "2024-12-30"} <= {w.date().isoformat() for w in weeks}
    assert len(found["year"]) == 3


# --- from and to: the device's zone or `timezone` (spec 7.1) ---------------------------------


@pytest.fixture(scope="module")
def spec_device(account: Account) -> tuple[str, dict[int, float]]:
    """A Europe/Paris device with a point every 38 s from 2021-09-19T20:00Z to 2021-09-20T10:00Z."""
    device = account.device(timeZone="Europe/Paris")
    points = series(utc("2021-09-19T20:00:00Z"), utc("2021-09-20T10:00:00Z"), 38_000, seed=9)
    send(account, device, points)
    return device, points


def test_the_spec_example_reads_from_on_the_device_clock(account, spec_device):
    device, points = spec_device
    start, end = "2021-09-20T07:47:26.724Z", "2021-09-20T09:00:00Z"
    raw = pairs(ask(account, device, "raw", start, end, useDeviceLocalTimezone=True)[0])
    lo, hi = utc("2021-09-20T05:47:26.724Z"), utc("2021-09-20T07:00:00Z")
    assert raw == sorted((t, v) for t, v in points.items() if lo <= t < hi)
    assert raw[0][0] - lo < 38_000 and raw[0][0] >= lo
    # the same wall clock in UTC, or in Paris given as timezone
    in_utc = pairs(ask(account, device, "raw", start, end, timezone="UTC")[0])
    assert in_utc == sorted((t, v) for t, v in points.items() if utc(start) <= t < utc(end))
    in_paris = ask(account, device, "raw", start, end, timezone="Europe/Paris")
    assert pairs(in_paris[0]) == raw
    # an offset in the text is ignored: only the wall clock counts
    shifted = ask(
        account,
        device,
        "raw",
        "2021-09-20T07:47:26.724+05:00",
        "2021-09-20T09:00:00-03:00",
        useDeviceLocalTimezone=True,
    )
    assert pairs(shifted[0]) == raw


@pytest.mark.parametrize("use_device", [True, False])
def test_from_and_to_cut_into_the_first_and_last_buckets(account, spec_device, use_device):
    """The first bucket is reported by its calendar start (local midnight, the hour) but holds
    only the points from `from` on; the last one only those before `to`."""
    device, points = spec_device
    tz = ZoneInfo("Europe/Paris") if use_device else ZoneInfo("UTC")
    fields = {"useDeviceLocalTimezone": True} if use_device else {"timezone": "UTC"}
    start, end = "2021-09-20T07:47:26.724Z", "2021-09-20T09:13:00Z"
    found = check(
        account,
        device,
        points,
        tz,
        start[:-1],
        end[:-1],
        granularities=("minute", "hour", "day", "week", "month", "year"),
        **fields,
    )
    lo = wall(start[:-1], tz)
    for granularity, grouped in found.items():
        if granularity == "minute":  # the minute of from may have no point after it
            continue
        first = min(grouped)
        assert first < lo and first == brute.bucket_start(lo, granularity, tz)
        whole = brute.buckets(points, granularity, tz)
        assert len(grouped[first]) < len(whole[first]), granularity
    midnight = "2021-09-19T22:00:00Z" if use_device else "2021-09-20T00:00:00Z"
    assert [brute.iso(t) for t in found["day"]] == [midnight]


def test_series_of_devices_in_different_zones_follow_their_own_clocks(account, spec_device):
    device, points = spec_device
    tokyo = account.device(timeZone="Asia/Tokyo")
    send(account, tokyo, points)
    body = [
        {"deviceUuid": d, "mappingConfig": LOAD, "aggregation": "count"} for d in (device, tokyo)
    ]
    answer = ok(
        account.query(
            body,
            granularity="hour",
            useDeviceLocalTimezone=True,
            **{"from": "2021-09-20T05:30:00Z", "to": "2021-09-20T08:00:00Z"},
        )
    )
    for series_answer, zone in zip(answer["series"], ("Europe/Paris", "Asia/Tokyo"), strict=True):
        tz = ZoneInfo(zone)
        grouped = brute.buckets(
            points, "hour", tz, wall("2021-09-20T05:30:00", tz), wall("2021-09-20T08:00:00", tz)
        )
        brute.assert_close(pairs(series_answer), grouped, "count", zone)


# --- paging ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("granularity", "take"), [("minute", 97), ("hour", 7), ("day", 1)])
def test_pages_of_buckets_hold_each_bucket_once(account, dst_device, granularity, take):
    device, points = dst_device
    tz = ZoneInfo("Europe/Paris")
    start, end = "2024-10-25T00:00:00", "2024-10-29T00:00:00"
    body = [
        {"deviceUuid": device, "mappingConfig": LOAD, "aggregation": a} for a in ("avg", "stdev")
    ]
    fields = {"from": start, "to": end, "timezone": "Europe/Paris", "granularity": granularity}
    whole = ok(account.query(body, **fields))["series"]
    assert all(s["nextAfter"] is None for s in whole)
    pages: list[list] = [[], []]
    for _ in range(len(whole[0]["data"]) // take + 2):
        answer = ok(account.query(body, take=take, **fields))["series"]
        for i, s in enumerate(answer):
            assert len(s["data"]) <= take
            pages[i] += s["data"]
            body[i]["after"] = s["nextAfter"]
        if all(s["nextAfter"] is None for s in answer):
            break
        assert all(s["nextAfter"] is not None for s in answer)  # same buckets, same pages
    else:
        pytest.fail("paging did not end")
    assert pages == [whole[0]["data"], whole[1]["data"]]
    grouped = brute.buckets(points, granularity, tz, wall(start, tz), wall(end, tz))
    brute.assert_close(pairs({"data": pages[0]}), grouped, "avg", "paged avg")
    brute.assert_close(pairs({"data": pages[1]}), grouped, "stdev", "paged stdev")


# --- overwrites and late data, with the server's rollups --------------------------------------


@contextmanager
def server_database(server: Server) -> Iterator[Session]:
    """A session on the test server's own database."""
    if server.backend == "postgresql":
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        url = f"{base}/{server.pg_name}"
    else:
        url = f"sqlite:///{server.log_path.parent / 'sodata-test.db'}"
    with open_session(url) as session:
        yield session


def test_overwrites_and_late_data_keep_rollups_equal_to_raw(server, account):
    device = account.device(timeZone="Europe/Paris")
    variable = uuid.UUID(account.variables(device)[LOAD])
    day = utc("2024-06-03T00:00:00Z")
    rng = random.Random(5)
    sent: dict[int, float] = {}
    times = list(range(day, day + 2 * DAY_MS, 30_000))
    steps = [
        ("every other point", [(t, rng.uniform(0, 100)) for t in times[::2]]),
        ("all of them again, new values", [(t, rng.uniform(0, 100)) for t in times[::2]]),
        ("the gaps, late", [(t, rng.uniform(0, 100)) for t in times[1::2]]),
        (
            "before and after",
            [(t, rng.uniform(0, 100)) for t in range(day - DAY_MS, day, 600_000)]
            + [
                (t, rng.uniform(0, 100)) for t in range(day + 3 * DAY_MS, day + 4 * DAY_MS, 600_000)
            ],
        ),
        (
            "a mixture, with times twice",
            [(t, rng.uniform(-1e3, 1e3)) for t in rng.sample(times, 500)]
            + [(t + 7_000, rng.uniform(0, 1)) for t in rng.sample(times, 300)]
            + [(times[10], 1.0), (times[10], 2.0)],
        ),
    ]
    with server_database(server) as session:
        vid = session.scalar(select(Variable.id).where(Variable.uuid == variable))
        for name, batch in steps:
            send(account, device, batch)
            sent.update(batch)
            session.rollback()  # a new snapshot of the server's writes
            raw = recompute.assert_rollups_match_raw(session, vid)
            assert raw == sent, name
    tz = ZoneInfo("Europe/Paris")
    found = check(
        account,
        device,
        sent,
        tz,
        "2024-06-01T00:00:00",
        "2024-06-10T00:00:00",
        granularities=("hour", "day", "week"),
        timezone="Europe/Paris",
    )
    assert sum(len(v) for v in found["week"].values()) == len(sent)


# --- numerical stability ----------------------------------------------------------------------


def test_large_values_with_small_noise(account):
    """64,000 points of 1e9 + noise (one every 2 s): var and stdev to 1e-6 of the exact ones."""
    device = account.device(timeZone="Europe/Paris")
    rng = random.Random(17)
    first = utc("2024-03-30T12:00:00Z")
    points = {first + i * 2000: 1e9 + rng.uniform(-1, 1) for i in range(64_000)}
    send(account, device, points)
    found = check(
        account,
        device,
        points,
        ZoneInfo("Europe/Paris"),
        "2024-03-30T15:17:00",
        "2024-04-01T00:00:00",
        granularities=("hour", "day", "month"),
        strict=True,
        useDeviceLocalTimezone=True,
    )
    assert max(len(v) for v in found["day"].values()) == 23 * 1800  # the 23-hour day, whole


def test_from_and_to_shown_twice_or_skipped_by_the_clock(account, dst_device):
    """A wall-clock time shown twice (02:30 on 27 October in Paris) is its first occurrence; a
    skipped one (02:30 on 31 March) is read with the offset before the change."""
    device, points = dst_device
    for start, end, lo, hi in [
        (
            "2024-10-27T02:30:00",
            "2024-10-27T04:00:00",
            "2024-10-27T00:30:00Z",
            "2024-10-27T03:00:00Z",
        ),
        (
            "2024-03-31T01:00:00",
            "2024-03-31T02:30:00",
            "2024-03-31T00:00:00Z",
            "2024-03-31T01:30:00Z",
        ),
    ]:
        raw = ask(account, device, "raw", start, end, timezone="Europe/Paris")
        assert pairs(raw[0]) == sorted((t, v) for t, v in points.items() if utc(lo) <= t < utc(hi))
        counts = ask(account, device, "hour", start, end, ["count"], timezone="Europe/Paris")
        grouped = brute.buckets(points, "hour", ZoneInfo("Europe/Paris"), utc(lo), utc(hi))
        brute.assert_close(pairs(counts[0]), grouped, "count", start)
