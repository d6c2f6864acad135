"""The stored rollups of a series, read with SQL, against partials recomputed here from its raw
rows: per 15-minute UTC slot and per UTC hour (rows of a UTC day), n, min
and max exactly, mean, sum and M2 (the sum of squared
deviations from the mean) within float rounding of the exact values (statistics module); the
first and last point, the longest time between two points and the decreases exactly, the
integral of the held values and the sum of the values before decreases within rounding.

The hourly rows hold every day of a series but its open day (the day of its latest slot row),
whose hours the engine reads from that slot row: that day's hourly row is not checked."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from sodata.timeseries.partials import PACKED
from tests.timeseries import brute

SLOT_MS = 15 * 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def raw_points(session: Session, vid: int) -> dict[int, float]:
    """The series' rows of the datapoints table."""
    rows = session.execute(
        text("SELECT at, value FROM datapoints WHERE variable_id = :v ORDER BY at"), {"v": vid}
    )
    return {int(at): float(value) for at, value in rows}


def _stored(session: Session, vid: int, table: str, step: int) -> dict[int, np.void]:
    """The series' rows of a table of day rows, one PACKED record by slot or hour start (ms)."""
    rows = session.execute(
        text(f"SELECT day, data FROM {table} WHERE variable_id = :v ORDER BY day"), {"v": vid}
    )
    found: dict[int, np.void] = {}
    for day, data in rows:
        for record in np.frombuffer(bytes(data), dtype=PACKED):
            start = int(day) * DAY_MS + int(record["slot"]) * step
            assert start not in found, f"{table}: {brute.iso(start)} stored twice"
            assert start // DAY_MS == int(day), f"{table}: {brute.iso(start)} in the row of {day}"
            found[start] = record
    return found


def stored_slots(session: Session, vid: int) -> dict[int, np.void]:
    """The series' rows of the rollups table, one PACKED record by slot start (ms)."""
    return _stored(session, vid, "rollups", SLOT_MS)


def open_day(session: Session, vid: int) -> int | None:
    """The series' open day: the UTC day of its latest row of slots (None: it has none)."""
    day = session.execute(
        text("SELECT max(day) FROM rollups WHERE variable_id = :v"), {"v": vid}
    ).scalar()
    return None if day is None else int(day)


def stored_hours(session: Session, vid: int) -> dict[int, np.void]:
    """The series' rows of the hourly_rollups table but its open day's, one PACKED record by
    hour start (ms)."""
    hours = _stored(session, vid, "hourly_rollups", HOUR_MS)
    opened = open_day(session, vid)
    return {start: r for start, r in hours.items() if opened is None or start // DAY_MS < opened}


def slot_values(points: Mapping[int, float], step: int = SLOT_MS) -> dict[int, list[float]]:
    """The values of the points by UTC slot of `step` ms, in time order."""
    slots: dict[int, list[float]] = {}
    for t, v in sorted(points.items()):
        slots.setdefault(t - t % step, []).append(v)
    return slots


def assert_rollups_equal(
    stored: Mapping[int, np.void], points: Mapping[int, float], step: int = SLOT_MS
) -> None:
    """`stored` holds one record for each slot that has points, and only those, each equal to
    the partials of the slot's points."""
    want = slot_values(points, step)
    timed: dict[int, list[tuple[int, float]]] = {}
    for t, v in sorted(points.items()):
        timed.setdefault(t - t % step, []).append((t, v))
    missing = [brute.iso(s) for s in want if s not in stored]
    extra = [brute.iso(s) for s in stored if s not in want]
    assert not missing and not extra, (
        f"slots without rollups {missing}, rollups of no points {extra}"
    )
    for start, values in want.items():
        got = stored[start]
        _assert_order(got, start, timed[start])
        where = f"slot {brute.iso(start)} ({len(values)} points)"
        n = len(values)
        mean = brute.aggregate(values, "avg")
        m2 = brute.aggregate(values, "var") * (n - 1) if n > 1 else 0.0
        scale = max(abs(v) for v in values)
        rounding = scale * 1e-13 * n
        assert int(got["n"]) == n, f"{where}: n = {got['n']}"
        assert float(got["min"]) == min(values), f"{where}: min = {got['min']}"
        assert float(got["max"]) == max(values), f"{where}: max = {got['max']}"
        assert math.isclose(got["mean"], mean, rel_tol=1e-12, abs_tol=rounding), (
            f"{where}: mean = {got['mean']!r}, recomputed {mean!r}"
        )
        total = brute.aggregate(values, "sum")
        assert math.isclose(got["sum"], total, rel_tol=1e-12, abs_tol=rounding), (
            f"{where}: sum = {got['sum']!r}, recomputed {total!r}"
        )
        tolerance = 2 * math.sqrt(m2) * rounding + rounding**2
        assert math.isclose(got["m2"], m2, rel_tol=1e-9, abs_tol=tolerance), (
            f"{where}: M2 = {got['m2']!r}, recomputed {m2!r}"
        )


def _assert_order(got: np.void, start: int, points: list[tuple[int, float]]) -> None:
    """The order fields of a partial (partials.PACKED) against its points (time order)."""
    where = f"slot {brute.iso(start)} ({len(points)} points)"
    pairs = list(itertools.pairwise(points))
    drops = [a[1] - b[1] for a, b in pairs if a[1] > b[1]]
    want = {
        "t0": points[0][0] - start,
        "t1": points[-1][0] - start,
        "v0": points[0][1],
        "v1": points[-1][1],
        "gap": max((b[0] - a[0] for a, b in pairs), default=0),
        "drop_lo": min(drops, default=math.inf),
        "drop_hi": max(drops, default=0.0),
    }
    for name, value in want.items():
        assert got[name] == value, f"{where}: {name} = {got[name]!r}, recomputed {value!r}"
    area = math.fsum(a[1] * (b[0] - a[0]) for a, b in pairs)
    resets = math.fsum(a[1] for a, b in pairs if a[1] > b[1])
    for name, value, scale in (
        ("area", area, math.fsum(abs(a[1]) * (b[0] - a[0]) for a, b in pairs)),
        ("resets", resets, math.fsum(abs(a[1]) for a, _ in pairs)),
    ):
        assert math.isclose(got[name], value, rel_tol=1e-12, abs_tol=scale * 1e-13), (
            f"{where}: {name} = {got[name]!r}, recomputed {value!r}"
        )


def assert_rollups_match_raw(session: Session, vid: int) -> dict[int, float]:
    """The stored rollups of the series are a recomputation from its raw rows; returns them."""
    points = raw_points(session, vid)
    assert_rollups_equal(stored_slots(session, vid), points)
    opened = open_day(session, vid)
    closed = {t: v for t, v in points.items() if opened is None or t // DAY_MS < opened}
    assert_rollups_equal(stored_hours(session, vid), closed, HOUR_MS)
    return points
