"""Mergeable partial aggregates over columns: count, mean, M2, min, max and sum per group.

Any bucket's avg, min, max, count, sum, var and stdev follow from the partials of the pieces it
is made of. Groups are merged with the two-pass parallel formula (Chan et al.):

    n = sum n_i,  mean = sum n_i mean_i / n,  M2 = sum M2_i + sum n_i (mean_i - mean)^2

which adds squared deviations from means, never squares of the values themselves, so the
variance of 1e9 + noise keeps its digits.

Partials are packed many to a row (PACKED records; `unpack`): a UTC day's 15-minute slots, or its
hours. A year of a series is 365 rows of each, whatever the number of points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sodata.timeseries.calendar import MINUTE_MS

SLOT_MS = 15 * MINUTE_MS  # fine enough for every zone in use (:30 and :45 offsets)

PACKED = np.dtype(
    [
        ("slot", "<u2"),
        ("n", "<i8"),
        ("mean", "<f8"),
        ("m2", "<f8"),
        ("min", "<f8"),
        ("max", "<f8"),
        ("sum", "<f8"),
    ]
)


@dataclass
class Partials:
    """Columns of partial aggregates; `start` is each group's key (an instant, in ms)."""

    start: np.ndarray
    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    min: np.ndarray
    max: np.ndarray
    sum: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    def take(self, index: np.ndarray) -> Partials:
        return Partials(*(column[index] for column in self._columns()))

    def _columns(self) -> tuple[np.ndarray, ...]:
        return (self.start, self.n, self.mean, self.m2, self.min, self.max, self.sum)

    @staticmethod
    def empty() -> Partials:
        f = np.empty(0, dtype=np.float64)
        return Partials(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), f, f, f, f, f)

    @staticmethod
    def concat(parts: list[Partials]) -> Partials:
        if not parts:
            return Partials.empty()
        return Partials(
            *(np.concatenate(cols) for cols in zip(*(p._columns() for p in parts), strict=False))
        )

    @staticmethod
    def of_points(t: np.ndarray, v: np.ndarray) -> Partials:
        """Each point as a partial of its own (n = 1)."""
        zero = np.zeros(len(v), dtype=np.float64)
        return Partials(t, np.ones(len(v), dtype=np.int64), v, zero, v, v, v)


def _runs(keys: np.ndarray) -> np.ndarray:
    """Where each run of equal keys starts (keys sorted)."""
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])


def of_groups(keys: np.ndarray, values: np.ndarray) -> Partials:
    """The partials of `values` grouped by `keys` (sorted), computed with two passes."""
    if len(keys) == 0:
        return Partials.empty()
    first = _runs(keys)
    n = np.diff(np.r_[first, len(keys)])
    total = np.add.reduceat(values, first)
    mean = total / n
    deviation = values - np.repeat(mean, n)
    return Partials(
        start=keys[first],
        n=n,
        mean=mean,
        m2=np.add.reduceat(deviation * deviation, first),
        min=np.minimum.reduceat(values, first),
        max=np.maximum.reduceat(values, first),
        sum=total,
    )


def merge(keys: np.ndarray, parts: Partials) -> Partials:
    """Partials of the same key (sorted) combined into one per key."""
    if len(keys) == 0:
        return Partials.empty()
    first = _runs(keys)
    n = np.add.reduceat(parts.n, first)
    mean = np.add.reduceat(parts.n * parts.mean, first) / n
    deviation = parts.mean - np.repeat(mean, np.diff(np.r_[first, len(keys)]))
    return Partials(
        start=keys[first],
        n=n,
        mean=mean,
        m2=np.add.reduceat(parts.m2, first) + np.add.reduceat(parts.n * deviation**2, first),
        min=np.minimum.reduceat(parts.min, first),
        max=np.maximum.reduceat(parts.max, first),
        sum=np.add.reduceat(parts.sum, first),
    )


def merge_sorted(parts: Partials, starts: np.ndarray) -> Partials:
    """Partials regrouped by `starts` (one per partial, in any order)."""
    if np.all(starts[1:] >= starts[:-1]):
        return merge(starts, parts)
    order = np.argsort(starts, kind="stable")
    return merge(starts[order], parts.take(order))


def value(parts: Partials, aggregation: str) -> np.ndarray:
    """One aggregation of each group; NaN where it is undefined (var of one point)."""
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
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = np.where(parts.n > 1, np.maximum(parts.m2, 0.0) / (parts.n - 1), np.nan)
    return variance if aggregation == "var" else np.sqrt(variance)


def unpack(bases: list[int], blobs: list[bytes], step: int) -> Partials:
    """The partials of several packed rows, in time order (bases ascending); read-only views
    of the bytes."""
    if not blobs:
        return Partials.empty()
    rows = np.frombuffer(b"".join(blobs), dtype=PACKED)
    counts = [len(b) // PACKED.itemsize for b in blobs]
    base = np.repeat(np.asarray(bases, dtype=np.int64), counts)
    return Partials(
        start=base + rows["slot"].astype(np.int64) * step,
        n=rows["n"],
        mean=rows["mean"],
        m2=rows["m2"],
        min=rows["min"],
        max=rows["max"],
        sum=rows["sum"],
    )
