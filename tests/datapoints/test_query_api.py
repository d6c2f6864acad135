"""PUT /api/v1/ca/{ca}/datapoints through the real server: the spec's request bodies (5.8.3,
7.1.1, 7.1.2) and answer shape, the ways of naming a series, several devices in one call,
every 400 of the issue, 404s, and paging (raw over 100,000 points, small pages, buckets).

Each test sends its points to devices of its own corporate account; the spec's own device (the
demo's Delphys GP2) is only read."""

from __future__ import annotations

import copy
import re
import statistics
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sodata.demo import ids
from tests.datapoints.wire import (
    API,
    CURRENT_L3,
    LOAD,
    SERIES_EXTRAS,
    SPEC_ANSWER_KEYS,
    SPEC_SERIES_KEYS,
    Account,
    error,
    iso,
    ms,
    ok,
    pairs,
    points,
    random_uuid,
    same_404,
)

AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
SOLINK = f"{API}/ca/{ids.SOLINK}"
GRANULARITIES = ("raw", "minute", "hour", "day", "week", "month", "year")
AGGREGATIONS = (
    *("avg", "min", "max", "count", "sum", "var", "stdev"),
    *("first", "last", "delta", "twa"),
)


@pytest.fixture(scope="module")
def account(api: httpx.Client) -> Iterator[Account]:
    account = Account.create(api)
    yield account
    account.close()


def assert_spec_shape(answer: dict[str, Any], aggregated: bool = False) -> None:
    assert set(answer) == SPEC_ANSWER_KEYS, answer.keys()
    for series in answer["series"]:
        keys = set(series)
        assert SPEC_SERIES_KEYS <= keys <= SPEC_SERIES_KEYS | SERIES_EXTRAS, keys
        assert ("aggregation" in keys) == aggregated
        for point in series["data"]:
            assert set(point) == {"at", "value"}, point
            assert AT.match(point["at"]), point


# --- the spec's bodies ------------------------------------------------------------------------

# 5.8.3: the request body, and the points of its answer ("partially")
SPEC_5_8_3 = {
    "from": "2022-05-18T00:00:00Z",
    "to": "2022-05-19T00:00:00Z",
    "timezone": "UTC",
    "useDeviceLocalTimezone": False,
    "granularity": "raw",
    "series": [
        {
            "deviceUuid": str(ids.DELPHYS_GP2),
            "itemType": "Global",
            "itemIndex": "0",
            "serviceId": "140100",
        }
    ],
}
SPEC_5_8_3_DATA = [
    {"at": "2022-05-18T00:05:05Z", "value": 4},
    {"at": "2022-05-18T00:10:14Z", "value": 4},
    {"at": "2022-05-18T00:15:23Z", "value": 4},
    {"at": "2022-05-18T00:20:37Z", "value": 4},
]
# 7.1.1 and 7.1.2
SPEC_7_1_1 = {
    "from": "2021-09-20T07:47:26.724Z",
    "to": "2021-09-21T14:47:26.724Z",
    "timezone": "UTC",
    "useDeviceLocalTimezone": True,
    "granularity": "raw",
    "series": [
        {
            "deviceUuid": str(ids.DELPHYS_GP2),
            "itemType": "Global",
            "itemIndex": "0",
            "serviceId": "140100",
        }
    ],
}
SPEC_7_1_2 = copy.deepcopy(SPEC_7_1_1)
SPEC_7_1_2["granularity"] = "day"
SPEC_7_1_2["series"][0]["aggregation"] = "avg"


def on(body: dict[str, Any], device: str) -> dict[str, Any]:
    """The spec's body for another device."""
    body = copy.deepcopy(body)
    body["series"][0]["deviceUuid"] = device
    return body


