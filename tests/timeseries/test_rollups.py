"""Overwrites and late data: after every batch, the stored rollups (the 15-minute slot partials
n, mean, M2, min, max, sum) equal a recomputation from the raw table, the raw table holds the
last value sent for each time, and every aggregate equals the brute force over those points
(so no point is ever counted twice). SQLite and PostgreSQL."""

from __future__ import annotations

import random
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.timeseries import brute
from tests.timeseries.brute import AGGREGATIONS, GRANULARITIES, utc

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
PARIS = ZoneInfo("Europe/Paris")
DAY = utc("2024-05-06T00:00:00Z")


def values(times, seed: int) -> dict[int, float]:
    rng = random.Random(seed)
    return {t: round(rng.uniform(-100, 100), 2) for t in times}


class Model:
    """The engine under test and what its raw table must hold: each time's last value."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.vid = engine.variable()
        self.points: dict[int, float] = {}

    def send(self, batch: dict[int, float] | list[tuple[int, float]]) -> None:
        self.engine.write(self.vid, batch)
        self.points.update(batch if isinstance(batch, dict) else dict(batch))

    def check(self, granularities=GRANULARITIES, tz=PARIS) -> None:
        raw = self.engine.assert_rollups_match_raw(self.vid)
        assert raw == self.points
        for granularity in granularities:
            grouped = brute.buckets(self.points, granularity, tz)
            for aggregation in AGGREGATIONS:
                got = self.engine.buckets(self.vid, granularity, aggregation, tz)
                brute.assert_close(got, grouped, aggregation, f"{granularity}")
        assert sum(n for _, n in self.engine.buckets(self.vid, "year", "count", tz)) == len(
            self.points
        ), "each time counts once"


def test_points_sent_again_with_new_values_replace_the_old_ones(engine):
    model = Model(engine)
    times = range(DAY, DAY + DAY_MS, 37_000)
    model.send(values(times, 1))
    model.check()
    model.send(values(times, 2))  # every point again
    model.check()
    model.send(values(times[100:900:3], 3))  # some of them again
    model.check(granularities=("minute", "hour", "day"))
    model.send({times[5]: 1e9})  # one of them, with a value that moves every statistic
    model.check(granularities=("hour", "day"))


def test_late_points_between_stored_ones(engine):
    model = Model(engine)
    times = list(range(DAY, DAY + DAY_MS, 30_000))
    model.send(values(times[::2], 4))
    model.check(granularities=("hour", "day"))
    model.send(values(times[1::2], 5))  # every gap filled in one batch
    model.check()
    late = [t + 7_000 for t in times[:: len(times) // 40]]  # scattered late points
    model.send(values(late, 6))
    model.check(granularities=("minute", "hour", "day"))


def test_late_points_before_and_after_stored_ones_in_days_with_rollups(engine):
    """Batches around what is stored (no stored point between their first and last time):
    their partials merge with the stored slots of the same days and slots."""
    model = Model(engine)
    model.send(values(range(DAY + 10 * HOUR_MS, DAY + 12 * HOUR_MS, 45_000), 7))
    model.send(values(range(DAY + 8 * HOUR_MS, DAY + 9 * HOUR_MS, 45_000), 8))  # before
    model.check(granularities=("hour", "day"))
    model.send(values(range(DAY + 12 * HOUR_MS, DAY + 13 * HOUR_MS, 50_000), 9))  # just after
    model.send(values(range(DAY + 9 * HOUR_MS + 1_000, DAY + 9 * HOUR_MS + 60_000, 3_000), 10))
    # in a slot that already holds points, after them (the slot of 10:00 to 10:15)
    model.send({DAY + 10 * HOUR_MS + 14 * MINUTE_MS + 59_000: 1e6})
    # and before them, in the slot of 08:00 (its first point was at 08:00:00)
    model.send({DAY + 7 * HOUR_MS + 59 * MINUTE_MS: -5.0})
    model.send({DAY + 8 * HOUR_MS + 1: 0.5})  # between two stored points
    model.check()


def test_a_batch_across_days_with_and_without_rollups(engine):
    """One batch over a week: overwrites in days that have rollups, new points in days that
    have none, days left out in between."""
    model = Model(engine)
    for day in (1, 3, 5):
        model.send(values(range(DAY + day * DAY_MS, DAY + (day + 1) * DAY_MS, 600_000), day))
    model.check(granularities=("day", "week"))
    batch = {}
    for day in (0, 1, 2, 4, 5, 6):  # day 3 untouched: the batch holds two runs of days
        first = DAY + day * DAY_MS
        batch |= values(range(first + 300_000, first + DAY_MS, 1_200_000), 10 + day)  # new
        batch |= values(range(first, first + DAY_MS, 3_600_000), 20 + day)  # some resent
    model.send(batch)
    model.check()


def test_times_sent_twice_in_one_batch_count_once(engine):
    model = Model(engine)
    t = DAY + 5 * HOUR_MS
    model.send([(t, 1.0), (t + 1, 2.0), (t, 3.0), (t + 2, 4.0), (t + 1, 5.0)])
    assert model.points == {t: 3.0, t + 1: 5.0, t + 2: 4.0}
    model.check(granularities=("minute", "day"))
    assert engine.buckets(model.vid, "hour", "sum", PARIS) == [(t, 12.0)]
    model.send([(t + 2, 10.0), (t + 3, 1.0), (t + 2, 20.0)])
    assert engine.buckets(model.vid, "hour", "count", PARIS) == [(t, 4)]
    assert engine.buckets(model.vid, "hour", "sum", PARIS) == [(t, 29.0)]
    model.check(granularities=("hour",))


def test_a_mixture_of_everything(engine):
    model = Model(engine)
    rng = random.Random(2024)
    for _ in range(12):
        first = DAY + rng.randrange(0, 10 * DAY_MS)
        step = rng.choice([1_000, 17_000, 300_000, 3_600_000])
        count = rng.randrange(1, 400)
        times = [first + i * step + rng.randrange(0, 3) * 1000 for i in range(count)]
        times += rng.sample(sorted(model.points), min(len(model.points), rng.randrange(0, 50)))
        batch = [(t, round(rng.gauss(0, 1e3), 1)) for t in times]
        rng.shuffle(batch)
        model.send(batch)
        model.engine.assert_rollups_match_raw(model.vid)
    model.check()


# --- random batches -------------------------------------------------------------------------

point_times = st.integers(min_value=0, max_value=3 * DAY_MS).map(lambda x: DAY + x)
coarse_times = st.integers(min_value=0, max_value=3 * 24 * 12).map(lambda x: DAY + x * 300_000)
batches = st.lists(
    st.lists(
        st.tuples(
            st.one_of(point_times, coarse_times),
            st.one_of(
                st.integers(-1000, 1000).map(float),
                st.floats(-1e6, 1e6).map(lambda x: round(x, 6)),  # no squares below 1e-308
            ),
        ),
        min_size=1,
        max_size=40,
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40, deadline=None, database=None)
@given(sent=batches, reuse=st.randoms(use_true_random=False))
def test_random_batches_keep_rollups_equal_to_raw(engine, sent, reuse):
    """Random batches (times anywhere in three days or on 5-minute marks, so later batches
    often hit stored times; duplicates inside batches too): after each, the rollups are a
    recomputation from raw; at the end every aggregate is the brute force's."""
    model = Model(engine)
    for batch in sent:
        if model.points and reuse.random() < 0.5:  # resend some stored times
            again = reuse.sample(sorted(model.points), min(5, len(model.points)))
            batch = batch + [(t, round(reuse.uniform(-10, 10), 3)) for t in again]
        model.send(batch)
        engine.assert_rollups_match_raw(model.vid)
    model.check(granularities=("hour", "day"), tz=ZoneInfo("Asia/Kathmandu"))
