"""Property-based tests: on random points (times near DST changes, odd offsets, month and year
ends; duplicates; several batches), in a random zone, for a random granularity and a random
[from, to), every aggregation of the engine equals the brute force, and pages of any size
give the same buckets. SQLite and PostgreSQL."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.timeseries import brute
from tests.timeseries.brute import AGGREGATIONS, GRANULARITIES, utc

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/St_Johns",
    "America/Santiago",
    "America/Havana",
    "Africa/Monrovia",
    "Pacific/Apia",
]
# where the points gather: offset changes of the zones above, month and year ends
ANCHORS = [
    utc(text)
    for text in (
        "2024-03-31T01:00:00Z",  # Paris, spring
        "2024-10-27T01:00:00Z",  # Paris, autumn
        "2024-03-10T07:00:00Z",  # New York, spring
        "2024-11-03T06:00:00Z",  # New York, autumn
        "2023-04-01T15:00:00Z",  # Lord Howe, 30 minutes back
        "2023-09-30T15:30:00Z",  # Lord Howe, 30 minutes forward
        "2024-04-06T14:00:00Z",  # Chatham, 03:45 back to 02:45
        "2023-09-03T04:00:00Z",  # Santiago, no midnight
        "2023-11-05T05:00:00Z",  # Havana, midnight twice
        "1972-01-07T00:44:30Z",  # Monrovia, from -00:44:30 to UTC
        "2011-12-30T10:00:00Z",  # Apia, no 30 December
        "2024-02-29T18:30:00Z",  # a leap day ends in Kolkata
        "2024-12-31T23:00:00Z",  # a year ends in Paris
        "2023-02-28T23:59:59Z",
    )
]
SPREADS = [MINUTE_MS, 20 * MINUTE_MS, 3 * HOUR_MS, 2 * DAY_MS, 40 * DAY_MS, 400 * DAY_MS]


@st.composite
def scenarios(draw):
    """(zone, batches of (time, value), from, to): times gather around an anchor; the values
    are integers, floats, or large numbers with small noise."""
    anchor = draw(st.sampled_from(ANCHORS))
    spread = draw(st.sampled_from(SPREADS))
    offsets = st.integers(-spread, spread)
    on_marks = st.integers(-spread // MINUTE_MS, spread // MINUTE_MS).map(lambda m: m * MINUTE_MS)
    value = draw(
        st.sampled_from(
            [
                st.integers(-1000, 1000).map(float),
                st.floats(-1e6, 1e6).map(lambda x: round(x, 6)),  # no squares below 1e-308
                st.floats(-1, 1).map(lambda x: 1e9 + x),
            ]
        )
    )
    batch = st.lists(
        st.tuples(st.one_of(offsets, on_marks).map(lambda o: anchor + o), value),
        min_size=1,
        max_size=50,
    )
    batches = draw(st.lists(batch, min_size=1, max_size=3))
    zone = draw(st.sampled_from(ZONES))
    start = end = None
    if draw(st.booleans()):
        start = anchor + draw(st.integers(-spread - HOUR_MS, spread))
        end = start + draw(st.integers(1, 2 * spread + 2 * HOUR_MS))
    return ZoneInfo(zone), batches, start, end


def write_all(engine, batches) -> tuple[int, dict[int, float]]:
    vid = engine.variable()
    points: dict[int, float] = {}
    for batch in batches:
        engine.write(vid, batch)
        points.update(batch)  # the last value sent for a time wins
    return vid, points


@settings(max_examples=60, deadline=None, database=None)
@given(scenario=scenarios(), granularity=st.sampled_from(GRANULARITIES))
def test_every_aggregation_equals_the_brute_force(engine, scenario, granularity):
    tz, batches, start, end = scenario
    vid, points = write_all(engine, batches)
    span = {} if start is None else {"start": start, "end": end}
    grouped = brute.buckets(points, granularity, tz, start, end)
    for aggregation in AGGREGATIONS:
        got = engine.buckets(vid, granularity, aggregation, tz, **span)
        brute.assert_close(got, grouped, aggregation, f"{tz.key} {granularity}")
    raw, _ = engine.raw(vid, **span)
    assert raw == sorted((t, v) for t, v in points.items() if (start is None or start <= t < end))


@settings(max_examples=40, deadline=None, database=None)
@given(
    scenario=scenarios(),
    granularity=st.sampled_from(GRANULARITIES),
    aggregation=st.sampled_from(AGGREGATIONS),
    take=st.integers(1, 6),
)
def test_pages_hold_every_bucket_once(engine, scenario, granularity, aggregation, take):
    tz, batches, start, end = scenario
    vid, points = write_all(engine, batches)
    span = {} if start is None else {"start": start, "end": end}
    whole = engine.buckets(vid, granularity, aggregation, tz, **span)
    pages, after = [], None
    for _ in range(len(whole) + 1):
        page, after = engine.aggregate(
            vid, granularity, aggregation, tz, after=after, take=take, **span
        )
        assert len(page) <= take
        pages += page
        if after is None:
            break
        assert page and after == page[-1][0]
    assert after is None
    assert pages == whole
    raw_pages, after = [], None
    while True:
        page, after = engine.raw(vid, after=after, take=take, **span)
        raw_pages += page
        if after is None:
            break
    assert raw_pages == engine.raw(vid, **span)[0]
