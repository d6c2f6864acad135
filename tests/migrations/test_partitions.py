"""Migrations of the time-series tables. 0004 (PostgreSQL): a database's raw points move into
monthly partitions of datapoints, and back on downgrade, every one with its value. 0005: the
hourly rollups go from month rows to day rows, and back. 0006: the partials gain their order
fields."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pytest
from alembic import command
from sqlalchemy import text

from sodata.kit.db import make_engine
from sodata.migrations import alembic_config
from sodata.timeseries import query, store
from sodata.timeseries.calendar import DAY_MS, month_start
from tests.conftest import (
    BACKENDS,
    _drop_postgres_database,
    _postgres_database,
    fresh_database,
    open_session,
)
from tests.timeseries import recompute
from tests.timeseries.brute import utc
from tests.timeseries.conftest import Engine

# the packed partials of migrations 0002 to 0005
PACKED_0005 = np.dtype(
    [("slot", "<u2"), ("n", "<i8")] + [(f, "<f8") for f in ("mean", "m2", "min", "max", "sum")]
)
STATISTICS = PACKED_0005.names[1:]


def _statistics(record: np.void) -> list:
    return [record[name].item() for name in STATISTICS]


POINTS = [
    (1, utc("2023-12-31T23:59:59.999Z"), 1.5),
    (1, utc("2024-01-01T00:00:00Z"), 2.5),
    (2, utc("2024-01-31T12:00:00Z"), -3.0),
    (2, utc("2026-07-04T00:00:00Z"), 4.0),
]


def _stored(url: str) -> tuple[list[tuple], set[str]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT variable_id, at, value FROM datapoints ORDER BY 1, 2"))
            names = conn.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                    " WHERE i.inhparent = 'datapoints'::regclass"
                )
            ).scalars()
            return [tuple(r) for r in rows], set(names)
    finally:
        engine.dispose()


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="partitions are PostgreSQL's")
def test_points_move_into_monthly_partitions_and_back() -> None:
    url, name = _postgres_database()
    config = alembic_config(url)
    try:
        command.upgrade(config, "0003")
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(
                    text("INSERT INTO datapoints (variable_id, at, value) VALUES (:v, :t, :x)"),
                    [{"v": v, "t": t, "x": x} for v, t, x in POINTS],
                )
        finally:
            engine.dispose()
        command.upgrade(config, "head")
        rows, partitions = _stored(url)
        assert rows == POINTS
        assert partitions == {"datapoints_p202312", "datapoints_p202401", "datapoints_p202607"}
        assert {store.partition_month(p) for p in partitions} == {647, 648, 678}
        command.downgrade(config, "0003")
        assert _stored(url) == (POINTS, set())
    finally:
        _drop_postgres_database(name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hourly_rollups_go_to_day_rows_and_back(backend: str, tmp_path) -> None:
    """Migration 0005: the hours of month rows become day rows, rebuilt from the slots, and the
    downgrade rebuilds the month rows: the same partials of every hour either way."""
    with fresh_database(backend, tmp_path) as url, open_session(url) as session:
        engine = Engine(session, backend)
        vids = [engine.variable() for _ in range(3)]
        rng = np.random.default_rng(5)
        for vid in vids:
            t = np.sort(
                rng.choice(
                    np.arange(utc("2024-01-25T00:00:00Z"), utc("2024-03-03T00:00:00Z"), 60_000),
                    3000,
                    replace=False,
                )
            )
            store.write(session, [store.SeriesPoints.of(vid, t, rng.normal(50, 10, len(t)))])
        session.commit()
        before = {vid: recompute.stored_hours(session, vid) for vid in vids}
        opened = {vid: recompute.open_day(session, vid) for vid in vids}  # its hours not stored
        session.close()
        config = alembic_config(url)
        command.downgrade(config, "0004")
        with make_engine(url).connect() as conn:
            months = conn.execute(text("SELECT variable_id, month, data FROM hourly_rollups")).all()
        by_month: dict[int, dict[int, tuple]] = {vid: {} for vid in vids}
        for vid, month, data in months:
            base = month_start(month)
            for record in np.frombuffer(bytes(data), dtype=PACKED_0005):
                by_month[vid][base + int(record["slot"]) * 3_600_000] = list(record.tolist()[1:])
        for vid in vids:
            closed = {h: r for h, r in by_month[vid].items() if h // DAY_MS < opened[vid]}
            assert closed == {h: _statistics(r) for h, r in before[vid].items()}
        command.upgrade(config, "head")
        with open_session(url) as again:
            for vid in vids:
                after = recompute.stored_hours(again, vid)
                assert {h: _statistics(r) for h, r in after.items()} == {
                    h: _statistics(r) for h, r in before[vid].items()
                }


@pytest.mark.parametrize("backend", BACKENDS)
def test_partials_stored_before_0006_answer_from_raw_points_until_rewritten(
    backend: str, tmp_path
) -> None:
    """Migration 0006: stored partials keep their statistics and get unknown order fields; first,
    last, delta and twa then come from the raw points (the same answers as before), and a
    write into such a slot recomputes it from its points."""
    with fresh_database(backend, tmp_path) as url, open_session(url) as session:
        vid = Engine(session, backend).variable()
        rng = np.random.default_rng(6)
        t = np.arange(utc("2024-03-30T00:00:00Z"), utc("2024-04-02T00:00:00Z"), 300_000)
        v = np.cumsum(rng.uniform(0, 2, len(t)))
        v[len(v) // 2 :] -= v[len(v) // 2]  # a counter reset
        store.write(session, [store.SeriesPoints.of(vid, t, v)])
        session.commit()

        def answers(session) -> list[list[float]]:
            db = store.Db(session)
            return [
                query.aggregate(
                    db, vid, 0, 2**53, None, 1000, g, a, ZoneInfo("Europe/Paris"), carry=600_000
                ).v.tolist()
                for g in ("hour", "day")
                for a in ("first", "last", "delta", "twa")
            ]

        before, slots = answers(session), recompute.stored_slots(session, vid)
        session.close()
        config = alembic_config(url)
        command.downgrade(config, "0005")
        command.upgrade(config, "head")
        with open_session(url) as again:
            after = recompute.stored_slots(again, vid)
            assert {s: _statistics(r) for s, r in after.items()} == {
                s: _statistics(r) for s, r in slots.items()
            }
            assert all(np.isnan(r["area"]) and np.isnan(r["resets"]) for r in after.values())
            for got, want in zip(answers(again), before, strict=True):
                assert got == pytest.approx(want, rel=1e-12)
            late = utc("2024-03-31T10:02:00Z")  # between two stored points of a slot
            store.write(again, [store.SeriesPoints.of(vid, [late], [1.0])])
            again.commit()
            slot = recompute.stored_slots(again, vid)[late - late % 900_000]
            assert not np.isnan(slot["area"]) and slot["n"] == 4
            points = recompute.raw_points(again, vid)
            recompute.assert_rollups_equal(
                {late - late % 900_000: slot},
                {at: x for at, x in points.items() if at // 900_000 == late // 900_000},
            )
