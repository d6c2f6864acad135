"""Mergeable partial aggregates over columns, per group of points (a 15-minute slot, an hour, a
bucket).

Any bucket's avg, min, max, count, sum, var, stdev, first, last, delta and twa follow from the
partials of the pieces it is made of (pieces of a bucket are disjoint in time):
- count, mean, M2, min, max and sum, merged with the two-pass parallel formula (Chan et al.):

      n = sum n_i,  mean = sum n_i mean_i / n,  M2 = sum M2_i + sum n_i (mean_i - mean)^2

  which adds squared deviations from means, never squares of the values themselves, so the
  variance of 1e9 + noise keeps its digits;
- the first and last point (time and value); between consecutive points of the group:
  - `area`, the sum of value x time to the next point (the integral of the held value), and
    `gap`, the longest such time: a time-weighted average with a carry limit L may use a piece
    whose gap is at most L (else its points are read);
  - `resets`, the sum of the values before each decrease, and the smallest and largest
    decrease (`drop_lo`, `drop_hi`): the increase of a counter whose decreases of more than T
    are resets is last - first + the values before the resets, so a piece whose decreases
    are all resets, or all noise, gives it for that T.
  Merging pieces adds the terms between each piece's last point and the next one's first.

A piece stored before these order fields existed (migration 0006) has area and resets NaN:
`known` is false and its points are read for first, last, delta and twa.

Partials are packed many to a row (PACKED records; `pack`, `unpack`): a UTC day's 15-minute
slots, or its hours. A year of a series is 365 rows of each, whatever the number of points.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sodata.timeseries.calendar import MINUTE_MS

SLOT_MS = 15 * MINUTE_MS  # fine enough for every zone in use (:30 and :45 offsets)
# the aggregations of the spec, answered from the statistics of each bucket alone
STATISTICS = ("avg", "min", "max", "count", "sum", "var", "stdev")

PACKED = np.dtype(
    [
        ("slot", "<u2"),
        ("n", "<i8"),
        ("mean", "<f8"),
        ("m2", "<f8"),
        ("min", "<f8"),
        ("max", "<f8"),
        ("sum", "<f8"),
        # times from the start of the slot or hour (ms)
        ("t0", "<u4"),
        ("t1", "<u4"),
        ("gap", "<u4"),
        ("v0", "<f8"),
        ("v1", "<f8"),
        ("area", "<f8"),  # value x ms
        ("resets", "<f8"),
        ("drop_lo", "<f8"),
        ("drop_hi", "<f8"),
    ]
)


@dataclass
class Partials:
    """Columns of partial aggregates; `start` is each group's key (an instant in ms, or a key of
    store's), t0 and t1 the times of its first and last point, `cover` the time its values
    hold inside it (t1 - t0, less the gaps cut at a carry limit)."""

    start: np.ndarray
    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    min: np.ndarray
    max: np.ndarray
    sum: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    v0: np.ndarray
    v1: np.ndarray
    area: np.ndarray
    cover: np.ndarray
    gap: np.ndarray
    resets: np.ndarray
    drop_lo: np.ndarray
    drop_hi: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    def take(self, index: np.ndarray | slice) -> Partials:
        return Partials(*(column[index] for column in self._columns()))

    def _columns(self) -> tuple[np.ndarray, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    @property
    def known(self) -> np.ndarray:
        """Whether the order fields are known (see the module's docstring)."""
        return ~(np.isnan(self.area) | np.isnan(self.resets))

    @staticmethod
    def empty() -> Partials:
        return Partials.of_points(*(np.empty(0, dtype=np.int64),) * 2, np.empty(0))

    @staticmethod
    def concat(parts: list[Partials]) -> Partials:
        if not parts:
            return Partials.empty()
        return Partials(
            *(np.concatenate(cols) for cols in zip(*(p._columns() for p in parts), strict=True))
        )

    @staticmethod
    def of_points(keys: np.ndarray, t: np.ndarray, v: np.ndarray) -> Partials:
        """Each point (time t, value v) as a partial of its own (n = 1), keyed by `keys`."""
        zero = np.zeros(len(v), dtype=np.float64)
        none = np.zeros(len(v), dtype=np.int64)
        infinite = np.full(len(v), np.inf)
        n = np.ones(len(v), dtype=np.int64)
        return Partials(
            keys, n, v, zero, v, v, v, t, t, v, v, zero, none, none, zero, infinite, zero
        )


def _runs(keys: np.ndarray) -> np.ndarray:
    """Where each run of equal keys starts (keys sorted)."""
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])


def _pairs(values: np.ndarray, same: np.ndarray, pad: float) -> np.ndarray:
    """Values of the pairs (i, i + 1) of the same group at i, `pad` elsewhere, one per row: a
    reduceat over a group then covers the pairs between its rows."""
    return np.r_[np.where(same, values, pad), pad]


