"""Alembic migrations; `upgrade(url)` brings a database to the current schema."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "sodata:migrations")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """What autogenerate compares: not the monthly partitions of datapoints (PostgreSQL), which
    the server creates as time goes (sodata.timeseries.retention)."""
    from sodata.timeseries.store import partition_month

    return not (type_ == "table" and name is not None and partition_month(name) is not None)


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


def is_current(url: str) -> bool:
    """Whether the database's schema is the current one (for commands that do not migrate)."""
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads()) == heads
    finally:
        engine.dispose()