def test_spec_5_8_3_on_the_spec_device(api: httpx.Client) -> None:
    """The spec's body, verbatim, on the demo's Delphys GP2: the spec's answer shape, a day of
    the demo history, in order."""
    answer = ok(api.put(f"{SOLINK}/datapoints", json=SPEC_5_8_3))
    assert_spec_shape(answer)
    assert {k: answer[k] for k in SPEC_ANSWER_KEYS - {"series"}} == {
        k: SPEC_5_8_3[k] for k in SPEC_ANSWER_KEYS - {"series"}
    }
    (series,) = answer["series"]
    assert (series["itemType"], series["itemIndex"], series["serviceId"]) == (
        "Global",
        "0",
        "140100",
    )
    assert series["deviceUuid"] == str(ids.DELPHYS_GP2)
    assert (series["dataType"], series["deviceTimeZone"]) == ("number", "Europe/Paris")
    times = [at for at, _ in pairs(series)]
    assert len(times) > 100 and times == sorted(set(times))
    assert ms("2022-05-18T00:00:00Z") <= times[0] and times[-1] < ms("2022-05-19T00:00:00Z")
    assert all(isinstance(p["value"], int | float) for p in series["data"])


def test_spec_5_8_3_answers_the_spec_points(account: Account) -> None:
    """The spec's four points sent to an own device come back as the spec prints them: "Z"
    times without milliseconds, whole numbers as integers; from inclusive, to exclusive."""
    device = account.device()
    edges = [
        {"at": "2022-05-17T23:59:59.999Z", "value": 1},
        {"at": "2022-05-18T00:00:00Z", "value": 2.5},
        {"at": "2022-05-18T23:59:59.250Z", "value": -3},
        {"at": "2022-05-19T00:00:00Z", "value": 5},
    ]
    answer = account.sent(device, [{"mappingConfig": LOAD, "data": SPEC_5_8_3_DATA + edges}])
    assert (answer["accepted"], answer["rejected"]) == (8, 0)
    got = ok(account.api.put(f"{account.base}/datapoints", json=on(SPEC_5_8_3, device)))
    assert_spec_shape(got)
    (series,) = got["series"]
    assert series["data"] == [
        {"at": "2022-05-18T00:00:00Z", "value": 2.5},
        *SPEC_5_8_3_DATA,
        {"at": "2022-05-18T23:59:59.250Z", "value": -3},
    ]
    assert all(type(p["value"]) is int for p in SPEC_5_8_3_DATA)
    assert type(series["data"][1]["value"]) is int  # 4, not 4.0
    variables = account.variables(device)
    assert series == {
        "itemType": "Global",
        "itemIndex": "0",
        "serviceId": "140100",
        "deviceUuid": device,
        "variableUuid": variables[LOAD],
        "mappingConfig": LOAD,
        "dataType": "number",
        "deviceTimeZone": "Europe/Paris",
        "unit": "PERCENT",
        "data": series["data"],
        "nextAfter": None,
    }


# Points around the edges of the spec's 7.1 window for a Europe/Paris device (UTC+2 then):
# from 07:47:26.724 and to 14:47:26.724 Paris time are 05:47:26.724Z and 12:47:26.724Z.
WINDOW_7_1 = [
    ("2021-09-20T05:47:26.723Z", 1),
    ("2021-09-20T05:47:26.724Z", 2),
    ("2021-09-20T05:48:04Z", 16),  # the spec's first point
    ("2021-09-20T21:59:59Z", 10),  # the last second of Sept 20 in Paris
    ("2021-09-20T22:00:00Z", 20),  # Paris midnight: Sept 21
    ("2021-09-21T12:47:26.723Z", 30),
    ("2021-09-21T12:47:26.724Z", 40),
    ("2021-09-21T14:47:26Z", 50),
]


@pytest.fixture(scope="module")
def spec_7_1_device(account: Account) -> str:
    device = account.device()
    data = [{"at": at, "value": value} for at, value in WINDOW_7_1]
    assert account.sent(device, [{"mappingConfig": LOAD, "data": data}])["accepted"] == 8
    return device