def of_groups(keys: np.ndarray, t: np.ndarray, values: np.ndarray) -> Partials:
    """The partials of the points (t, values) grouped by `keys` (sorted, and t sorted within
    each group), computed with two passes."""
    if len(keys) == 0:
        return Partials.empty()
    first = _runs(keys)
    last = np.r_[first[1:], len(keys)] - 1
    n = np.diff(np.r_[first, len(keys)])
    total = np.add.reduceat(values, first)
    mean = total / n
    deviation = values - np.repeat(mean, n)
    same = keys[1:] == keys[:-1]
    dt = t[1:] - t[:-1]
    drop = values[:-1] - values[1:]
    falls = same & (drop > 0)
    return Partials(
        start=keys[first],
        n=n,
        mean=mean,
        m2=np.add.reduceat(deviation * deviation, first),
        min=np.minimum.reduceat(values, first),
        max=np.maximum.reduceat(values, first),
        sum=total,
        t0=t[first],
        t1=t[last],
        v0=values[first],
        v1=values[last],
        area=np.add.reduceat(_pairs(values[:-1] * dt, same, 0.0), first),
        cover=t[last] - t[first],
        gap=np.maximum.reduceat(_pairs(dt, same, 0), first),
        resets=np.add.reduceat(_pairs(values[:-1], falls, 0.0), first),
        drop_lo=np.minimum.reduceat(_pairs(drop, falls, np.inf), first),
        drop_hi=np.maximum.reduceat(_pairs(drop, falls, 0.0), first),
    )


def merge(
    keys: np.ndarray, parts: Partials, threshold: float = 0.0, carry: int | None = None
) -> Partials:
    """Partials of the same key (sorted; each key's partials in time order) combined into one
    per key. Between two partials, a decrease of more than `threshold` is a reset, and the
    value held counts for at most `carry` ms (no limit: None)."""
    if len(keys) == 0:
        return Partials.empty()
    first = _runs(keys)
    last = np.r_[first[1:], len(keys)] - 1
    n = np.add.reduceat(parts.n, first)
    mean = np.add.reduceat(parts.n * parts.mean, first) / n
    deviation = parts.mean - np.repeat(mean, np.diff(np.r_[first, len(keys)]))
    same = keys[1:] == keys[:-1]
    dt = parts.t0[1:] - parts.t1[:-1]
    held = dt if carry is None else np.minimum(dt, carry)
    before = parts.v1[:-1]
    drop = before - parts.v0[1:]
    falls = same & (drop > threshold)
    return Partials(
        start=keys[first],
        n=n,
        mean=mean,
        m2=np.add.reduceat(parts.m2, first) + np.add.reduceat(parts.n * deviation**2, first),
        min=np.minimum.reduceat(parts.min, first),
        max=np.maximum.reduceat(parts.max, first),
        sum=np.add.reduceat(parts.sum, first),
        t0=parts.t0[first],
        t1=parts.t1[last],
        v0=parts.v0[first],
        v1=parts.v1[last],
        area=np.add.reduceat(parts.area, first)
        + np.add.reduceat(_pairs(before * held, same, 0.0), first),
        cover=np.add.reduceat(parts.cover, first) + np.add.reduceat(_pairs(held, same, 0), first),
        gap=np.maximum(
            np.maximum.reduceat(parts.gap, first), np.maximum.reduceat(_pairs(dt, same, 0), first)
        ),
        resets=np.add.reduceat(parts.resets, first)
        + np.add.reduceat(_pairs(before, falls, 0.0), first),
        drop_lo=np.minimum(
            np.minimum.reduceat(parts.drop_lo, first),
            np.minimum.reduceat(_pairs(drop, falls, np.inf), first),
        ),
        drop_hi=np.maximum(
            np.maximum.reduceat(parts.drop_hi, first),
            np.maximum.reduceat(_pairs(drop, falls, 0.0), first),
        ),
    )


def merge_sorted(
    parts: Partials, starts: np.ndarray, threshold: float = 0.0, carry: int | None = None
) -> Partials:
    """Partials regrouped by `starts` (one per partial, in any order; those of a group disjoint
    in time), as merge."""
    t0 = parts.t0
    if not np.all((starts[1:] > starts[:-1]) | ((starts[1:] == starts[:-1]) & (t0[1:] > t0[:-1]))):
        order = np.lexsort((t0, starts))
        parts, starts = parts.take(order), starts[order]
    return merge(starts, parts, threshold, carry)


def usable(parts: Partials, aggregation: str, threshold: float, carry: int | None) -> np.ndarray:
    """Which partials can answer `aggregation` as they are (the others' points are read)."""
    if aggregation in STATISTICS:
        return np.ones(len(parts), dtype=bool)
    known = parts.known
    if aggregation == "delta":  # every decrease a reset, or none
        return known & ((parts.drop_hi <= threshold) | (parts.drop_lo > threshold))
    if aggregation == "twa" and carry is not None:
        return known & (parts.gap <= carry)
    return known


