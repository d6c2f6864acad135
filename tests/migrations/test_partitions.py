"""Migration 0004 on PostgreSQL: a database's raw points move into monthly partitions of
datapoints, and back on downgrade, every one with its value."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from sodata.kit.db import make_engine
from sodata.migrations import alembic_config
from sodata.timeseries import store
from tests.conftest import BACKENDS, _drop_postgres_database, _postgres_database
from tests.timeseries.brute import utc

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
