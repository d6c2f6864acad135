"""Retention (sodata.timeseries.retention): raw points past the retention are removed, the
rollups stay, so 15-minute to yearly aggregates still equal the brute force over every point
ever written, in Paris and in Kathmandu; on PostgreSQL whole monthly partitions are dropped
and the next months' are created ahead. Each test on a database of its own (a round removes
the old points of every series)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import text

from sodata.kit.db import make_engine
from sodata.timeseries import retention, store
from sodata.timeseries.calendar import DAY_MS, month_of, month_start
from tests.conftest import BACKENDS, fresh_database, open_session
from tests.timeseries import brute
from tests.timeseries.brute import AGGREGATIONS
from tests.timeseries.conftest import Engine

ZONES = (ZoneInfo("Europe/Paris"), ZoneInfo("Asia/Kathmandu"))
DAYS = 30
NOW = int(time.time() * 1000) // 60_000 * 60_000


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    with fresh_database(request.param, tmp_path) as url, open_session(url) as session:
        yield url, Engine(session, request.param)


def history(seed: int, start: int, end: int) -> dict[int, float]:
    """A point every 7 minutes and a few seconds, in [start, end)."""
    rng = random.Random(seed)
    return {
        t + rng.randrange(60_000): round(rng.uniform(0, 100), 1) for t in range(start, end, 420_000)
    }


def partitions(url: str) -> set[int]:
    """PostgreSQL: the months of datapoints' partitions."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = conn.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                    " WHERE i.inhparent = 'datapoints'::regclass"
                )
            ).scalars()
            return {store.partition_month(name) for name in names}  # type: ignore[misc]
    finally:
        engine.dispose()


def test_raw_points_go_and_aggregates_stay(database: tuple[str, Engine]) -> None:
    url, engine = database
    written = {}
    for seed in range(2):
        vid = engine.variable()
        written[vid] = history(seed, NOW - 100 * DAY_MS, NOW)
        times = list(written[vid])
        for lo in range(0, len(times), 5000):  # batches of some days
            engine.write(vid, {t: written[vid][t] for t in times[lo : lo + 5000]})
    bound = retention.removal_bound(DAYS, NOW)
    assert NOW - (DAYS + 2) * DAY_MS <= bound <= NOW - (DAYS + 1) * DAY_MS and bound % DAY_MS == 0

    sql = make_engine(url)
    try:
        removed = retention.run(sql, DAYS, NOW)
        assert removed > 0
        assert retention.run(sql, DAYS, NOW) == 0  # nothing left to remove
    finally:
        sql.dispose()

    for vid, points in written.items():
        engine.session.rollback()
        raw, _ = engine.raw(vid)
        kept = {t: v for t, v in points.items() if t >= engine_bound(url, bound)}
        assert dict(raw) == kept
        assert min(points) < min(kept) and len(kept) < len(points)  # some removed, some kept
        assert engine.buckets(vid, "minute", "count", ZONES[0], end=min(kept)) == []
        for tz in ZONES:
            for granularity in ("hour", "day", "month"):
                grouped = brute.buckets(points, granularity, tz)
                for aggregation in AGGREGATIONS:
                    got = engine.buckets(vid, granularity, aggregation, tz)
                    brute.assert_close(got, grouped, aggregation, f"{granularity} {tz}")

    if engine.backend == "postgresql":
        months = partitions(url)
        this_month = int(month_of(np.array([NOW]))[0])
        assert set(range(this_month, this_month + retention.AHEAD_MONTHS + 1)) <= months
        assert all(month_start(m + 1) > bound for m in months)  # whole months dropped
        assert min(months) == int(month_of(np.array([bound]))[0])  # the one the bound cuts


def engine_bound(url: str, bound: int) -> int:
    """Where raw points start after a round: the bound (SQLite), the start of the month the
    bound is in (PostgreSQL drops whole months only)."""
    if url.startswith("postgresql"):
        return month_start(int(month_of(np.array([bound]))[0]))
    return bound


def test_a_late_point_after_removal_keeps_the_aggregates_exact(database: tuple[str, Engine]):
    url, engine = database
    vid = engine.variable()
    points = history(7, NOW - 60 * DAY_MS, NOW)
    engine.write(vid, points)
    sql = make_engine(url)
    try:
        retention.run(sql, DAYS, NOW)
    finally:
        sql.dispose()
    # within the retention: overwrite a point, and add one between two others
    horizon = retention.horizon(DAYS, NOW)
    assert horizon is not None
    late = {t: v + 1000 for t, v in points.items() if t >= horizon + DAY_MS}
    first = min(late)
    changed = {first: late[first], first + 1: 5.0}
    engine.write(vid, changed)
    points.update(changed)
    for tz in ZONES:
        for aggregation in ("avg", "count", "max"):
            got = engine.buckets(vid, "day", aggregation, tz)
            brute.assert_close(got, brute.buckets(points, "day", tz), aggregation, str(tz))


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="partitions are PostgreSQL's")
def test_writers_of_a_month_without_partition_create_it_once(tmp_path: Path) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        with open_session(url) as session:
            engine = Engine(session, "postgresql")
            variables = [engine.variable() for _ in range(4)]
        month = int(month_of(np.array([brute.utc("1999-03-01T00:00:00Z")]))[0])
        assert month not in partitions(url)
        errors: list[BaseException] = []
        start = threading.Barrier(len(variables))

        def write(vid: int) -> None:
            try:
                with open_session(url) as session:
                    t = brute.utc("1999-03-10T00:00:00Z") + np.arange(100) * 60_000
                    start.wait()
                    store.write(session, [store.SeriesPoints.of(vid, t, np.ones(100))])
                    session.commit()
            except BaseException as exc:  # noqa: BLE001 (reported below)
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(vid,)) for vid in variables]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert month in partitions(url)
        with open_session(url) as session:
            count = session.execute(text("SELECT count(*) FROM datapoints")).scalar()
            name = store.partition_name(month)
            own = session.execute(text(f"SELECT count(*) FROM {name}")).scalar()
        assert count == own == 400
