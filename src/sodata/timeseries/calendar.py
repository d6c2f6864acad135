"""Calendar buckets in any IANA time zone, on arrays of instants (ms since the epoch, UTC).

A bucket is a calendar unit of the zone's wall clock: a minute or an hour starts where the
wall clock shows :00 (so at the end of summer time a day holds two distinct 02:00 hour
buckets); a day starts at local midnight (a DST day lasts 23 h or 25 h); a week starts on
Monday (ISO); months and years follow the calendar. A bucket is named by its start instant.

The zone's UTC offset is piecewise constant: `Offsets` finds the transitions of a range once
(cached per zone and year), then maps arrays of instants to offsets with one searchsorted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DATE = date(1970, 1, 1)

# how much of a series one pass of an aggregation reads (memory stays bounded); far longer than
# any bucket, so a window always ends on a bucket boundary after its start
WINDOW_MS = {
    "minute": 2 * DAY_MS,
    "hour": 92 * DAY_MS,
    "day": 1100 * DAY_MS,
    "week": 1100 * DAY_MS,
    "month": 3660 * DAY_MS,
    "year": 36600 * DAY_MS,
}
_SAMPLE_MS = 6 * HOUR_MS  # transitions are found between samples this far apart


class UnknownZone(ValueError):
    pass


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name` ("Europe/Paris", "UTC"); UnknownZone if there is none."""
    try:
        if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
            raise ValueError
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownZone(name) from None


def to_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def month_of(ms: np.ndarray) -> np.ndarray:
    """The UTC month (months since 1970-01) of each instant."""
    return (
        np.asarray(ms, dtype=np.int64)
        .astype("datetime64[ms]")
        .astype("datetime64[M]")
        .astype(np.int64)
    )


def month_start(month: int) -> int:
    """The first instant (ms) of a UTC month numbered as by `month_of`."""
    return int(np.datetime64(month, "M").astype("datetime64[ms]").astype(np.int64))


def wall_clock_ms(moment: datetime, tz: ZoneInfo) -> int:
    """The instant at which the clocks of `tz` show the wall-clock time of `moment` (its own
    offset, if any, is ignored). A time shown twice is its first occurrence; a time skipped by
    a change is read with the offset in force before it (Python's zoneinfo, fold=0)."""
    return to_ms(moment.replace(tzinfo=tz, fold=0))


def _offset_ms(tz: ZoneInfo, ms: int) -> int:
    offset = from_ms(ms).astimezone(tz).utcoffset()
    return 0 if offset is None else offset // timedelta(milliseconds=1)


@lru_cache(maxsize=4096)
def _transitions_of_year(tz: ZoneInfo, year: int) -> tuple[tuple[int, int], ...]:
    """(instant, new offset) of every offset change in `year`, to the millisecond."""
    start = to_ms(datetime(year, 1, 1, tzinfo=UTC))
    end = to_ms(datetime(year + 1, 1, 1, tzinfo=UTC))
    found = []
    previous = _offset_ms(tz, start)
    t = start
    while t < end:
        nxt = min(t + _SAMPLE_MS, end)
        offset = _offset_ms(tz, nxt)
        if offset != previous:
            lo, hi = t, nxt  # offset(lo) == previous, offset(hi) == offset
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_ms(tz, mid) == previous:
                    lo = mid
                else:
                    hi = mid
            found.append((hi, offset))
            previous = offset
        t = nxt
    return tuple(found)


class Offsets:
    """The UTC offsets of `tz` from `start` to `end` (ms), as constant pieces."""

    def __init__(self, tz: ZoneInfo, start: int, end: int) -> None:
        self.tz = tz
        first_year = from_ms(start - 2 * DAY_MS).year
        last_year = from_ms(end + 2 * DAY_MS).year
        begins = [np.iinfo(np.int64).min]
        offsets = [_offset_ms(tz, start - 2 * DAY_MS)]
        for year in range(first_year, last_year + 1):
            for instant, offset in _transitions_of_year(tz, year):
                if instant > start - 2 * DAY_MS:
                    begins.append(instant)
                    offsets.append(offset)
        self.begins = np.array(begins, dtype=np.int64)
        self.offsets = np.array(offsets, dtype=np.int64)

    def piece(self, t: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.begins, t, side="right") - 1

    def at(self, t: np.ndarray) -> np.ndarray:
        return self.offsets[self.piece(t)]