def test_spec_7_1_1_reads_from_and_to_on_the_device_clock(
    account: Account, spec_7_1_device: str
) -> None:
    answer = ok(account.api.put(f"{account.base}/datapoints", json=on(SPEC_7_1_1, spec_7_1_device)))
    assert_spec_shape(answer)
    assert answer["from"] == "2021-09-20T07:47:26.724Z" and answer["useDeviceLocalTimezone"]
    (series,) = answer["series"]
    assert series["deviceTimeZone"] == "Europe/Paris"
    assert series["data"] == [
        {"at": "2021-09-20T05:47:26.724Z", "value": 2},
        {"at": "2021-09-20T05:48:04Z", "value": 16},
        {"at": "2021-09-20T21:59:59Z", "value": 10},
        {"at": "2021-09-20T22:00:00Z", "value": 20},
        {"at": "2021-09-21T12:47:26.723Z", "value": 30},
    ]
    # the same body with useDeviceLocalTimezone false reads from and to in UTC
    in_utc = on(SPEC_7_1_1, spec_7_1_device) | {"useDeviceLocalTimezone": False}
    (series,) = ok(account.api.put(f"{account.base}/datapoints", json=in_utc))["series"]
    assert [p["value"] for p in series["data"]] == [10, 20, 30, 40, 50]


def test_spec_7_1_2_daily_average_in_the_device_days(
    account: Account, spec_7_1_device: str
) -> None:
    answer = ok(account.api.put(f"{account.base}/datapoints", json=on(SPEC_7_1_2, spec_7_1_device)))
    assert_spec_shape(answer, aggregated=True)
    assert answer["granularity"] == "day"
    (series,) = answer["series"]
    assert series["aggregation"] == "avg" and series["nextAfter"] is None
    # Paris days start at 22:00Z in September; the first holds only the points after from
    assert [p["at"] for p in series["data"]] == ["2021-09-19T22:00:00Z", "2021-09-20T22:00:00Z"]
    assert [p["value"] for p in series["data"]] == pytest.approx([28 / 3, 25])


def test_spec_7_1_bodies_on_the_spec_device(api: httpx.Client) -> None:
    """The demo history covers the spec's window: raw from 05:47:26.724Z on, and two days."""
    raw = ok(api.put(f"{SOLINK}/datapoints", json=SPEC_7_1_1))
    assert_spec_shape(raw)
    times = [at for at, _ in pairs(raw["series"][0])]
    assert times and times == sorted(times)
    assert ms("2021-09-20T05:47:26.724Z") <= times[0] < ms("2021-09-20T05:52:00Z")
    assert times[-1] < ms("2021-09-21T12:47:26.724Z")
    daily = ok(api.put(f"{SOLINK}/datapoints", json=SPEC_7_1_2))
    assert_spec_shape(daily, aggregated=True)
    assert [p["at"] for p in daily["series"][0]["data"]] == [
        "2021-09-19T22:00:00Z",
        "2021-09-20T22:00:00Z",
    ]


# --- naming series, several devices ------------------------------------------------------------


def test_a_series_may_be_named_four_ways(account: Account) -> None:
    device = account.device()
    variable = account.variables(device)[LOAD]
    data = points("2022-05-18T01:00:00Z", 5, values=[3, 1, 4, 1, 5])
    account.sent(device, [{"mappingConfig": LOAD, "data": data}])
    names = [
        {"deviceUuid": device, "itemType": "Global", "itemIndex": "0", "serviceId": "140100"},
        {"deviceUuid": device, "itemType": "Global", "itemIndex": 0, "serviceId": "140100"},
        {"deviceUuid": device, "mappingConfig": LOAD},
        {"deviceUuid": device, "variableUuid": variable},
        {"variableUuid": variable},
    ]
    answer = ok(account.query(names))
    assert_spec_shape(answer)
    assert len(answer["series"]) == len(names)
    for series in answer["series"]:
        assert series["data"] == [
            {"at": p["at"].replace(".000Z", "Z"), "value": p["value"]} for p in data
        ]
        assert (series["deviceUuid"], series["variableUuid"]) == (device, variable)
        assert (series["mappingConfig"], series["itemIndex"]) == (LOAD, "0")


