"""Series storage on SQLite and PostgreSQL: raw points (monthly partitions on PostgreSQL), day
rows of slot partials and of hourly partials, last values.

Hot paths talk to the driver's connection of the session (same transaction) with columns in
and columns out: one executemany (SQLite) or one binary COPY (PostgreSQL) for all the series of
a write, and fetches straight into numpy arrays.

Rollups stay equal to a recomputation from the raw points: new points (appended or late) are
merged into the partials, all such series together, but for the slots where they fall between
stored points (a partial's first and last point and what lies between need them in order):
those slots are recomputed from their raw points, together; a series whose batch overwrites a
stored point recomputes the days it touches from the raw table. A series' hourly rows are written
when their day closes (_merge_rollups): its open day's hours are read from its slot row.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from sodata.kit.db import lock_rows
from sodata.models import Variable
from sodata.timeseries.calendar import DAY_MS, HOUR_MS, month_of, month_start
from sodata.timeseries.partials import (
    PACKED,
    SLOT_MS,
    Partials,
    merge,
    merge_sorted,
    of_groups,
    pack,
    unpack,
)


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

    def many(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
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
    "INSERT INTO hourly_rollups (variable_id, day, data) VALUES (?, ?, ?)"
    " ON CONFLICT (variable_id, day) DO UPDATE SET data = excluded.data"
)
_LAST_CONFLICT = (
    " ON CONFLICT (variable_id) DO UPDATE SET at = excluded.at, value = excluded.value"
    " WHERE excluded.at >= last_values.at"
)
_UPSERT_LAST = "INSERT INTO last_values (variable_id, at, value) VALUES (?, ?, ?)" + _LAST_CONFLICT


def write(session: Session, batches: Sequence[SeriesPoints]) -> None:
    """Store the points of these batches, as write_columns (a later batch's point of the same
    variable and time wins)."""
    batches = [b for b in batches if len(b.t)]
    if batches:
        vids = np.repeat([b.variable_id for b in batches], [len(b.t) for b in batches])
        t = np.concatenate([b.t for b in batches])
        write_columns(session, vids, t, np.concatenate([b.v for b in batches]))


def write_columns(session: Session, vids: np.ndarray, t: np.ndarray, v: np.ndarray) -> None:
    """Store points given as columns (variable, time in ms, value; in any order; of points of
    the same variable and time, the later one wins), overwriting those stored, with their
    rollups and last values, in the session's transaction. Writers of the same variables take
    turns.

    A handful of statements whatever the number of series: the points of series that only add
    points (none stored at their times: appended or late) are inserted and merged into their
    rollups together, column-wise (partials merge in any order); each series with an
    overwrite then recomputes the days it touches from the raw points."""
    if not len(t):
        return
    order = np.lexsort((t, vids))  # stable: of equal (variable, time), the later stays last
    vids, t, v = vids[order].astype(np.int64), t[order], v[order]
    kept = np.r_[(vids[1:] != vids[:-1]) | (t[1:] != t[:-1]), True]
    vids, t, v = vids[kept], t[kept], v[kept]
    firsts = np.flatnonzero(np.r_[True, vids[1:] != vids[:-1]])
    lasts = np.r_[firsts[1:], len(vids)] - 1
    series = vids[firsts]
    lock_rows(session, Variable.id, series.tolist())
    db = Db(session)
    if db.postgres:
        ensure_partitions(db, np.unique(month_of(t)).tolist())
    between, opened = _state(db, series, t[firsts], t[lasts])
    redo = np.zeros(len(vids), dtype=bool)
    if between:  # late points: only a point stored at the same time makes a recomputation
        maybe = np.isin(vids, between)
        redo = np.isin(vids, _overwritten(db, vids[maybe], t[maybe]))
    for mask, upsert in ((~redo, False), (redo, True)):
        if mask.any():
            _insert_points(db, vids[mask], t[mask], v[mask], upsert=upsert)
    if not redo.all():
        _merge_rollups(db, vids[~redo], t[~redo], v[~redo], series, opened)
    for i, (lo, hi) in enumerate(zip(firsts.tolist(), (lasts + 1).tolist(), strict=True)):
        if redo[lo]:  # overwrites: the touched days again from the raw points
            vid, days = int(vids[lo]), np.unique(t[lo:hi] // DAY_MS)
            fresh = [_recompute(db, vid, first, last) for first, last in _runs(days)]
            _store_days(db, vid, Partials.concat(fresh))
            # and the hours of those days, and of the open day before them (it may close now)
            hour_days = days if opened[i] < 0 else np.union1d(days, opened[i : i + 1])
            _recompute_hours(db, vid, hour_days)
    _store_last(db, series, t[lasts], v[lasts])


def _keyed(db: Db, sql: str, columns: Sequence[Sequence[Any]], types: Sequence[str]) -> list[tuple]:
    """Rows of `sql`, which reads the table `k` of the given columns (one row per key): a
    VALUES list on SQLite, unnest of arrays on PostgreSQL."""
    if not columns[0]:
        return []
    names = ", ".join(f"c{i}" for i in range(len(columns)))
    if db.postgres:
        arrays = ", ".join(f"?::{type_}[]" for type_ in types)
        params = [pg_array(c) for c in columns]
        return db.rows(f"WITH k ({names}) AS (SELECT * FROM unnest({arrays})) {sql}", params)
    found: list[tuple] = []
    step = 30_000 // len(columns)  # parameters per statement: SQLite's limit is 32,766
    for lo in range(0, len(columns[0]), step):
        chunk = [c[lo : lo + step] for c in columns]
        values = ", ".join(["(" + ", ".join("?" * len(chunk)) + ")"] * len(chunk[0]))
        params = [x for row in zip(*chunk, strict=True) for x in row]
        found += db.rows(f"WITH k ({names}) AS (VALUES {values}) {sql}", params)
    return found


def pg_array(numbers: Sequence[int] | Sequence[float]) -> str:
    """A PostgreSQL array of numbers as text ('{1,2,3}'): joined in C, where psycopg dumps a
    list element by element in Python (a float's repr reads back exactly)."""
    return "{" + ",".join(map(repr, numbers)) + "}"


def _state(
    db: Db, vids: np.ndarray, firsts: np.ndarray, lasts: np.ndarray
) -> tuple[list, np.ndarray]:
    """The variables (sorted `vids`) that have points stored between their batch's first and
    last time; and the open day of each (the UTC day of its latest row of slots; -1: none)."""
    rows = _keyed(
        db,
        # LATERAL ... LIMIT 1: an index probe per key, whatever plan a prepared statement gets
        "SELECT k.c0, d.x IS NOT NULL, (SELECT max(day) FROM rollups WHERE variable_id = k.c0)"
        " FROM k LEFT JOIN LATERAL (SELECT 1 AS x FROM datapoints WHERE variable_id = k.c0"
        " AND at >= k.c1 AND at <= k.c2 LIMIT 1) AS d ON true"
        if db.postgres
        else "SELECT c0, EXISTS (SELECT 1 FROM datapoints WHERE variable_id = k.c0"
        " AND at >= k.c1 AND at <= k.c2), (SELECT max(day) FROM rollups WHERE variable_id = k.c0)"
        " FROM k",
        [vids.tolist(), firsts.tolist(), lasts.tolist()],
        ["int4", "int8", "int8"],
    )
    opened = np.full(len(vids), -1, dtype=np.int64)
    for vid, _, day in rows:
        if day is not None:
            opened[np.searchsorted(vids, vid)] = day
    return [vid for vid, between, _ in rows if between], opened


def _overwritten(db: Db, vids: np.ndarray, t: np.ndarray) -> list:
    """The variables (`vids` sorted) that have a point stored at the time of one of theirs: the
    first point of each series is looked up first (an overwrite usually overwrites them all),
    then the other points of the series not found so."""
    first = np.r_[True, vids[1:] != vids[:-1]]
    found = _stored_at(db, vids[first], t[first])
    rest = ~first & ~np.isin(vids, found)
    return found + (_stored_at(db, vids[rest], t[rest]) if rest.any() else [])


def _stored_at(db: Db, vids: np.ndarray, t: np.ndarray) -> list:
    """The variables of these points that have a point stored at the same time as one of them."""
    rows = _keyed(
        db,
        "SELECT DISTINCT k.c0 FROM k CROSS JOIN LATERAL (SELECT 1 FROM datapoints"
        " WHERE variable_id = k.c0 AND at = k.c1) AS d"
        if db.postgres
        else "SELECT DISTINCT c0 FROM k WHERE EXISTS (SELECT 1 FROM datapoints"
        " WHERE variable_id = k.c0 AND at = k.c1)",
        [vids.tolist(), t.tolist()],
        ["int4", "int8"],
    )
    return [vid for (vid,) in rows]


def _insert_points(db: Db, vids: np.ndarray, t: np.ndarray, v: np.ndarray, upsert: bool) -> None:
    if db.postgres:
        _copy_points(db, vids, t, v, upsert)
    else:  # where nothing is stored at the same times, nothing conflicts
        db.many(
            "INSERT INTO datapoints (variable_id, at, value) VALUES (?, ?, ?)"
            + (_UPSERT_POINTS if upsert else ""),
            zip(vids.tolist(), t.tolist(), v.tolist(), strict=True),
        )


_COPY_ROWS = 100  # from this many rows on, rollup rows go through COPY (PostgreSQL)

# Partials of several series at once are keyed by (variable << 32) | slot or hour index (since
# 1970): one sorted int64 column, grouped and merged as one series' are.
_SHIFT = np.int64(32)
_LOW = np.int64(0xFFFFFFFF)


def _merge_rollups(
    db: Db, vids: np.ndarray, t: np.ndarray, v: np.ndarray, series: np.ndarray, opened: np.ndarray
) -> None:
    """Merge new points (none stored at their times) into their day rows of 15-minute slots
    (rollups), and write the hourly rows (hourly_rollups) of the days this write closes or,
    with late points, changes.

    A series' hourly rows hold every day but its open one, the day of its latest slot row,
    whose hours read_hours takes from that row: a series sending all day rewrites its day of
    slots at each write, and its day of hours once, when the next day opens. `series` (sorted)
    and `opened` are _state's."""
    slots = of_groups((vids << _SHIFT) | (t // SLOT_MS), t, v)  # by variable, then slot
    written = np.unique(_row_keys(slots.start, SLOT_MS))  # (variable << 32) | day
    row_vids, row_days = written >> _SHIFT, written & _LOW
    # each series' open day after this write: the later of its last row's and the one before
    ends = np.flatnonzero(np.r_[row_vids[1:] != row_vids[:-1], True])
    before = opened[np.searchsorted(series, row_vids[ends])]
    now_open = np.maximum(before, row_days[ends])
    closing = np.r_[
        written[row_days < np.repeat(now_open, np.diff(np.r_[-1, ends]))],
        ((row_vids[ends] << _SHIFT) | before)[(before >= 0) & (before < now_open)],
    ]
    stored = _read_rows(db, "rollups", np.union1d(written, closing), SLOT_MS)
    stored, slots = _interleaved(db, stored, slots)
    both = Partials.concat([stored, slots])
    merged = merge_sorted(both, both.start)
    rows = _row_keys(merged.start, SLOT_MS)
    _store_rows(db, "rollups", merged.take(np.isin(rows, written)), SLOT_MS)
    if len(closing):
        closed = merged.take(np.isin(rows, closing))
        per_hour = HOUR_MS // SLOT_MS
        hours = merge(
            (closed.start >> _SHIFT << _SHIFT) | ((closed.start & _LOW) // per_hour), closed
        )
        _store_rows(db, "hourly_rollups", hours, HOUR_MS)


def _interleaved(db: Db, stored: Partials, slots: Partials) -> tuple[Partials, Partials]:
    """Stored and new slot partials (keyed as in _merge_rollups) without the slots where new
    points fall between stored ones (or whose stored order fields are unknown): those slots'
    partials then come again from their raw points (the new ones inserted), with the new."""
    common, i, j = np.intersect1d(
        stored.start, slots.start, assume_unique=True, return_indices=True
    )
    if not len(common):
        return stored, slots
    apart = (slots.t0[j] > stored.t1[i]) | (slots.t1[j] < stored.t0[i])
    mixed = common[~(apart & stored.known[i])]
    if not len(mixed):
        return stored, slots
    vids, first = mixed >> _SHIFT, (mixed & _LOW) * SLOT_MS
    rows = _keyed(
        db,
        "SELECT k.c0, d.at, d.value FROM k CROSS JOIN LATERAL (SELECT at, value FROM datapoints"
        " WHERE variable_id = k.c0 AND at >= k.c1 AND at < k.c2) AS d ORDER BY 1, 2"
        if db.postgres
        else "SELECT k.c0, d.at, d.value FROM k CROSS JOIN datapoints AS d"
        " ON d.variable_id = k.c0 AND d.at >= k.c1 AND d.at < k.c2 ORDER BY 1, 2",
        [vids.tolist(), first.tolist(), (first + SLOT_MS).tolist()],
        ["int4", "int8", "int8"],
    )
    points = np.array(rows, dtype=[("vid", "<i8"), ("at", "<i8"), ("value", "<f8")])
    t = points["at"]
    again = of_groups((points["vid"] << _SHIFT) | (t // SLOT_MS), t, points["value"])
    return (
        stored.take(~np.isin(stored.start, mixed)),
        Partials.concat([slots.take(~np.isin(slots.start, mixed)), again]),
    )


def _row_keys(keys: np.ndarray, step: int) -> np.ndarray:
    """(variable << 32) | day of each slot or hour key."""
    return (keys >> _SHIFT << _SHIFT) | ((keys & _LOW) // (DAY_MS // step))


def _read_rows(db: Db, table: str, rows: np.ndarray, step: int) -> Partials:
    """The stored partials of these day rows ((variable << 32) | day), keyed as in
    _merge_rollups."""
    found = _keyed(
        db,
        # LATERAL ... LIMIT 1: a primary key lookup per row, whatever plan a prepared statement
        # gets (a join may become a scan of the table)
        f"SELECT k.c0, k.c1, r.data FROM k CROSS JOIN LATERAL (SELECT data FROM {table}"
        " WHERE variable_id = k.c0 AND day = k.c1 LIMIT 1) AS r"
        if db.postgres
        # SQLite: CROSS JOIN keeps k the outer loop (a lookup per row, not a scan of the table)
        else f"SELECT k.c0, k.c1, r.data FROM k CROSS JOIN {table} AS r"
        " ON r.variable_id = k.c0 AND r.day = k.c1",
        [(rows >> _SHIFT).tolist(), (rows & _LOW).tolist()],
        ["int4", "int4"],
    )
    if not found:
        return Partials.empty()
    blobs = [bytes(data) for _, _, data in found]
    parts = unpack([day * DAY_MS for _, day, _ in found], blobs, step)
    vids = np.repeat([vid for vid, _, _ in found], [len(b) // PACKED.itemsize for b in blobs])
    parts.start = (vids.astype(np.int64) << _SHIFT) | (parts.start // step)
    return parts


def _store_rows(db: Db, table: str, parts: Partials, step: int) -> None:
    """Upsert the day rows of these partials (keyed as in _merge_rollups, sorted)."""
    rows = _row_keys(parts.start, step)
    packed = pack(parts, (parts.start & _LOW) % (DAY_MS // step), (parts.start & _LOW) * step)
    edges = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1], True])
    lows, highs = edges[:-1].tolist(), edges[1:].tolist()
    vids, days = (rows[lows] >> _SHIFT).tolist(), (rows[lows] & _LOW).tolist()
    blobs = [packed[lo:hi].tobytes() for lo, hi in zip(lows, highs, strict=True)]
    if db.postgres and len(blobs) >= _COPY_ROWS:  # a binary COPY into a temporary table, then
        # one upsert (psycopg would dump a bytea[] parameter element by element, in Python)
        header = struct.Struct(">hiiiii")  # 3 fields: int4, int4, bytea (lengths before each)
        data = b"".join(
            header.pack(3, 4, vid, 4, day, len(blob)) + blob
            for vid, day, blob in zip(vids, days, blobs, strict=True)
        )
        db.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS incoming_rows"
            " (variable_id integer, day integer, data bytea) ON COMMIT DELETE ROWS",
            (),
        )
        db.execute("TRUNCATE incoming_rows", ())
        _copy(db, "incoming_rows (variable_id, day, data)", data)
        db.execute(
            f"INSERT INTO {table} (variable_id, day, data) SELECT * FROM incoming_rows"
            " ON CONFLICT (variable_id, day) DO UPDATE SET data = excluded.data",
            (),
        )
    else:
        db.many(
            _UPSERT_ROLLUP if table == "rollups" else _UPSERT_HOURS,
            zip(vids, days, blobs, strict=True),
        )


def _store_last(db: Db, vids: np.ndarray, ats: np.ndarray, values: np.ndarray) -> None:
    params = (vids.tolist(), ats.tolist(), values.tolist())
    if db.postgres:
        db.execute(
            "INSERT INTO last_values (variable_id, at, value)"
            " SELECT * FROM unnest(?::int4[], ?::int8[], ?::float8[])" + _LAST_CONFLICT,
            [pg_array(p) for p in params],
        )
    else:
        db.many(_UPSERT_LAST, zip(*params, strict=True))


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


def _copy_points(db: Db, vid: np.ndarray, t: np.ndarray, v: np.ndarray, upsert: bool) -> None:
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
    _copy(db, f"{target} (variable_id, at, value)", rows.tobytes())
    if upsert:
        db.execute(
            "INSERT INTO datapoints (variable_id, at, value)"
            " SELECT variable_id, at, value FROM incoming_points" + _UPSERT_POINTS,
            (),
        )


def _copy(db: Db, target: str, rows: bytes) -> None:
    """PostgreSQL: COPY rows already in the binary format into `target` ("table (columns)")."""
    cursor = db.raw.cursor()
    try:
        with cursor.copy(f"COPY {target} FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(_COPY_HEADER + rows + _COPY_TRAILER)
    finally:
        cursor.close()


def _runs(days: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive days, as (first, last)."""
    breaks = np.flatnonzero(np.diff(days) != 1)
    firsts = np.r_[days[0], days[breaks + 1]]
    lasts = np.r_[days[breaks], days[-1]]
    return list(zip(firsts.tolist(), lasts.tolist(), strict=True))


def _recompute(db: Db, vid: int, first_day: int, last_day: int) -> Partials:
    t, v = read_raw(db, vid, first_day * DAY_MS, (last_day + 1) * DAY_MS)
    return of_groups(t // SLOT_MS * SLOT_MS, t, v)


def _store_days(db: Db, vid: int, parts: Partials) -> None:
    _store_rows(db, "rollups", _keyed_by(vid, parts, SLOT_MS), SLOT_MS)


def _recompute_hours(db: Db, vid: int, days: np.ndarray) -> None:
    """The hourly rows of these days, again from their day rows."""
    slots = Partials.concat(
        [read_partials(db, vid, first * DAY_MS, (last + 1) * DAY_MS) for first, last in _runs(days)]
    )
    hours = merge_sorted(slots, slots.start // HOUR_MS * HOUR_MS)
    _store_rows(db, "hourly_rollups", _keyed_by(vid, hours, HOUR_MS), HOUR_MS)


def _keyed_by(vid: int, parts: Partials, step: int) -> Partials:
    """One series' partials (start in ms) keyed as in _merge_rollups."""
    keyed = parts.take(slice(None))
    keyed.start = (np.int64(vid) << _SHIFT) | (parts.start // step)
    return keyed


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
    """The hourly partials of the UTC days that [start, end) overlaps, in time order: of the
    hourly rows, but for the series' open day (_merge_rollups), merged from its slot row."""
    rows = db.rows(
        "WITH o AS (SELECT max(day) AS day FROM rollups WHERE variable_id = ?)"
        " SELECT h.day, h.data, 0 FROM hourly_rollups AS h, o WHERE h.variable_id = ?"
        " AND h.day >= ? AND h.day <= ? AND h.day < o.day"
        " UNION ALL SELECT r.day, r.data, 1 FROM rollups AS r, o WHERE r.variable_id = ?"
        " AND r.day = o.day AND r.day >= ? AND r.day <= ? ORDER BY 1",
        (vid, vid, start // DAY_MS, (end - 1) // DAY_MS, vid, start // DAY_MS, (end - 1) // DAY_MS),
    )
    hours = [(day, data) for day, data, slots in rows if not slots]
    parts = unpack([day * DAY_MS for day, _ in hours], [bytes(data) for _, data in hours], HOUR_MS)
    if len(hours) == len(rows):
        return parts
    (day, data, _) = rows[-1]  # the open day: the last
    slots = unpack([day * DAY_MS], [bytes(data)], SLOT_MS)
    return Partials.concat([parts, merge_sorted(slots, slots.start // HOUR_MS * HOUR_MS)])


def last_before(db: Db, vid: int, at: int) -> tuple[int, float] | None:
    """The series' last point (time, value) before `at`, if any: from the raw points, else
    (raw points removed) from the rollups' last slot that ends before it."""
    rows = db.rows(
        "SELECT at, value FROM datapoints WHERE variable_id = ? AND at < ? ORDER BY at DESC LIMIT 1",
        (vid, at),
    )
    if rows:
        return int(rows[0][0]), float(rows[0][1])
    rows = db.rows(
        "SELECT day, data FROM rollups WHERE variable_id = ? AND day <= ? ORDER BY day DESC"
        " LIMIT 2",
        (vid, at // DAY_MS),
    )
    rows.reverse()
    slots = unpack([day * DAY_MS for day, _ in rows], [bytes(data) for _, data in rows], SLOT_MS)
    slots = slots.take((slots.t1 < at) & slots.known)
    return (int(slots.t1[-1]), float(slots.v1[-1])) if len(slots) else None


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
