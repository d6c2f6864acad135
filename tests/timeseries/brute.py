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
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GRANULARITIES = ("minute", "hour", "day", "week", "month", "year")
AGGREGATIONS = ("avg", "min", "max", "count", "sum", "var", "stdev")


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