def test_several_series_of_several_devices_in_one_call(account: Account) -> None:
    """Each series answers its own points, in the order asked; with useDeviceLocalTimezone
    each device's day is its own."""
    paris = account.device()
    new_york = account.device(site=account.new_site("America/New_York"))
    account.sent(
        paris,
        [
            {"mappingConfig": LOAD, "data": [{"at": "2022-05-17T22:30:00Z", "value": 1}]},
            {"mappingConfig": CURRENT_L3, "data": [{"at": "2022-05-18T21:59:00Z", "value": 2}]},
        ],
    )
    account.sent(
        new_york,
        [
            {
                "mappingConfig": LOAD,
                "data": [
                    {"at": "2022-05-18T03:30:00Z", "value": 3},  # 23:30 on May 17 in New York
                    {"at": "2022-05-18T04:30:00Z", "value": 4},
                    {"at": "2022-05-19T03:59:00Z", "value": 5},
                ],
            }
        ],
    )
    asked = [
        {"deviceUuid": new_york, "mappingConfig": LOAD},
        {"deviceUuid": paris, "mappingConfig": LOAD},
        {"deviceUuid": paris, "mappingConfig": CURRENT_L3},
    ]
    day = {"from": "2022-05-18T00:00:00", "to": "2022-05-19T00:00:00"}
    local = ok(account.query(asked, useDeviceLocalTimezone=True, **day))
    got = [(s["deviceUuid"], s["mappingConfig"], s["deviceTimeZone"]) for s in local["series"]]
    assert got == [
        (new_york, LOAD, "America/New_York"),
        (paris, LOAD, "Europe/Paris"),
        (paris, CURRENT_L3, "Europe/Paris"),
    ]
    assert [[p["value"] for p in s["data"]] for s in local["series"]] == [[4, 5], [1], [2]]
    # in UTC (the default zone) the same day is another window
    utc = ok(account.query(asked))
    assert [[p["value"] for p in s["data"]] for s in utc["series"]] == [[3, 4], [], [2]]
    # a zone for all: from and to are read in it, whatever the devices' zones
    tokyo = ok(account.query(asked, timezone="Asia/Tokyo"))
    assert tokyo["timezone"] == "Asia/Tokyo"
    assert [[p["value"] for p in s["data"]] for s in tokyo["series"]] == [[3, 4], [1], []]


def set_variable(account: Account, device: str, mapping: str, **settings) -> httpx.Response:
    variable = account.variables(device)[mapping]
    url = f"{account.base}/devices/{device}/variables/{variable}"
    return account.api.put(url, json=settings)


