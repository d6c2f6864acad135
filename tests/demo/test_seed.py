"""The demo data is deterministic: two seeds of two fresh databases give the same rows."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData, func, select

from sodata.catalog.service import sync_catalog
from sodata.demo import ids
from sodata.demo.seed import is_empty, seed
from sodata.kit.db import make_engine, make_sessionmaker
from sodata.migrations import upgrade
from sodata.models import CorporateAccount, Device


def _seeded_dump(path: Path) -> list[str]:
    """Seed a fresh SQLite file as `sodata serve --demo` does; return every row of every table."""
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            sync_catalog(session)
            assert is_empty(session)
            seed(session)
            session.commit()
            assert not is_empty(session)
            solink_devices = session.scalar(
                select(func.count(Device.id))
                .join(CorporateAccount)
                .where(CorporateAccount.uuid == ids.SOLINK)
            )
            assert solink_devices >= 60
        metadata = MetaData()
        metadata.reflect(engine)
        lines = []
        with engine.connect() as conn:
            for name in sorted(metadata.tables):
                table = metadata.tables[name]
                order = list(table.primary_key.columns) or list(table.columns)
                rows = conn.execute(select(table).order_by(*order)).all()
                lines.append(f"{name}: {len(rows)} rows")
                lines += [f"{name}: {tuple(row)!r}" for row in rows]
        return lines
    finally:
        engine.dispose()


def test_seed_is_deterministic(tmp_path: Path) -> None:
    first = _seeded_dump(tmp_path / "first.db")
    second = _seeded_dump(tmp_path / "second.db")
    tables = {line.split(":", 1)[0] for line in first}
    assert {"devices", "variables", "items", "logs", "access_groups", "user_links"} <= tables
    assert first == second
