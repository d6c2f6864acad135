"""Migrations of the time-series tables. 0004 (PostgreSQL): a database's raw points move into
monthly partitions of datapoints, and back on downgrade, every one with its value. 0005: the
hourly rollups go from month rows to day rows, and back."""

from __future__ import annotations

import numpy as np
import pytest
from alembic import command
from sqlalchemy import text

from sodata.kit.db import make_engine
from sodata.migrations import alembic_config
from sodata.timeseries import store
from sodata.timeseries.calendar import DAY_MS, month_start
from sodata.timeseries.partials import PACKED
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
            for record in np.frombuffer(bytes(data), dtype=PACKED):
                by_month[vid][base + int(record["slot"]) * 3_600_000] = record.tolist()[1:]
        for vid in vids:
            closed = {h: r for h, r in by_month[vid].items() if h // DAY_MS < opened[vid]}
            assert closed == {h: r.tolist()[1:] for h, r in before[vid].items()}
        command.upgrade(config, "head")
        with open_session(url) as again:
            for vid in vids:
                after = recompute.stored_hours(again, vid)
                assert {h: r.tolist() for h, r in after.items()} == {
                    h: r.tolist() for h, r in before[vid].items()
                }
                recompute.assert_rollups_match_raw(again, vid)