def test_every_aggregation_by_its_name(account: Account) -> None:
    device = account.device()
    ok(set_variable(account, device, LOAD, maxCarrySeconds=1800))
    data = [
        {"at": "2022-05-18T10:00:00Z", "value": 1},
        {"at": "2022-05-18T10:15:00Z", "value": 2},
        {"at": "2022-05-18T10:30:00Z", "value": 3},
        {"at": "2022-05-18T10:59:59.999Z", "value": 4},
        {"at": "2022-05-18T12:00:00Z", "value": 7},
    ]
    account.sent(device, [{"mappingConfig": LOAD, "data": data}])
    asked = [{"deviceUuid": device, "mappingConfig": LOAD, "aggregation": a} for a in AGGREGATIONS]
    answer = ok(account.query(asked, granularity="hour"))
    assert_spec_shape(answer, aggregated=True)
    expected = {
        "avg": [2.5, 7],
        "min": [1, 7],
        "max": [4, 7],
        "count": [4, 1],
        "sum": [10, 7],
        "var": [statistics.variance([1, 2, 3, 4]), None],
        "stdev": [statistics.stdev([1, 2, 3, 4]), None],
        "first": [1, 7],
        "last": [4, 7],
        "delta": [3, 3],  # 1 -> 4, then 4 -> 7
        # 1, 2 and 3 hold until the next point; 4 until the hour's end (1 ms); 7 for 30 minutes,
        # and nothing of 4 holds at 12:00 (30 minutes at most)
        "twa": [(900_000 * (1 + 2) + 3 * 1_799_999 + 4) / 3_600_000, 7],
    }
    for series in answer["series"]:
        assert [p["at"] for p in series["data"]] == ["2022-05-18T10:00:00Z", "2022-05-18T12:00:00Z"]
        values = [p["value"] for p in series["data"]]
        want = expected[series["aggregation"]]
        assert values[1] == want[1] and values[0] == pytest.approx(want[0]), series["aggregation"]
    assert [s["aggregation"] for s in answer["series"]] == list(AGGREGATIONS)
    assert type(answer["series"][3]["data"][0]["value"]) is int  # count 4, not 4.0


def test_a_variable_without_points_answers_no_data(account: Account) -> None:
    device = account.device()
    series = account.read({"deviceUuid": device, "mappingConfig": LOAD})
    assert (series["data"], series["nextAfter"]) == ([], None)
    series = account.read(
        {"deviceUuid": device, "mappingConfig": LOAD, "aggregation": "avg"}, granularity="year"
    )
    assert (series["data"], series["nextAfter"]) == ([], None)


# --- 400 and 404 ------------------------------------------------------------------------------


def _change(body: dict[str, Any], top: dict[str, Any], first: dict[str, Any]) -> dict[str, Any]:
    """`body` with `top` set on it and `first` on its first series (DROP: the key removed)."""
    body = copy.deepcopy(body)
    for target, changes in ((body, top), (body["series"][0], first)):
        for key, value in changes.items():
            if value is DROP:
                target.pop(key, None)
            else:
                target[key] = value
    return body


DROP = object()
NO_NAME = {"itemType": DROP, "itemIndex": DROP, "serviceId": DROP}
# (case, top-level changes, changes of series[0], words the message must hold)
BAD_QUERIES = [
    ("aggregation with raw", {}, {"aggregation": "avg"}, ["series[0].aggregation", "raw"]),
    (
        "no aggregation",
        {"granularity": "hour"},
        {},
        ["series[0].aggregation", "hour", *AGGREGATIONS],
    ),
    ("unknown granularity", {"granularity": "second"}, {}, ["granularity", *GRANULARITIES]),
    (
        "unknown aggregation",
        {"granularity": "day"},
        {"aggregation": "median"},
        ["aggregation", "median", *AGGREGATIONS],
    ),
    ("from = to", {"to": "2022-05-18T00:00:00Z"}, {}, ["from", "before to"]),
    ("from > to", {"to": "2022-05-17T00:00:00Z"}, {}, ["from", "before to"]),
    ("unparsable from", {"from": "yesterday"}, {}, ["from", "yesterday", "ISO 8601"]),
    ("unparsable to", {"to": "2022-13-01T00:00:00Z"}, {}, ["to:", "2022-13-01", "ISO 8601"]),
    ("unknown timezone", {"timezone": "Mars/Olympus"}, {}, ["timezone", "Mars/Olympus", "IANA"]),
    ("no such variable", {}, {"serviceId": "999999"}, ["series[0]", "Global|0|999999"]),
    (
        "malformed mappingConfig",
        {},
        {**NO_NAME, "mappingConfig": "Global|x"},
        ["series[0].mappingConfig", "Global|x", "Item|Index|Service"],
    ),
    (
        "no variable named",
        {},
        NO_NAME,
        ["series[0]", "itemType", "itemIndex", "serviceId", "mappingConfig", "variableUuid"],
    ),
    ("half a name", {}, {"serviceId": DROP}, ["series[0]", "serviceId", "mappingConfig"]),
    ("itemIndex not an index", {}, {"itemIndex": "first"}, ["series[0].itemIndex", "first"]),
    ("no device", {}, {"deviceUuid": DROP}, ["series[0].deviceUuid", "variableUuid"]),
    ("malformed device", {}, {"deviceUuid": "Delphys"}, ["deviceUuid", "UUID"]),
    ("take 0", {"take": 0}, {}, ["take", "1"]),
    ("take over the maximum", {"take": 100_001}, {}, ["take", "100000"]),
    ("no series", {"series": []}, {}, ["series"]),
    ("unknown field", {"granularite": "raw"}, {}, ["granularite", "not a known field"]),
    ("unknown series field", {}, {"agregation": "avg"}, ["agregation", "not a known field"]),
    ("missing from", {"from": DROP}, {}, ["from", "required"]),
    ("unparsable after", {}, {"after": "then"}, ["series[0].after", "then"]),
]


