"""One store.write of many series at once (an MQTT flush, an HTTP batch of many variables):
series that only extend, new ones, overwrites, late points, a late point with an overwrite and
the same variable twice, mixed in each call, across day and month ends. After every call, each series' rollups equal a
recomputation from its raw rows, its raw rows hold the last value sent for each time, its last
value is its latest point, and its aggregates equal the brute force. SQLite and PostgreSQL."""

from __future__ import annotations

import random
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import text

from sodata.timeseries import store
from tests.timeseries import brute
from tests.timeseries.brute import utc

START = utc("2024-01-30T22:00:00Z")  # a day end and a month end within the calls
KOLKATA = ZoneInfo("Asia/Kolkata")  # half-hour offset: buckets from the 15-minute slots
PARIS = ZoneInfo("Europe/Paris")  # whole hours: from the hourly rows and the open day's slots


@pytest.mark.parametrize("rows_by_copy", [False, True])
def test_many_series_in_one_write_each_stay_exact(engine, monkeypatch, rows_by_copy) -> None:
    if rows_by_copy:  # PostgreSQL writes rollup rows through COPY from this many on
        monkeypatch.setattr(store, "_COPY_ROWS", 1)
    rng = random.Random(12)
    vids = [engine.variable() for _ in range(40)]
    written: dict[int, dict[int, float]] = {vid: {} for vid in vids}
    clock = START
    for call in range(6):
        batches = []
        for vid in vids:
            kind = rng.choice(["extend", "extend", "overwrite", "late", "mixed", "twice", "skip"])
            points = written[vid]
            if kind == "skip":
                continue
            if kind == "overwrite" and points:
                times = rng.sample(sorted(points), min(3, len(points)))
            elif kind == "late" and points:
                first = min(points)
                times = [first - rng.randrange(1, 3 * 86_400_000) for _ in range(3)]
            elif kind == "mixed" and points:  # a new point before a stored one sent again
                times = [min(points) - rng.randrange(1, 86_400_000), rng.choice(sorted(points))]
            else:
                times = [clock + rng.randrange(0, 3 * 3_600_000) for _ in range(rng.randint(1, 8))]
            batch = {t: round(rng.uniform(-50, 50), 2) for t in times}
            batches.append(store.SeriesPoints.of(vid, list(batch), list(batch.values())))
            if kind == "twice":  # the same variable again in the same call: its later point wins
                again = {times[0]: 1000.0 + call, times[0] + 1: 7.0}
                batches.append(store.SeriesPoints.of(vid, list(again), list(again.values())))
                batch.update(again)
            points.update(batch)
        batches.sort(key=lambda b: -b.variable_id)  # not in key order; a pair keeps its order
        store.write(engine.session, batches)
        engine.session.commit()
        clock += 4 * 3_600_000

        for vid in vids:
            if not written[vid]:
                continue
            assert engine.assert_rollups_match_raw(vid) == written[vid], f"call {call}"
            at, value = engine.session.execute(
                text("SELECT at, value FROM last_values WHERE variable_id = :v"), {"v": vid}
            ).one()
            latest = max(written[vid])
            assert (at, value) == (latest, written[vid][latest])
        for vid in vids[:8]:
            for granularity in ("hour", "day"):
                got = engine.buckets(vid, granularity, "avg", PARIS)
                grouped = brute.buckets(written[vid], granularity, PARIS)
                brute.assert_close(got, grouped, "avg", granularity)
    for vid in vids[:8]:
        for granularity in ("hour", "day", "month"):
            grouped = brute.buckets(written[vid], granularity, KOLKATA)
            for aggregation in ("avg", "count", "stdev"):
                got = engine.buckets(vid, granularity, aggregation, KOLKATA)
                brute.assert_close(got, grouped, aggregation, granularity)
    assert sum(map(len, written.values())) > 500
    assert np.all([engine.assert_rollups_match_raw(vid) == written[vid] for vid in vids])