def settle(parts: Partials, threshold: float) -> Partials:
    """Usable partials (for delta) with only the resets above `threshold` left."""
    settled = parts.take(slice(None))
    settled.resets = np.where(parts.drop_hi <= threshold, 0.0, parts.resets)
    return settled


def value(parts: Partials, aggregation: str) -> np.ndarray:
    """One aggregation of each group (not delta nor twa: see `increase`, `time_weighted`); NaN
    where it is undefined (var of one point)."""
    if aggregation == "avg":
        return parts.mean
    if aggregation == "min":
        return parts.min
    if aggregation == "max":
        return parts.max
    if aggregation == "count":
        return parts.n.astype(np.float64)
    if aggregation == "sum":
        return parts.sum
    if aggregation == "first":
        return parts.v0
    if aggregation == "last":
        return parts.v1
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = np.where(parts.n > 1, np.maximum(parts.m2, 0.0) / (parts.n - 1), np.nan)
    assert aggregation in ("var", "stdev"), aggregation
    return variance if aggregation == "var" else np.sqrt(variance)


def _previous(buckets: Partials, prior: tuple[int, float] | None) -> tuple[np.ndarray, ...]:
    """Each bucket's previous point (the last of the bucket before, or `prior` for the first),
    as times, values and whether there is one."""
    t = np.r_[prior[0] if prior else 0, buckets.t1[:-1]]
    v = np.r_[prior[1] if prior else np.nan, buckets.v1[:-1]]
    there = np.ones(len(buckets), dtype=bool)
    there[0] = prior is not None
    return t, v, there


def increase(buckets: Partials, prior: tuple[int, float] | None, threshold: float) -> np.ndarray:
    """delta of consecutive buckets (merged with `threshold`, resets settled), where `prior` is
    the series' last point (time, value) before the first bucket's first point, if any."""
    if not len(buckets):
        return np.empty(0)
    _, before, there = _previous(buckets, prior)
    v0 = buckets.v0
    step = np.where(before - v0 > threshold, v0, v0 - before)
    return buckets.v1 - v0 + buckets.resets + np.where(there, step, 0.0)


def time_weighted(
    buckets: Partials,
    ends: np.ndarray,
    prior: tuple[int, float] | None,
    start: int,
    end: int,
    carry: int | None,
) -> np.ndarray:
    """twa of consecutive buckets (merged with `carry`) that end at `ends`, over [start, end):
    each adds the value held into it from the point before (`prior` for the first) and the
    hold of its last point up to its end."""
    if not len(buckets):
        return np.empty(0)
    limit = np.iinfo(np.int64).max // 4 if carry is None else carry
    before_t, before_v, there = _previous(buckets, prior)
    head = np.minimum(before_t + limit, buckets.t0) - np.maximum(buckets.start, start)
    head = np.where(there, np.maximum(head, 0), 0)
    tail = np.minimum(np.minimum(buckets.t1 + limit, ends), end) - buckets.t1
    area = buckets.area + np.where(there, before_v, 0.0) * head + buckets.v1 * tail
    return area / (buckets.cover + head + tail)


def pack(parts: Partials, slots: np.ndarray, bases: np.ndarray) -> np.ndarray:
    """Partials as PACKED records: `slots` their index in their row, `bases` their start (ms)."""
    packed = np.empty(len(parts), dtype=PACKED)
    packed["slot"] = slots
    for name in ("n", "mean", "m2", "min", "max", "sum", "v0", "v1", "area", "resets"):
        packed[name] = getattr(parts, name)
    packed["drop_lo"], packed["drop_hi"] = parts.drop_lo, parts.drop_hi
    packed["t0"], packed["t1"] = parts.t0 - bases, parts.t1 - bases
    packed["gap"] = parts.gap
    return packed


def unpack(bases: list[int], blobs: list[bytes], step: int) -> Partials:
    """The partials of several packed rows, in time order (bases ascending); read-only views
    of the bytes."""
    if not blobs:
        return Partials.empty()
    rows = np.frombuffer(b"".join(blobs), dtype=PACKED)
    counts = [len(b) // PACKED.itemsize for b in blobs]
    base = np.repeat(np.asarray(bases, dtype=np.int64), counts)
    start = base + rows["slot"].astype(np.int64) * step
    t0 = start + rows["t0"].astype(np.int64)
    t1 = start + rows["t1"].astype(np.int64)
    return Partials(
        start=start,
        n=rows["n"],
        mean=rows["mean"],
        m2=rows["m2"],
        min=rows["min"],
        max=rows["max"],
        sum=rows["sum"],
        t0=t0,
        t1=t1,
        v0=rows["v0"],
        v1=rows["v1"],
        area=rows["area"],
        cover=t1 - t0,
        gap=rows["gap"].astype(np.int64),
        resets=rows["resets"],
        drop_lo=rows["drop_lo"],
        drop_hi=rows["drop_hi"],
    )
