"""The `data` of a datapoints answer is written straight to bytes (datapoints/service._points,
timeseries/calendar.iso): it must be the JSON that plain dicts would give, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pytest

from sodata.datapoints.service import _points

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _reference(t: np.ndarray, v: np.ndarray) -> bytes:
    """The same answer built one point at a time with datetime and plain dicts."""
    data = []
    for ms, x in zip(t.tolist(), v.tolist(), strict=True):
        at = EPOCH + timedelta(milliseconds=ms)
        text = at.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ms % 1000:03d}" if ms % 1000 else "") + "Z"
        if x != x:
            value = None
        elif x == int(x) and abs(x) < 2**53:
            value = int(x)
        else:
            value = x
        data.append({"at": text, "value": value})
    return orjson.dumps(data)


@pytest.mark.parametrize("ordered", [True, False])
def test_points_are_the_json_of_plain_dicts(ordered: bool) -> None:
    rng = np.random.default_rng(5)
    n = 5000
    low, high = -2_208_988_800_000, 4_102_444_800_000  # 1900 to 2100
    t = rng.integers(low, high, n)
    t[: n // 2] -= t[: n // 2] % 1000  # half on whole seconds
    t[:10] = [
        0,
        -1,
        951_782_400_000,
        951_868_799_999,
        1_709_164_800_000,
        low,
        high - 1,
        86_399_999,
        1,
        999,
    ]  # epoch, leap days, day edges
    if ordered:
        t = np.sort(t)
        t[100:200] = t[100]  # runs of the same day and instant
    v = rng.normal(0, 1e6, n)
    v[::3] = np.round(v[::3])  # whole numbers: integers
    v[::7] = np.nan  # null
    v[5:8] = [2.0**53, -(2.0**53) + 1, 1e300]
    assert bytes(orjson.dumps(_points(t, v))) == _reference(t, v)


def test_no_points_is_an_empty_array() -> None:
    empty = np.empty(0)
    assert orjson.dumps({"data": _points(empty.astype(np.int64), empty)}) == b'{"data":[]}'