def bucket_starts(t: np.ndarray, granularity: str, offsets: Offsets) -> np.ndarray:
    """The start instant of the bucket holding each instant of `t` (int64 ms arrays)."""
    t = np.asarray(t, dtype=np.int64)
    if t.size == 0:
        return t.copy()
    if granularity in ("minute", "hour"):
        return _mark_starts(t, MINUTE_MS if granularity == "minute" else HOUR_MS, offsets)
    first_day = _first_days((t + offsets.at(t)) // DAY_MS, granularity)
    if np.all(first_day[1:] >= first_day[:-1]):  # sorted times: runs instead of a sort
        runs = np.flatnonzero(np.r_[True, first_day[1:] != first_day[:-1]])
        days, counts = first_day[runs], np.diff(np.r_[runs, len(first_day)])
        return np.repeat(_midnights(days, offsets.tz), counts)
    days, inverse = np.unique(first_day, return_inverse=True)
    return _midnights(days, offsets.tz)[inverse.reshape(-1)]


def bucket_ends(starts: np.ndarray, granularity: str, offsets: Offsets) -> np.ndarray:
    """The end of each bucket starting at `starts` (bucket_starts' values): the next bucket's
    start."""
    starts = np.asarray(starts, dtype=np.int64)
    if starts.size == 0:
        return starts.copy()
    if granularity in ("minute", "hour"):
        unit = MINUTE_MS if granularity == "minute" else HOUR_MS
        piece = offsets.piece(starts)
        offset = offsets.offsets[piece]
        mark = (starts + offset) // unit * unit + unit - offset  # the next mark of this offset
        later = np.minimum(piece + 1, len(offsets.begins) - 1)
        change = np.where(piece + 1 < len(offsets.begins), offsets.begins[later], mark)
        # a change of offset first: the first mark the clock shows from the change on
        after = offsets.offsets[later]
        moved = -(-(change + after) // unit) * unit - after
        return np.where(mark < change, mark, moved)
    local = (starts + offsets.at(starts) + 12 * HOUR_MS) // DAY_MS  # a day inside the bucket
    first = _first_days(local, granularity)
    if granularity == "day":
        following = first + 1
    elif granularity == "week":
        following = first + 7
    else:
        period = "M" if granularity == "month" else "Y"
        following = (
            (first.astype("datetime64[D]").astype(f"datetime64[{period}]") + 1)
            .astype("datetime64[D]")
            .astype(np.int64)
        )
    return _midnights(following, offsets.tz)


def _first_days(day: np.ndarray, granularity: str) -> np.ndarray:
    """The first local day (days since 1970-01-01) of the bucket of each local day."""
    if granularity == "day":
        return day
    if granularity == "week":
        return day - (day + 3) % 7  # 1970-01-01 was a Thursday; weeks start on Monday
    unit = "M" if granularity == "month" else "Y"
    return (
        day.astype("datetime64[D]")
        .astype(f"datetime64[{unit}]")
        .astype("datetime64[D]")
        .astype(np.int64)
    )


def _midnights(days: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    return np.array([_local_midnight_ms(d, tz) for d in days.tolist()], dtype=np.int64)


def _mark_starts(t: np.ndarray, unit: int, offsets: Offsets) -> np.ndarray:
    """The last instant <= t at which the wall clock shows a multiple of `unit`."""
    piece = offsets.piece(t)
    offset = offsets.offsets[piece]
    start = (t + offset) // unit * unit - offset
    begin = offsets.begins[piece]
    early = start < begin  # the mark came before this piece began: the last one of the piece before
    if early.any():
        prev_offset = offsets.offsets[piece[early] - 1]
        before = begin[early] - 1
        start[early] = (before + prev_offset) // unit * unit - prev_offset
    return start


@lru_cache(maxsize=65536)
def _local_midnight_ms(day: int, tz: ZoneInfo) -> int:
    """The instant the local day `day` (days since 1970-01-01) begins."""
    d = EPOCH_DATE + timedelta(days=day)
    return wall_clock_ms(datetime(d.year, d.month, d.day), tz)


def _digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """Each number as `width` ASCII digits: a (len, width) byte matrix."""
    power = 10 ** np.arange(width - 1, -1, -1)
    return (48 + numbers[:, None] // power % 10).astype(np.uint8)


@lru_cache(maxsize=1)
def _clock() -> tuple[np.ndarray, np.ndarray]:
    """ "HH:MM:SS" of every second of a day and ".mmm" of every millisecond, as byte matrices:
    a time is formatted by looking it up."""
    second = np.arange(86_400)
    clock = np.full((86_400, 8), ord(":"), dtype=np.uint8)
    for column, number in ((0, second // 3600), (3, second // 60 % 60), (6, second % 60)):
        clock[:, column : column + 2] = _digits(number, 2)
    milli = np.full((1000, 4), ord("."), dtype=np.uint8)
    milli[:, 1:] = _digits(np.arange(1000), 3)
    return clock, milli


def _dates(days: np.ndarray) -> np.ndarray:
    """ "YYYY-MM-DD" of each day number, as a (len, 10) byte matrix (H. Hinnant's
    "chrono-compatible low-level date algorithms")."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    out = np.full((len(days), 10), ord("-"), dtype=np.uint8)
    out[:, 0:4], out[:, 5:7], out[:, 8:10] = _digits(year, 4), _digits(month, 2), _digits(day, 2)
    return out


def iso(ms: np.ndarray) -> np.ndarray:
    """ISO 8601 UTC with "Z" as an array of bytes (dtype S24): seconds, or milliseconds where
    they are not zero. Dates are worked out once per day and times looked up, so a page of
    100,000 points costs a few gathers, not dozens of divisions per point."""
    ms = np.asarray(ms, dtype=np.int64)
    out = np.zeros((len(ms), 24), dtype=np.uint8)  # NUL bytes at the end are dropped
    if len(ms):
        days, in_day = np.divmod(ms, DAY_MS)
        seconds, milli = np.divmod(in_day, SECOND_MS)
        if np.all(days[1:] >= days[:-1]):  # in time order: runs of one day, no sort
            first = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
            distinct, which = (
                days[first],
                np.repeat(np.arange(len(first)), np.diff(np.r_[first, len(days)])),
            )
        else:
            distinct, which = np.unique(days, return_inverse=True)
        clock, millis = _clock()
        out[:, 0:10] = _dates(distinct)[which.reshape(-1)]
        out[:, 10] = ord("T")
        out[:, 11:19] = clock[seconds]
        out[:, 19:23] = millis[milli]
        out[:, 23] = ord("Z")
        whole = milli == 0
        out[whole, 19], out[whole, 20:] = ord("Z"), 0  # "...:05Z"
    return out.view("S24").ravel()


def iso_ms(ms: int) -> str:
    """ISO 8601 UTC with milliseconds and "Z" (a paging cursor, a last value's date)."""
    return str(np.datetime64(ms, "ms")) + "Z"
