"""Reading a series: raw pages, and calendar-bucket aggregates built from slot partials.

An aggregated bucket is assembled from the hourly partials that lie wholly inside it and inside
[from, to) (in zones whose offsets are whole hours), then the 15-minute partials of what is
left, then the raw points of the slots cut by from or to, or by a bucket boundary that is not on
a quarter hour (zones of the past with odd offsets). So a year of daily buckets in Paris reads
365 rows of hours, a row of slots at each end and two slots of raw points; in Kolkata, 365
rows of slots. A partial that cannot answer the aggregation as it is (delta: a decrease that
may be a reset or noise; twa: a gap longer than the carry limit; a partial stored before
migration 0006) is read finer the same way. delta and twa then take, for each bucket, the
point before it: the last of the bucket before, or for the first the series' last point before
the range (store.last_before).

Pages: at most `take` points or buckets per call, with the cursor `after` (the last time
returned). Reads are clipped to the series' first and last point, and aggregates walk the
range in windows, so memory stays bounded whatever the range asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from sodata.timeseries import store
from sodata.timeseries.calendar import HOUR_MS, WINDOW_MS, Offsets, bucket_ends, bucket_starts
from sodata.timeseries.partials import (
    SLOT_MS,
    Partials,
    increase,
    merge_sorted,
    of_groups,
    settle,
    time_weighted,
    usable,
    value,
)
from sodata.timeseries.store import Db


@dataclass
class Page:
    t: np.ndarray  # point times or bucket starts (ms)
    v: np.ndarray  # values; NaN where undefined (var or stdev of one point)
    next_after: int | None  # the cursor for the next page, None when this one is the last


def _clip(
    db: Db, vid: int, start: int, end: int, after: int | None, grain: int = 1
) -> tuple[int, int] | None:
    """[start, end) narrowed to the series' points (there are none outside), widened back to
    whole multiples of `grain` ms where that stays inside [start, end), so that the ends of a
    series do not cut its rollups."""
    if after is not None:
        start = max(start, after + 1)
    span = store.extent(db, vid)
    if span is None:
        return None
    first, last = span[0] // grain * grain, -(-(span[1] + 1) // grain) * grain
    start, end = max(start, first), min(end, last)
    return (start, end) if start < end else None


def raw(db: Db, vid: int, start: int, end: int, after: int | None, take: int) -> Page:
    span = _clip(db, vid, start, end, after)
    if span is None:
        return Page(np.empty(0, np.int64), np.empty(0), None)
    t, v = store.read_raw(db, vid, span[0], span[1], limit=take + 1)
    return _page(t, v, take)


def _page(t: np.ndarray, v: np.ndarray, take: int) -> Page:
    if len(t) > take:
        return Page(t[:take], v[:take], int(t[take - 1]))
    return Page(t, v, None)


def aggregate(
    db: Db,
    vid: int,
    start: int,
    end: int,
    after: int | None,
    take: int,
    granularity: str,
    aggregation: str,
    tz: ZoneInfo,
    threshold: float = 0.0,
    carry: int | None = None,
) -> Page:
    """Buckets of [start, end) that hold points, each with its aggregate, from the first
    bucket starting after `after` (if given). `threshold`: the largest decrease of a counter
    that is not a reset (delta); `carry`: how long a value holds at most, in ms (twa; None: no
    limit)."""
    span = _clip(db, vid, start, end, after, HOUR_MS)
    if span is None:
        return Page(np.empty(0, np.int64), np.empty(0), None)
    lo, hi = span
    offsets = Offsets(tz, lo, hi)
    rule = _Rule(aggregation, threshold, carry)
    found: list[Partials] = []
    count = 0
    while lo < hi and count <= take:
        window_end = hi
        if lo + WINDOW_MS[granularity] < hi:  # stop on a bucket boundary
            window_end = int(
                bucket_starts(np.array([lo + WINDOW_MS[granularity]]), granularity, offsets)[0]
            )
        buckets = _buckets(db, vid, lo, window_end, granularity, offsets, rule)
        found.append(buckets)
        count += len(buckets) if after is None else int(np.sum(buckets.start > after))
        lo = window_end
    buckets = Partials.concat(found)
    if aggregation in ("delta", "twa"):  # each bucket also depends on the point before it
        prior = store.last_before(db, vid, span[0])
        if aggregation == "delta":
            values = increase(buckets, prior, threshold)
        else:
            ends = bucket_ends(buckets.start, granularity, offsets)
            values = time_weighted(buckets, ends, prior, span[0], end, carry)
    else:
        values = value(buckets, aggregation)
    if after is not None:
        later = buckets.start > after
        buckets, values = buckets.take(later), values[later]
    return _page(buckets.start, values, take)


@dataclass
class _Rule:
    """What an aggregation needs of the partials it merges."""

    aggregation: str
    threshold: float
    carry: int | None

    def usable(self, parts: Partials) -> np.ndarray:
        return usable(parts, self.aggregation, self.threshold, self.carry)

    def group(self, keys: np.ndarray, t: np.ndarray, v: np.ndarray) -> Partials:
        """Points grouped by `keys` (sorted)."""
        if self.aggregation in ("delta", "twa"):  # with the threshold and the carry
            return self.merge(Partials.of_points(keys, t, v))
        return of_groups(keys, t, v)

    def merge(self, parts: Partials) -> Partials:
        if self.aggregation == "delta":
            parts = settle(parts, self.threshold)
        return merge_sorted(parts, parts.start, self.threshold, self.carry)


def _buckets(
    db: Db, vid: int, lo: int, hi: int, granularity: str, offsets: Offsets, rule: _Rule
) -> Partials:
    """The bucket partials of [lo, hi): from hourly partials where they fit (zones with whole
    hour offsets) and can answer the aggregation, else 15-minute ones, else the raw points of
    the pieces left."""
    if granularity == "minute":  # finer than a slot: from the raw points
        t, v = store.read_raw(db, vid, lo, hi)
        return rule.group(bucket_starts(t, granularity, offsets), t, v)
    levels = [(store.read_partials, SLOT_MS)]
    if not np.any(offsets.offsets % HOUR_MS):
        levels.insert(0, (store.read_hours, HOUR_MS))
    pieces = []
    gaps = [(lo, hi)]
    for read, step in levels:
        left = []
        for a, b in gaps:
            whole, holes = _cover(read(db, vid, a, b), a, b, step, granularity, offsets, rule)
            pieces.append(whole)
            left += holes
        gaps = left
    for a, b in gaps:
        t, v = store.read_raw(db, vid, a, b)
        pieces.append(Partials.of_points(bucket_starts(t, granularity, offsets), t, v))
    return rule.merge(Partials.concat(pieces))


def _cover(
    parts: Partials,
    lo: int,
    hi: int,
    step: int,
    granularity: str,
    offsets: Offsets,
    rule: _Rule,
) -> tuple[Partials, list[tuple[int, int]]]:
    """The partials (of `step` ms each) lying wholly inside [lo, hi) and inside one bucket, and
    usable for the aggregation, keyed by their bucket; and the ranges of the others, clipped to
    [lo, hi), to read finer."""
    parts = parts.take((parts.start + step > lo) & (parts.start < hi))
    s = parts.start
    first = bucket_starts(s, granularity, offsets)
    # A piece lies wholly in its bucket unless a boundary cuts it; bucket starts grow with time,
    # so only the last piece of each run of equal starts needs its end checked.
    whole = (s >= lo) & (s + step <= hi)
    last = np.flatnonzero(np.r_[first[1:] != first[:-1], True]) if len(s) else np.empty(0, int)
    whole[last] &= first[last] == bucket_starts(s[last] + step - 1, granularity, offsets)
    whole &= rule.usable(parts)
    kept = parts.take(whole)
    kept.start = first[whole]
    holes = _ranges(np.maximum(s[~whole], lo), np.minimum(s[~whole] + step, hi))
    return kept, holes


def _ranges(starts: np.ndarray, ends: np.ndarray) -> list[tuple[int, int]]:
    """Adjacent [start, end) ranges joined (inputs in time order)."""
    joined: list[list[int]] = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        if joined and joined[-1][1] == a:
            joined[-1][1] = b
        else:
            joined.append([a, b])
    return [(a, b) for a, b in joined]
