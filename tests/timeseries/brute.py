"""The expected answers of the time-series engine, by brute force over the raw points.

Written from the definitions alone, with zoneinfo, datetime and the statistics module (no
code of sodata.timeseries): each point's bucket is found on the wall clock of the zone, one
point at a time; the points of a bucket are aggregated with statistics.fmean / variance /
stdev (exact for floats: the variance is computed with fractions).

- minute, hour: the bucket starts at the last instant <= the point at which the wall clock
  of the zone showed a :00 mark (so a repeated hour at the end of summer time makes two
  buckets, a mark the clock skipped starts no bucket, and when the clock goes back from
  03:45 to 02:45 the 02:45 to 03:00 quarter belongs to the 03:00 hour begun before);
- day, week (Monday), month, year: the bucket starts at local midnight of its first day
  (fold=0: the first occurrence of a midnight shown twice, and for a skipped midnight the
  offset in force before the change).

The energy aggregations first, last, delta and twa (sodata issue 14) are written from their
definitions alone, over ALL the points of the series (also those outside [from, to)): a
point's predecessor and the time its value holds do not depend on the range asked for. A
bucket ends where the next one starts: the first instant whose bucket start differs, found by
bisection (bucket starts never decrease with time).
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GRANULARITIES = ("minute", "hour", "day", "week", "month", "year")
AGGREGATIONS = ("avg", "min", "max", "count", "sum", "var", "stdev")
ENERGY = ("first", "last", "delta", "twa")


def instant(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def ms_of(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime, or of a naive one taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment.astimezone(UTC) - EPOCH) // timedelta(milliseconds=1)


def utc(text: str) -> int:
    """ "2024-03-31T01:00:00Z" (or with an offset, or naive = UTC) as milliseconds."""
    return ms_of(datetime.fromisoformat(text))


def wall(text: str, tz: ZoneInfo) -> int:
    """The instant the clocks of `tz` show the wall-clock time `text` (any offset in it is
    ignored; fold=0 for a time shown twice or skipped)."""
    return ms_of(datetime.fromisoformat(text).replace(tzinfo=tz, fold=0))


def iso(ms: int) -> str:
    return instant(ms).isoformat().replace("+00:00", "Z")


def _offset(ms: int, tz: ZoneInfo) -> timedelta:
    offset = instant(ms).astimezone(tz).utcoffset()
    assert offset is not None
    return offset


def _last_mark(ms: int, unit: timedelta, tz: ZoneInfo) -> int:
    """The last instant <= ms at which the wall clock of tz shows a multiple of `unit`.

    Walks back in time: from an instant s, the mark the clock showed last is the wall clock
    of s cut to the unit, unless the offset changed since; then the clock showed no mark
    between the change and s (it would have been found), and the walk goes on from just
    before the change."""
    s = ms
    for _ in range(100):
        offset = _offset(s, tz)
        clock = (instant(s) + offset).replace(tzinfo=None)
        mark = clock.replace(second=0, microsecond=0)
        if unit == timedelta(hours=1):
            mark = mark.replace(minute=0)
        shown = s - (clock - mark) // timedelta(milliseconds=1)
        if _offset(shown, tz) == offset:
            return shown
        before, after = shown, s  # the offset changed in (before, after]: find when
        while after - before > 1:
            middle = (before + after) // 2
            if _offset(middle, tz) == offset:
                after = middle
            else:
                before = middle
        s = after - 1  # the last millisecond before the change
    raise AssertionError(f"no {unit} mark before {iso(ms)} in {tz}")


def _first_day(day: date, granularity: str) -> date:
    if granularity == "day":
        return day
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    assert granularity == "year", granularity
    return day.replace(month=1, day=1)


def bucket_start(ms: int, granularity: str, tz: ZoneInfo) -> int:
    """The start instant (ms) of the bucket that holds the instant ms."""
    if granularity == "minute":
        return _last_mark(ms, timedelta(minutes=1), tz)
    if granularity == "hour":
        return _last_mark(ms, timedelta(hours=1), tz)
    local_day = instant(ms).astimezone(tz).date()
    midnight = datetime.combine(_first_day(local_day, granularity), time(0), tzinfo=tz)
    return ms_of(midnight)


def buckets(
    points: Mapping[int, float] | Iterable[tuple[int, float]],
    granularity: str,
    tz: ZoneInfo,
    start: int | None = None,
    end: int | None = None,
) -> dict[int, list[float]]:
    """The values of the points in [start, end), by bucket start, in time order."""
    items = points.items() if isinstance(points, Mapping) else points
    grouped: dict[int, list[float]] = defaultdict(list)
    for t, v in sorted(items):
        if (start is None or t >= start) and (end is None or t < end):
            grouped[bucket_start(t, granularity, tz)].append(v)
    return dict(sorted(grouped.items()))


def aggregate(values: Sequence[float], aggregation: str) -> float | None:
    if aggregation == "avg":
        return statistics.fmean(values)
    if aggregation == "min":
        return min(values)
    if aggregation == "max":
        return max(values)
    if aggregation == "count":
        return len(values)
    if aggregation == "sum":
        return math.fsum(values)
    if len(values) < 2:
        return None
    if aggregation == "var":
        return statistics.variance(values)
    assert aggregation == "stdev", aggregation
    return statistics.stdev(values)


def expected(
    points: Mapping[int, float] | Iterable[tuple[int, float]],
    granularity: str,
    aggregation: str,
    tz: ZoneInfo,
    start: int | None = None,
    end: int | None = None,
) -> list[tuple[int, float | None]]:
    """(bucket start, value) of every non-empty bucket, in time order."""
    grouped = buckets(points, granularity, tz, start, end)
    return [(t, aggregate(values, aggregation)) for t, values in grouped.items()]


def tolerance(values: Sequence[float], aggregation: str, exact: float, strict: bool) -> float:
    """How far a float computation of `aggregation` over `values` may be from its exact value
    `exact`: a few thousand roundings of the values' magnitude (and for a variance, of its
    cross term); var and stdev with strict: none (relative tolerance only)."""
    scale = max(abs(v) for v in values)
    if aggregation in ("min", "max", "count"):
        return 0.0
    if aggregation == "avg":
        return scale * 1e-12
    if aggregation == "sum":
        return math.fsum(abs(v) for v in values) * 1e-12
    if strict:
        return 0.0
    rounding = scale * 1e-13 * math.sqrt(len(values))
    stdev = exact if aggregation == "stdev" else math.sqrt(exact)
    var_tol = 2 * stdev * rounding + rounding**2
    return var_tol if aggregation == "var" else math.sqrt(var_tol)


def assert_close(
    got: Sequence[tuple[int, float | None]],
    grouped: Mapping[int, Sequence[float]],
    aggregation: str,
    context: str = "",
    rel: float = 1e-9,
    strict: bool = False,
) -> None:
    """The engine's buckets (start, value) are the brute force's, with its values: min, max
    and count exactly, the others within float rounding (var and stdev to `rel` = 1e-6
    relative with strict=True); var and stdev None (or NaN) for a bucket of one point."""
    got_starts = [iso(t) for t, _ in got]
    want_starts = [iso(t) for t in grouped]
    assert got_starts == want_starts, f"{context}: bucket starts differ"
    for (t, value), values in zip(got, grouped.values(), strict=True):
        want = aggregate(values, aggregation)
        where = f"{context}: {aggregation} of bucket {iso(t)} ({len(values)} points)"
        if want is None:
            assert value is None or math.isnan(value), f"{where}: {value} instead of null"
            continue
        assert value is not None and not math.isnan(value), f"{where}: null instead of {want}"
        if aggregation in ("min", "max", "count"):
            assert value == want, f"{where}: {value} instead of {want}"
            continue
        var_rel = 1e-6 if aggregation in ("var", "stdev") else rel
        tol = tolerance(values, aggregation, want, strict)
        assert math.isclose(value, want, rel_tol=var_rel, abs_tol=tol), (
            f"{where}: {value!r} instead of {want!r} (tolerance {tol:g}, rel {var_rel:g})"
        )


# --- first, last, delta, twa ------------------------------------------------------------------

_LONGEST = {  # longer than any bucket of the granularity, in any zone (ms)
    "minute": 86_400_000,
    "hour": 86_400_000,
    "day": 3 * 86_400_000,
    "week": 10 * 86_400_000,
    "month": 34 * 86_400_000,
    "year": 368 * 86_400_000,
}


@lru_cache(maxsize=1 << 16)
def bucket_end(start: int, granularity: str, tz: ZoneInfo) -> int:
    """The end of the bucket that starts at `start`: the smallest instant x > start whose
    bucket start differs (the next bucket's start)."""
    assert bucket_start(start, granularity, tz) == start, f"{iso(start)} starts no bucket"
    inside, beyond = start, start + _LONGEST[granularity]
    assert bucket_start(beyond, granularity, tz) != start
    while beyond - inside > 1:
        middle = (inside + beyond) // 2
        if bucket_start(middle, granularity, tz) == start:
            inside = middle
        else:
            beyond = middle
    return beyond


def increment(before: float, after: float, threshold: float) -> float:
    """What a counter gained from `before` to `after`: a drop of more than `threshold` is a
    reset (the counter restarted from zero and counted `after`); a drop of at most `threshold`
    is noise and counts negative."""
    return after if before - after > threshold else after - before


def _series(points: Mapping[int, float] | Iterable[tuple[int, float]]) -> list[tuple[int, float]]:
    """The series in time order; a time given twice keeps its last value."""
    items = points.items() if isinstance(points, Mapping) else points
    return sorted(dict(items).items())


def _held_until(series: Sequence[tuple[int, float]], i: int, carry: int | None) -> float:
    """The end of the time point i's value holds: min(next point, t_i + carry); the last
    point holds `carry` (forever with no carry limit)."""
    t = series[i][0]
    limit = math.inf if carry is None else t + carry
    return limit if i + 1 == len(series) else min(series[i + 1][0], limit)


def _energy(
    series: Sequence[tuple[int, float]],
    times: Sequence[int],
    members: Sequence[int],
    bucket: int,
    granularity: str,
    aggregation: str,
    tz: ZoneInfo,
    start: float,
    end: float,
    threshold: float,
    carry: int | None,
) -> tuple[float, float]:
    """(value, absolute tolerance) of one bucket, whose points in [start, end) are the
    indices `members` of `series` (whose times are `times`)."""
    if aggregation == "first":
        return series[members[0]][1], 0.0
    if aggregation == "last":
        return series[members[-1]][1], 0.0
    if aggregation == "delta":
        gains, sizes = [], []
        for i in members:
            if i == 0:  # no predecessor: adds nothing
                continue
            before, after = series[i - 1][1], series[i][1]
            gains.append(increment(before, after, threshold))
            sizes.append(abs(before) + abs(after))
        total = math.fsum(gains)
        tol = 1e-9 * math.fsum(abs(g) for g in gains) + 1e-15 * math.fsum(sizes) + 1e-12
        return total, tol
    assert aggregation == "twa", aggregation
    lo = max(bucket, start)
    hi = min(bucket_end(bucket, granularity, tz), end)
    first = max(bisect.bisect_right(times, lo) - 1, 0)  # the last point at or before lo
    weighted, magnitude, covered = [], [], 0
    for i in range(first, len(series)):
        t, v = series[i]
        if t >= hi:
            break
        a, b = max(t, lo), min(_held_until(series, i, carry), hi)
        if b > a:
            length = int(b - a)
            weighted.append(v * length)
            magnitude.append(abs(v) * length)
            covered += length
    assert covered > 0, f"twa of {iso(bucket)}: no value holds"
    return math.fsum(weighted) / covered, 1e-9 * math.fsum(magnitude) / covered + 1e-12


def expected_energy_with_tolerance(
    points: Mapping[int, float] | Iterable[tuple[int, float]],
    granularity: str,
    aggregation: str,
    tz: ZoneInfo,
    start: int | None = None,
    end: int | None = None,
    threshold: float = 0.0,
    carry: int | None = None,
) -> list[tuple[int, float, float]]:
    """(bucket start, value, absolute tolerance) of every bucket holding a point of
    [start, end), in time order. `points`: ALL the points of the series; `threshold`: the
    counter reset threshold T; `carry`: the carry limit L in ms (None: no limit)."""
    series = _series(points)
    times = [t for t, _ in series]
    lo = -math.inf if start is None else start
    hi = math.inf if end is None else end
    grouped: dict[int, list[int]] = defaultdict(list)
    for i, (t, _) in enumerate(series):
        if lo <= t < hi:
            grouped[bucket_start(t, granularity, tz)].append(i)
    return [
        (
            bucket,
            *_energy(
                series,
                times,
                members,
                bucket,
                granularity,
                aggregation,
                tz,
                lo,
                hi,
                threshold,
                carry,
            ),
        )
        for bucket, members in sorted(grouped.items())
    ]


def expected_energy(
    points: Mapping[int, float] | Iterable[tuple[int, float]],
    granularity: str,
    aggregation: str,
    tz: ZoneInfo,
    start: int | None = None,
    end: int | None = None,
    threshold: float = 0.0,
    carry: int | None = None,
) -> list[tuple[int, float]]:
    """(bucket start, value) of every bucket holding a point of [start, end), in time order
    (see expected_energy_with_tolerance)."""
    return [
        (t, value)
        for t, value, _ in expected_energy_with_tolerance(
            points, granularity, aggregation, tz, start, end, threshold, carry
        )
    ]


def assert_energy(
    got: Sequence[tuple[int, float | None]],
    points: Mapping[int, float] | Iterable[tuple[int, float]],
    granularity: str,
    aggregation: str,
    tz: ZoneInfo,
    start: int | None = None,
    end: int | None = None,
    threshold: float = 0.0,
    carry: int | None = None,
    context: str = "",
) -> None:
    """The engine's buckets (start, value) are the brute force's: the same bucket starts;
    first and last exactly; delta within 1e-9 of the sum of the increments' sizes (and a few
    roundings of the values); twa within 1e-9 relative (of the mean size of the values)."""
    want = expected_energy_with_tolerance(
        points, granularity, aggregation, tz, start, end, threshold, carry
    )
    where = (
        f"{context} {tz.key} {granularity} {aggregation} T={threshold} L={carry} "
        f"[{start if start is None else iso(start)}, {end if end is None else iso(end)})"
    )
    got_starts = [iso(t) for t, _ in got]
    want_starts = [iso(t) for t, _, _ in want]
    assert got_starts == want_starts, f"{where}: bucket starts differ"
    for (t, value), (_, expected_value, tol) in zip(got, want, strict=True):
        here = f"{where}: bucket {iso(t)}"
        assert value is not None and not math.isnan(value), f"{here}: null, not {expected_value}"
        if aggregation in ("first", "last"):
            assert value == expected_value, f"{here}: {value!r} instead of {expected_value!r}"
            continue
        rel = 1e-9 if aggregation == "twa" else 0.0
        assert math.isclose(value, expected_value, rel_tol=rel, abs_tol=tol), (
            f"{here}: {value!r} instead of {expected_value!r} (tolerance {tol:g}, rel {rel:g})"
        )
