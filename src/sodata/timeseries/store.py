"""Series storage on SQLite and PostgreSQL: raw points, daily rows of slot partials, last values.

Hot paths talk to the driver's connection of the session (same transaction) with columns in
and columns out: one executemany (SQLite) or one binary COPY (PostgreSQL) per series, and
fetches straight into numpy arrays.

Rollups stay equal to a recomputation from the raw points: points that only extend a series
(nothing stored between the batch's first and last time) are merged into the slot partials;
any other batch (overwrite, late data) recomputes the days it touches from the raw table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from sodata.kit.db import lock_rows
from sodata.models import Variable
from sodata.timeseries.calendar import DAY_MS, HOUR_MS, month_of, month_start
from sodata.timeseries.partials import SLOT_MS, Partials, merge_sorted, of_groups, pack, unpack


@dataclass
class SeriesPoints:
    """Points of one variable: times (ms, ascending, unique) and values."""

    variable_id: int
    t: np.ndarray
    v: np.ndarray

    @staticmethod
    def of(variable_id: int, t: Sequence[int] | np.ndarray, v: Sequence[float] | np.ndarray):
        """Sorted by time; of points sent twice for the same time, the last one wins."""
        t = np.asarray(t, dtype=np.int64)
        v = np.asarray(v, dtype=np.float64)
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        last = np.r_[t[1:] != t[:-1], True] if len(t) else np.empty(0, dtype=bool)
        return SeriesPoints(variable_id, t[last], v[last])


class Db:
    """The driver connection of a session, with SQL written for sqlite3 ("?") or psycopg."""

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        self.postgres = connection.dialect.name == "postgresql"
        self.raw: Any = connection.connection.driver_connection
        self.index_scans = False  # PostgreSQL: bitmap scans turned off in this transaction

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        cursor = self.raw.cursor()
        try:
            if self.postgres:  # binary results: bytea and numbers without text conversion
                cursor.execute(self._sql(sql), params, binary=True)
            else:
                cursor.execute(sql, params)
            return cursor.fetchall()
        finally:
            cursor.close()

    def execute(self, sql: str, params: Sequence[Any]) -> None:
        cursor = self.raw.cursor()
        try:
            cursor.execute(self._sql(sql), params)
        finally:
            cursor.close()

    def many(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        cursor = self.raw.cursor()
        try:
            cursor.executemany(self._sql(sql), params)
        finally:
            cursor.close()


_UPSERT_POINTS = (
    " ON CONFLICT (variable_id, at) DO UPDATE SET value = excluded.value"  # a point sent again
)
_UPSERT_ROLLUP = (
    "INSERT INTO rollups (variable_id, day, data) VALUES (?, ?, ?)"
    " ON CONFLICT (variable_id, day) DO UPDATE SET data = excluded.data"
)
_UPSERT_HOURS = (
    "INSERT INTO hourly_rollups (variable_id, month, data) VALUES (?, ?, ?)"
    " ON CONFLICT (variable_id, month) DO UPDATE SET data = excluded.data"
)
_UPSERT_LAST = (
    "INSERT INTO last_values (variable_id, at, value) VALUES (?, ?, ?)"
    " ON CONFLICT (variable_id) DO UPDATE SET at = excluded.at, value = excluded.value"
    " WHERE excluded.at >= last_values.at"
)


def write(session: Session, batches: Sequence[SeriesPoints]) -> None:
    """Store the points (overwriting those of the same variable and time), their rollups and
    last values, in the session's transaction. Writers of the same variables take turns."""
    batches = [b for b in batches if len(b.t)]
    if not batches:
        return
    lock_rows(session, Variable.id, sorted({b.variable_id for b in batches}))
    db = Db(session)
    if db.postgres:
        ensure_partitions(db, np.unique(month_of(np.concatenate([b.t for b in batches]))).tolist())
    for batch in batches:
        _write_series(db, batch)