@pytest.mark.parametrize(
    ("top", "first", "words"), [c[1:] for c in BAD_QUERIES], ids=[c[0] for c in BAD_QUERIES]
)
def test_a_bad_query_is_a_400_naming_the_field(
    account: Account, top: dict[str, Any], first: dict[str, Any], words: list[str]
) -> None:
    body = _change(on(SPEC_5_8_3, account.device()), top, first)
    message = error(account.api.put(f"{account.base}/datapoints", json=body), 400)
    missing = [word for word in words if word not in message]
    assert not missing, f"{message!r} lacks {missing}"


def test_too_many_series_is_a_400(account: Account) -> None:
    device = account.device()
    body = on(SPEC_5_8_3, device)
    body["series"] = body["series"] * 100
    assert len(ok(account.api.put(f"{account.base}/datapoints", json=body))["series"]) == 100
    body["series"] = body["series"] + body["series"][:1]
    message = error(account.api.put(f"{account.base}/datapoints", json=body), 400)
    assert message.startswith("series:") and "100" in message, message


def test_a_variable_of_another_device_is_a_400(account: Account) -> None:
    device, other = account.device(), account.device()
    body = on(SPEC_5_8_3, device)
    body["series"][0] = {"deviceUuid": device, "variableUuid": account.variables(other)[LOAD]}
    message = error(account.api.put(f"{account.base}/datapoints", json=body), 400)
    assert "series[0]" in message and device in message


def test_unknown_devices_and_variables_are_404(account: Account, api: httpx.Client) -> None:
    random = random_uuid()
    url = f"{account.base}/datapoints"

    def by_device(device: str) -> httpx.Response:
        return api.put(url, json=on(SPEC_5_8_3, device))

    def by_variable(variable: str) -> httpx.Response:
        return api.put(url, json=on(SPEC_5_8_3, "") | {"series": [{"variableUuid": variable}]})

    assert error(by_device(random), 404) == f"Device {random} not found"
    assert error(by_variable(random), 404) == f"Variable {random} not found"
    # objects of another corporate account are unknown here, with the same answer
    same_404(by_device(str(ids.DELPHYS_GP2)), by_device(random), str(ids.DELPHYS_GP2), random)
    overload = str(ids.MASTERYS_OVERLOAD_VARIABLE)
    same_404(by_variable(overload), by_variable(random), overload, random)
    # a series of an unknown device among good ones: the whole call is a 404
    device = account.device()
    body = on(SPEC_5_8_3, device)
    body["series"].append({"deviceUuid": random, "mappingConfig": LOAD})
    assert error(api.put(url, json=body), 404) == f"Device {random} not found"
    # an unknown account
    assert api.put(f"{API}/ca/{random}/datapoints", json=SPEC_5_8_3).status_code == 404


