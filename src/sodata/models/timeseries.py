"""The history of every variable: raw points, mergeable rollups and the last value.

Times are integers: milliseconds since 1970-01-01T00:00:00Z. A variable's id is its series
key (the `datahubId` of the API).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from sodata.kit.db import Base


class Datapoint(Base):
    """One raw point. Keyed (and, on SQLite, stored) in (variable, time) order, so a series'
    range is one contiguous read; a point sent again for the same time replaces this one."""

    __tablename__ = "datapoints"
    __table_args__ = {"sqlite_with_rowid": False}

    # No foreign key: checking one per point would cost PostgreSQL most of an insert's time.
    # A trigger of migration 0002 deletes a variable's points with it (cascades included).
    variable_id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class Rollup(Base):
    """The partial aggregates (count, mean, M2, min, max, sum) of one variable over one UTC day,
    one per non-empty 15-minute slot, packed in `data` (see sodata.timeseries.partials). Kept
    equal to a recomputation from the raw points on every write."""

    __tablename__ = "rollups"
    __table_args__ = {"sqlite_with_rowid": False}

    variable_id: Mapped[int] = mapped_column(
        ForeignKey("variables.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[int] = mapped_column(primary_key=True)  # days since 1970-01-01 (UTC)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class HourlyRollup(Base):
    """The same partial aggregates per hour, one row per variable and UTC day, built from the
    day rows of slots: a quarter of their size. Used where every bucket boundary falls on a
    whole UTC hour (zones whose offsets are whole hours). A row per day, not per month: a
    write rewrites the rows it touches, and a month's row would be 30 times larger. A
    variable's open day (that of its latest row of slots) is read from its slots: its row
    here is written when the day closes (timeseries/store.py)."""

    __tablename__ = "hourly_rollups"
    __table_args__ = {"sqlite_with_rowid": False}

    variable_id: Mapped[int] = mapped_column(
        ForeignKey("variables.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[int] = mapped_column(primary_key=True)  # days since 1970-01-01 (UTC)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LastValue(Base):
    """The latest point of a variable (by time, not by arrival)."""

    __tablename__ = "last_values"

    variable_id: Mapped[int] = mapped_column(
        ForeignKey("variables.id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float] = mapped_column(Float)