def _write_series(db: Db, batch: SeriesPoints) -> None:
    vid, t, v = batch.variable_id, batch.t, batch.v
    between = db.rows(
        "SELECT 1 FROM datapoints WHERE variable_id = ? AND at >= ? AND at <= ? LIMIT 1",
        (vid, int(t[0]), int(t[-1])),
    )
    if db.postgres:
        _copy_points(db, vid, t, v, upsert=bool(between))
    else:
        db.many(  # where nothing is stored between the first and last time, nothing conflicts
            "INSERT INTO datapoints (variable_id, at, value) VALUES (?, ?, ?)"
            + (_UPSERT_POINTS if between else ""),
            zip([vid] * len(t), t.tolist(), v.tolist(), strict=True),
        )
    days = np.unique(t // DAY_MS)
    if between:  # overwrites or late points: the touched days again from the raw points
        fresh = Partials.concat([_recompute(db, vid, first, last) for first, last in _runs(days)])
        _store_days(db, vid, fresh)
        _recompute_hours(db, vid, days)
    else:  # the batch only adds points where there were none: merge
        new = of_groups(t // SLOT_MS * SLOT_MS, v)
        stored = read_partials(db, vid, int(days[0]) * DAY_MS, (int(days[-1]) + 1) * DAY_MS)
        _store_days(db, vid, _merged(stored, new, SLOT_MS, days, stored.start // DAY_MS))
        hours = merge_sorted(new, new.start // HOUR_MS * HOUR_MS)
        months = np.unique(month_of(hours.start))
        stored = read_hours(db, vid, month_start(int(months[0])), month_start(int(months[-1]) + 1))
        _store_hours(db, vid, _merged(stored, hours, HOUR_MS, months, month_of(stored.start)))
    db.execute(_UPSERT_LAST, (vid, int(t[-1]), float(v[-1])))


# PostgreSQL: a partition of datapoints per UTC month (migration 0004; timeseries/retention.py)
PARTITION = re.compile(r"datapoints_p(\d{4})(\d{2})")
# pg_advisory_xact_lock key: who creates partitions, one at a time
_PARTITIONS_LOCK = 0x50D47A


def partition_name(month: int) -> str:
    """The partition of a UTC month numbered as by calendar.month_of."""
    year, index = divmod(month, 12)
    return f"datapoints_p{1970 + year:04d}{index + 1:02d}"


def partition_month(name: str) -> int | None:
    match = PARTITION.fullmatch(name)
    return None if match is None else (int(match[1]) - 1970) * 12 + int(match[2]) - 1


def ensure_partitions(db: Db, months: Iterable[int]) -> None:
    """PostgreSQL: the partitions of these months, created (in the caller's transaction) where
    missing. One round trip when they all exist."""
    names = {partition_name(m): m for m in months}
    missing = db.rows(
        "SELECT n FROM unnest(?::text[]) AS n WHERE to_regclass(n) IS NULL", (list(names),)
    )
    if not missing:
        return
    # Who attaches waits for whoever is attaching (both take the parent's SHARE UPDATE
    # EXCLUSIVE lock until commit): one lock for all months, so no two writers deadlock.
    db.execute("SELECT pg_advisory_xact_lock(?)", (_PARTITIONS_LOCK,))
    for (name,) in missing:
        ((exists,),) = db.rows("SELECT to_regclass(?) IS NOT NULL", (name,))
        if exists:  # created meanwhile
            continue
        month = names[name]
        # CREATE TABLE ... PARTITION OF would lock out the table's readers and writers; ATTACH
        # of an empty table lets them be.
        db.execute(f"CREATE TABLE {name} (LIKE datapoints INCLUDING ALL)", ())
        db.execute(
            f"ALTER TABLE datapoints ATTACH PARTITION {name}"
            f" FOR VALUES FROM ({month_start(month)}) TO ({month_start(month + 1)})",
            (),
        )


# PostgreSQL's binary COPY rows (variable_id int4, at int8, value float8), built by numpy
_COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("vid_len", ">i4"),
        ("vid", ">i4"),
        ("at_len", ">i4"),
        ("at", ">i8"),
        ("value_len", ">i4"),
        ("value", ">f8"),
    ]
)
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
_COPY_TRAILER = b"\xff\xff"


def _copy_points(db: Db, vid: int, t: np.ndarray, v: np.ndarray, upsert: bool) -> None:
    """COPY the points in (binary, built column-wise). Where points may already exist, through
    a temporary table and one INSERT ... ON CONFLICT."""
    rows = np.empty(len(t), dtype=_COPY_ROW)
    rows["fields"], rows["vid_len"], rows["at_len"], rows["value_len"] = 3, 4, 8, 8
    rows["vid"], rows["at"], rows["value"] = vid, t, v
    target = "datapoints"
    if upsert:
        db.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS incoming_points"
            " (variable_id integer, at bigint, value double precision) ON COMMIT DELETE ROWS",
            (),
        )
        db.execute("TRUNCATE incoming_points", ())
        target = "incoming_points"
    cursor = db.raw.cursor()
    try:
        with cursor.copy(
            f"COPY {target} (variable_id, at, value) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(_COPY_HEADER + rows.tobytes() + _COPY_TRAILER)
    finally:
        cursor.close()
    if upsert:
        db.execute(
            "INSERT INTO datapoints (variable_id, at, value)"
            " SELECT variable_id, at, value FROM incoming_points" + _UPSERT_POINTS,
            (),
        )


def _runs(days: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive days, as (first, last)."""
    breaks = np.flatnonzero(np.diff(days) != 1)
    firsts = np.r_[days[0], days[breaks + 1]]
    lasts = np.r_[days[breaks], days[-1]]
    return list(zip(firsts.tolist(), lasts.tolist(), strict=True))


def _recompute(db: Db, vid: int, first_day: int, last_day: int) -> Partials:
    t, v = read_raw(db, vid, first_day * DAY_MS, (last_day + 1) * DAY_MS)
    return of_groups(t // SLOT_MS * SLOT_MS, v)


def _merged(
    stored: Partials, new: Partials, step: int, periods: np.ndarray, stored_periods: np.ndarray
) -> Partials:
    """The stored partials of the touched periods (days or months) merged with new ones."""
    both = Partials.concat([stored.take(np.isin(stored_periods, periods)), new])
    return merge_sorted(both, both.start // step * step)


def _store_days(db: Db, vid: int, parts: Partials) -> None:
    db.many(_UPSERT_ROLLUP, _rows(vid, parts, parts.start // DAY_MS, SLOT_MS))


def _store_hours(db: Db, vid: int, parts: Partials) -> None:
    db.many(_UPSERT_HOURS, _rows(vid, parts, month_of(parts.start), HOUR_MS))


def _recompute_hours(db: Db, vid: int, days: np.ndarray) -> None:
    """The hourly rows of the months these days are in, again from their day rows."""
    months = np.unique(month_of(days * DAY_MS))
    slots = read_partials(db, vid, month_start(int(months[0])), month_start(int(months[-1]) + 1))
    slots = slots.take(np.isin(month_of(slots.start), months))
    _store_hours(db, vid, merge_sorted(slots, slots.start // HOUR_MS * HOUR_MS))


def _rows(vid: int, parts: Partials, periods: np.ndarray, step: int) -> list[tuple]:
    """(variable, period, packed partials) for each period (day or month) in `periods`."""
    edges = np.flatnonzero(np.r_[True, periods[1:] != periods[:-1], True])
    rows = []
    for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        period = int(periods[lo])
        base = period * DAY_MS if step == SLOT_MS else month_start(period)
        rows.append((vid, period, pack(parts.take(slice(lo, hi)), base, step)))
    return rows


_POINT = np.dtype([("at", "<i8"), ("value", "<f8")])


def read_raw(
    db: Db, vid: int, start: int, end: int, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Times and values of the points in [start, end), in time order, at most `limit`."""
    sql = (
        "SELECT at, value FROM datapoints WHERE variable_id = ? AND at >= ? AND at < ? ORDER BY at"
    )
    params: tuple = (vid, start, end)
    if limit is not None:
        sql += " LIMIT ?"
        params += (limit,)
    if db.postgres and not db.index_scans:
        # an index range scan, even on statistics not updated since a bulk load
        db.execute("SET LOCAL enable_bitmapscan = off", ())
        db.index_scans = True
    rows = np.array(db.rows(sql, params), dtype=_POINT)
    return rows["at"], rows["value"]


def read_partials(db: Db, vid: int, start: int, end: int) -> Partials:
    """The slot partials of the UTC days that [start, end) overlaps, in time order."""
    rows = db.rows(
        "SELECT day, data FROM rollups WHERE variable_id = ? AND day >= ? AND day <= ? ORDER BY day",
        (vid, start // DAY_MS, (end - 1) // DAY_MS),
    )
    return unpack([day * DAY_MS for day, _ in rows], [bytes(data) for _, data in rows], SLOT_MS)


def read_hours(db: Db, vid: int, start: int, end: int) -> Partials:
    """The hourly partials of the UTC months that [start, end) overlaps, in time order."""
    first, last = (int(m) for m in month_of(np.array([start, end - 1])))
    rows = db.rows(
        "SELECT month, data FROM hourly_rollups WHERE variable_id = ? AND month >= ? AND month <= ?"
        " ORDER BY month",
        (vid, first, last),
    )
    return unpack([month_start(m) for m, _ in rows], [bytes(data) for _, data in rows], HOUR_MS)


def extent(db: Db, vid: int) -> tuple[int, int] | None:
    """Bounds of a series' times, or None if it has no point: its first and last raw point,
    widened to the UTC days of its rollups (which outlive the raw points: retention.py)."""
    ((first, last, first_day, last_day),) = db.rows(  # four subqueries: each an index lookup
        "SELECT (SELECT min(at) FROM datapoints WHERE variable_id = ?),"
        " (SELECT max(at) FROM datapoints WHERE variable_id = ?),"
        " (SELECT min(day) FROM rollups WHERE variable_id = ?),"
        " (SELECT max(day) FROM rollups WHERE variable_id = ?)",
        (vid, vid, vid, vid),
    )
    if first_day is None:
        return None
    if first is None:  # every raw point removed
        return int(first_day) * DAY_MS, (int(last_day) + 1) * DAY_MS - 1
    if first // DAY_MS > first_day:  # the raw points of the first days removed
        first = int(first_day) * DAY_MS
    return int(first), int(last)