# --- paging -----------------------------------------------------------------------------------


def test_raw_pages_of_100000_points(account: Account) -> None:
    """120,000 points of one series: 100,000 in the first answer, the rest after nextAfter,
    every point once and in order."""
    device = account.device()
    start, total = ms("2022-06-01T00:00:00Z"), 120_000
    times = [start + i * 1000 for i in range(total)]
    for half in (range(0, 60_000), range(60_000, total)):
        data = [{"at": iso(times[i]), "value": i} for i in half]
        assert account.sent(device, [{"mappingConfig": LOAD, "data": data}]) == {
            "accepted": len(half),
            "rejected": 0,
            "errors": [],
        }
    series = {"deviceUuid": device, "mappingConfig": LOAD}
    window = {"from": "2022-06-01T00:00:00Z", "to": "2022-06-03T00:00:00Z"}
    first = account.read(series, **window)
    assert len(first["data"]) == 100_000
    assert first["nextAfter"] is not None and ms(first["nextAfter"]) == times[99_999]
    second = account.read(series | {"after": first["nextAfter"]}, **window)
    assert len(second["data"]) == 20_000 and second["nextAfter"] is None
    got = pairs(first) + pairs(second)
    assert got == [(t, i) for i, t in enumerate(times)]


def test_small_raw_pages(account: Account) -> None:
    device = account.device()
    data = points("2022-05-18T06:00:00.500Z", 25, step_s=30)
    account.sent(device, [{"mappingConfig": LOAD, "data": data}])
    series: dict[str, Any] = {"deviceUuid": device, "mappingConfig": LOAD}
    pages, after = [], None
    while True:
        page = account.read(series | {"after": after} if after else series, take=10)
        pages.append(page["data"])
        after = page["nextAfter"]
        if after is None:
            break
        assert ms(after) == ms(page["data"][-1]["at"])
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [(ms(p["at"]), p["value"]) for page in pages for p in page] == [
        (ms(p["at"]), p["value"]) for p in data
    ]
    # a page that ends exactly on the last point: the next one is empty and final
    exact = account.read(series, take=25)
    assert len(exact["data"]) == 25 and exact["nextAfter"] is None


def test_bucket_pages(account: Account) -> None:
    """Hourly buckets, 7 per answer: each bucket once, whole (the cursor never cuts one)."""
    device = account.device()
    data = points("2022-05-18T00:00:00Z", 90, step_s=20 * 60)  # 3 points an hour for 30 h
    account.sent(device, [{"mappingConfig": LOAD, "data": data}])
    window = {"from": "2022-05-18T00:00:00Z", "to": "2022-05-20T00:00:00Z", "granularity": "hour"}
    for aggregation, expected in (("count", [3] * 30), ("avg", [3 * h + 1 for h in range(30)])):
        series: dict[str, Any] = {
            "deviceUuid": device,
            "mappingConfig": LOAD,
            "aggregation": aggregation,
        }
        got, sizes, after = [], [], None
        while True:
            page = account.read(series | {"after": after}, take=7, **window)
            got += pairs(page)
            sizes.append(len(page["data"]))
            after = page["nextAfter"]
            if after is None:
                break
        assert sizes == [7, 7, 7, 7, 2]
        hour = 3_600_000
        assert got == [(ms("2022-05-18T00:00:00Z") + h * hour, expected[h]) for h in range(30)]


