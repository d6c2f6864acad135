"""The migrations build exactly the schema of the models, and the points trigger works."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from sodata.catalog.service import sync_catalog
from sodata.demo.seed import seed
from sodata.kit.db import Base, make_engine
from sodata.migrations import include_name
from sodata.models import Datapoint, Device, LastValue, Rollup, Variable
from sodata.timeseries import store
from tests.conftest import BACKENDS, fresh_database, open_session


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path: Path):
    with fresh_database(request.param, tmp_path) as url:
        yield url


def test_migrations_match_the_models(database: str) -> None:
    engine = make_engine(database)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_name": include_name})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_a_variables_points_go_with_it_even_through_cascades(database: str) -> None:
    with open_session(database) as session:
        sync_catalog(session)
        seed(session)
        session.flush()
        devices = session.scalars(select(Device).order_by(Device.id).limit(2)).all()
        variables = [
            session.scalars(select(Variable).where(Variable.device_id == d.id).limit(2)).all()
            for d in devices
        ]
        kept, *others = [v for vs in variables for v in vs]
        store.write(
            session,
            [
                store.SeriesPoints.of(v.id, [1_000, 2_000, 3_000], [1.0, 2.0, 3.0])
                for v in [kept, *others]
            ],
        )
        session.commit()

        def points(variable: Variable) -> int:
            return session.scalar(
                select(func.count())
                .select_from(Datapoint)
                .where(Datapoint.variable_id == variable.id)
            )

        assert all(points(v) == 3 for v in [kept, *others])
        session.delete(session.get(Variable, others[0].id))  # the variable itself
        session.commit()
        assert points(others[0]) == 0
        device = session.get(Device, devices[1].id)  # a device: cascades to its variables
        session.delete(device)
        session.commit()
        assert all(points(v) == 0 for v in others)
        assert points(kept) == 3
        for table in (Rollup, LastValue):
            left = session.scalar(
                select(func.count())
                .select_from(table)
                .where(table.variable_id.in_([v.id for v in others]))
            )
            assert left == 0