def test_day_pages_across_a_dst_change(account: Account) -> None:
    """Paris days, one per answer, around the start of summer time (March 27, 2022: 23 h)."""
    device = account.device()
    data = points("2022-03-25T00:00:00Z", 24 * 5, step_s=3600)  # hourly, from 01:00 Paris
    account.sent(device, [{"mappingConfig": LOAD, "data": data}])
    window = {
        "from": "2022-03-25T00:00:00",
        "to": "2022-03-30T00:00:00",
        "timezone": "Europe/Paris",
        "granularity": "day",
    }
    series: dict[str, Any] = {"deviceUuid": device, "mappingConfig": LOAD, "aggregation": "count"}
    got, after = [], None
    while True:
        page = account.read(series | {"after": after}, take=1, **window)
        assert len(page["data"]) == 1
        got += page["data"]
        after = page["nextAfter"]
        if after is None:
            break
    assert got == [
        {"at": "2022-03-24T23:00:00Z", "value": 23},
        {"at": "2022-03-25T23:00:00Z", "value": 24},
        {"at": "2022-03-26T23:00:00Z", "value": 23},
        {"at": "2022-03-27T22:00:00Z", "value": 24},
        {"at": "2022-03-28T22:00:00Z", "value": 24},
    ]


def test_pages_of_several_series(account: Account) -> None:
    """Each series pages on its own: a complete one says nextAfter null."""
    device = account.device()
    account.sent(
        device,
        [
            {"mappingConfig": LOAD, "data": points("2022-05-18T01:00:00Z", 12)},
            {"mappingConfig": CURRENT_L3, "data": points("2022-05-18T01:00:00Z", 3)},
        ],
    )
    asked = [
        {"deviceUuid": device, "mappingConfig": LOAD},
        {"deviceUuid": device, "mappingConfig": CURRENT_L3},
    ]
    answer = ok(account.query(asked, take=5))
    assert [len(s["data"]) for s in answer["series"]] == [5, 3]
    assert answer["series"][0]["nextAfter"] is not None and answer["series"][1]["nextAfter"] is None
    asked[0]["after"] = answer["series"][0]["nextAfter"]
    again = ok(account.query(asked, take=5))
    assert [p["value"] for p in again["series"][0]["data"]] == [5, 6, 7, 8, 9]


def test_the_variable_settings_of_delta_and_twa(account: Account) -> None:
    """counterResetThreshold tells a reset from noise; maxCarrySeconds cuts a held value; both
    are checked, and null brings the default back."""
    device = account.device()
    data = [
        {"at": "2022-05-18T10:00:00Z", "value": 100},
        {"at": "2022-05-18T10:10:00Z", "value": 98},  # 2 less: a reset by default
        {"at": "2022-05-18T10:20:00Z", "value": 110},
        {"at": "2022-05-18T12:00:00Z", "value": 120},
    ]
    account.sent(device, [{"mappingConfig": LOAD, "data": data}])

    def hourly(aggregation: str) -> list[float]:
        asked = [{"deviceUuid": device, "mappingConfig": LOAD, "aggregation": aggregation}]
        answer = ok(account.query(asked, granularity="hour"))
        return [p["value"] for p in answer["series"][0]["data"]]

    assert hourly("delta") == [98 + 12, 10]
    answer = ok(set_variable(account, device, LOAD, counterResetThreshold=5, maxCarrySeconds=600))
    assert (answer["counterResetThreshold"], answer["maxCarrySeconds"]) == (5, 600)
    assert hourly("delta") == [-2 + 12, 10]
    # 100, 98 and 110 hold 10 minutes each; 120 holds 10 minutes
    assert hourly("twa") == [pytest.approx((100 + 98 + 110) / 3), 120]
    ok(set_variable(account, device, LOAD, counterResetThreshold=None, maxCarrySeconds=None))
    assert hourly("delta") == [98 + 12, 10]
    for settings, field in (
        ({"counterResetThreshold": -1}, "counterResetThreshold"),
        ({"counterResetThreshold": "many"}, "counterResetThreshold"),
        ({"maxCarrySeconds": 0}, "maxCarrySeconds"),
        ({"maxCarrySeconds": 1.5}, "maxCarrySeconds"),
    ):
        message = error(set_variable(account, device, LOAD, **settings), 400)
        assert field in message, message
